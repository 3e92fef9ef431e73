import uuid
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


def normalise_mrn(value: str) -> str:
    """MRNs are compared upper-case with surrounding and inner spaces removed."""
    return "".join(value.split()).upper()


class EditConflict(Exception):
    """Someone else saved the record after the editor loaded it."""

    def __init__(self, current: "Patient") -> None:
        super().__init__("The record was changed by someone else.")
        self.current = current


class PatientQuerySet(models.QuerySet["Patient"]):
    def active(self) -> "PatientQuerySet":
        return self.filter(archived_at__isnull=True)

    def archived(self) -> "PatientQuerySet":
        return self.filter(archived_at__isnull=False)

    def search(self, query: str) -> "PatientQuerySet":
        """Match an MRN prefix, or every word as a prefix of the given or family name."""
        words = query.replace(",", " ").split()
        if not words:
            return self
        by_name = Q()
        for word in words:
            by_name &= Q(family_name__istartswith=word) | Q(given_name__istartswith=word)
        return self.filter(by_name | Q(mrn__startswith=normalise_mrn(query)))


class Patient(models.Model):
    uuid = models.UUIDField("UUID", default=uuid.uuid4, unique=True, editable=False)
    mrn = models.CharField(
        "MRN", max_length=20, unique=True, help_text="Medical record number, unique in the clinic."
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=7, choices=Sex)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)

    # Optimistic locking: every save through `save_edit` bumps it; a stale editor is refused.
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    archive_reason = models.TextField(blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "mrn"]
        permissions = [("archive_patient", "Can archive and restore a patient record")]
        constraints = [
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=(
                    Q(archived_at__isnull=True, archive_reason="")
                    | (Q(archived_at__isnull=False) & ~Q(archive_reason=""))
                ),
                name="patient_archived_with_reason",
            ),
        ]
        indexes = [
            # The patient list: active patients in name order, a page at a time.
            models.Index(fields=["family_name", "given_name", "mrn"], name="patient_name_order"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    def get_absolute_url(self) -> str:
        return reverse("patients:detail", args=[self.uuid])

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def save_edit(self, *, expected_version: int) -> None:
        """Save the edited record unless someone else saved it since `expected_version`."""
        with transaction.atomic():
            current = Patient.objects.select_for_update().get(pk=self.pk)
            if current.version != expected_version:
                raise EditConflict(current)
            self.version = current.version + 1
            self.save()

    def archive(self, *, by: Any, reason: str) -> None:
        with transaction.atomic():
            current = Patient.objects.select_for_update().get(pk=self.pk)
            current.archived_at = timezone.now()
            current.archived_by = by
            current.archive_reason = reason
            current.version += 1
            current.save()

    def restore(self) -> None:
        with transaction.atomic():
            current = Patient.objects.select_for_update().get(pk=self.pk)
            current.archived_at = None
            current.archived_by = None
            current.archive_reason = ""
            current.version += 1
            current.save()


class PatientAccess(models.Model):
    """One opening of a patient's record by a user: the access log of product.md section 7."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="accesses")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    view = models.CharField(max_length=50, help_text="Which page showed the record.")

    class Meta:
        verbose_name = "patient record access"
        verbose_name_plural = "patient record accesses"
        ordering = ["-at"]
        indexes = [
            # Admin: who opened this patient's record, newest first.
            models.Index(fields=["patient", "-at"], name="patientaccess_patient_at"),
        ]

    def __str__(self) -> str:
        return f"{self.user} opened {self.patient.uuid} at {self.at:%Y-%m-%d %H:%M}"
