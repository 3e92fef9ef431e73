"""Patients answering their own questionnaires (issue 24): an invitation, made by a
clinician or staff member, reached through a one-time link with a random token.

The token is shown once, when the invitation is made (or sent again), and stored only as
its SHA-256: whoever reads the database cannot open a link. Before any question the
patient confirms their date of birth; five wrong tries lock the invitation. Answers are
kept as they are given, step by step, until the patient sends them; they become part of
the chart only when a clinician starts an assessment from them and saves it.
"""

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from patients.models import Assessment, Patient

TOKEN_BYTES = 32  # 256 bits, URL-safe base64: 43 characters
DEFAULT_EXPIRY_DAYS = 4
LONGEST_EXPIRY_DAYS = 30
DATE_OF_BIRTH_TRIES = 5
REMIND_AFTER = timedelta(days=2)  # one reminder, if the link was emailed and is unfinished


class InvitationClosed(Exception):
    """The link closed (revoked, sent, locked, replaced, expired) since it was read."""


class Questionnaire(models.TextChoices):
    GAD7 = "gad7", "GAD-7 (anxiety over the past two weeks)"
    SLEEP_LIFESTYLE = "sleep_lifestyle", "Sleep and lifestyle"
    LAST_DOSE = "last_dose", "When the last kratom dose was taken"
    IRLS = "irls", "IRLS (restless legs severity), in the clinic's licensed wording"


class InvitationStatus(models.TextChoices):
    SENT = "sent", "Sent"
    OPENED = "opened", "Opened"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted, awaiting review"
    REVIEWED = "reviewed", "Taken into an assessment"
    EXPIRED = "expired", "Expired"
    LOCKED = "locked", "Locked (date of birth wrong 5 times)"
    REVOKED = "revoked", "Revoked"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def awaiting_review(self) -> "InvitationQuerySet":
        return self.filter(submitted_at__isnull=False, assessment__isnull=True)

    def by_token(self, token: str) -> "Invitation | None":
        return self.select_related("patient").filter(token_hash=token_hash(token)).first()


class Invitation(models.Model):
    uuid = models.UUIDField("UUID", default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invitations")
    questionnaires = models.JSONField(help_text="Questionnaire codes, in the order asked.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    date_of_birth_failures = models.PositiveSmallIntegerField(default=0, editable=False)
    locked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    answers = models.JSONField(default=dict, blank=True, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    emailed_to = models.EmailField(blank=True, editable=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The assessment a clinician started from these answers and saved.
    assessment = models.OneToOneField(
        Assessment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invitation",
        editable=False,
    )

    history = HistoricalRecords(excluded_fields=["token_hash"])
    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_of_birth_failures__lte=DATE_OF_BIRTH_TRIES),
                name="invitation_tries_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation {self.uuid}"

    @classmethod
    def make(
        cls,
        *,
        patient: Patient,
        questionnaires: list[str],
        days: int = DEFAULT_EXPIRY_DAYS,
        by: User,
    ) -> tuple["Invitation", str]:
        """A new invitation and its token, which is not kept: show it now or never."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        invitation = cls.objects.create(
            patient=patient,
            questionnaires=questionnaires,
            token_hash=token_hash(token),
            created_by=by,
            expires_at=timezone.now() + timedelta(days=days),
        )
        return invitation, token

    @property
    def status(self) -> InvitationStatus:
        now = timezone.now()
        if self.assessment_id is not None:
            return InvitationStatus.REVIEWED
        if self.submitted_at:
            return InvitationStatus.SUBMITTED
        if self.revoked_at:
            return InvitationStatus.REVOKED
        if self.locked_at:
            return InvitationStatus.LOCKED
        if self.expires_at <= now:
            return InvitationStatus.EXPIRED
        if self.answers:
            return InvitationStatus.IN_PROGRESS
        return InvitationStatus.OPENED if self.opened_at else InvitationStatus.SENT

    @property
    def open(self) -> bool:
        """Whether the patient may still answer through it."""
        return self.status in (
            InvitationStatus.SENT,
            InvitationStatus.OPENED,
            InvitationStatus.IN_PROGRESS,
        )

    def mark_opened(self) -> None:
        """The first opening, by time only: opening is a read (a link may be opened any
        number of times), so it adds no history row; what the patient then does does."""
        if self.opened_at is None:
            self.opened_at = timezone.now()
            Invitation.objects.filter(pk=self.pk, opened_at__isnull=True).update(
                opened_at=self.opened_at
            )

    @contextmanager
    def while_open(self) -> Iterator["Invitation"]:
        """The invitation's row, locked, for a patient's write: refused (InvitationClosed)
        when it was revoked, sent, locked, sent again or expired since this copy was read,
        so that two tabs, or a revocation mid-way, never write past a closed link."""
        with transaction.atomic():
            current = Invitation.objects.select_for_update().get(pk=self.pk)
            if not current.open or current.token_hash != self.token_hash:
                raise InvitationClosed
            yield current
        for field in self._meta.concrete_fields:
            setattr(self, field.attname, getattr(current, field.attname))

    def check_date_of_birth(self, given: date) -> bool:
        """Whether `given` is the patient's; a wrong one counts, and the fifth locks."""
        with self.while_open() as current:
            if given == current.patient.date_of_birth:
                current.confirmed_at = current.confirmed_at or timezone.now()
                current.save(update_fields=["confirmed_at"])
                return True
            current.date_of_birth_failures += 1
            fields = ["date_of_birth_failures"]
            if current.date_of_birth_failures >= DATE_OF_BIRTH_TRIES:
                current.locked_at = timezone.now()
                fields.append("locked_at")
            current.save(update_fields=fields)
            return False

    def keep_answers(self, answers: dict[str, Any]) -> None:
        """The answers so far, kept until the patient sends them."""
        with self.while_open() as current:
            current.answers = answers
            current.save(update_fields=["answers"])

    def submit(self) -> None:
        with self.while_open() as current:
            current.submitted_at = timezone.now()
            current.save(update_fields=["submitted_at"])

    def remind(self) -> bool:
        """Whether to send its one reminder now: emailed, still open, not yet reminded."""
        if not self.emailed_to or self.reminded_at is not None or not self.open:
            return False
        self.reminded_at = timezone.now()
        self.save(update_fields=["reminded_at"])
        return True

    def revoke(self, *, by: User) -> None:
        self.revoked_at = timezone.now()
        self.revoked_by = by
        self.save(update_fields=["revoked_at", "revoked_by"])

    def resend(self, *, days: int = DEFAULT_EXPIRY_DAYS) -> str:
        """Send again: a new token (the old link stops working) and a new expiry, the
        answers so far kept; a locked invitation is unlocked (staff have checked who is
        asking). Returns the new token, to show once."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self.token_hash = token_hash(token)
        self.expires_at = timezone.now() + timedelta(days=days)
        self.date_of_birth_failures = 0
        self.locked_at = None
        self.save(update_fields=["token_hash", "expires_at", "date_of_birth_failures", "locked_at"])
        return token
