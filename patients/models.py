import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Self

from django.conf import settings
from django.contrib.auth.models import User
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format
from simple_history.models import HistoricalRecords

from patients.facts import (
    ENTERED_FACTS,
    FACT_BY_NAME,
    KRATOM_PRODUCTS,
    SEXES,
    age_in_years,
    derive_facts,
    hours_between,
)
from patients.scales import ITEMS, SCALES, Score, score_all


def normalise_mrn(value: str) -> str:
    """MRNs are compared upper-case with surrounding and inner spaces removed."""
    return "".join(value.split()).upper()


# Part of an MRN is looked for anywhere in it from three characters on (patients/0009's
# trigram index on PostgreSQL needs three).
MRN_INSIDE_MIN = 3
# A date of birth as typed in a search: the clinic's date formats (en-gb: 14/03/1988), ISO,
# and the app's own display ("14 Mar 1988").
BIRTH_DATE_FORMATS = ("%d %b %Y", "%d %B %Y")


def parse_date_of_birth(query: str) -> date | None:
    """The date `query` is, in a format a person types a date of birth in, or None."""
    text = " ".join(query.split())
    for format in (*get_format("DATE_INPUT_FORMATS"), *BIRTH_DATE_FORMATS):
        with suppress(ValueError):
            return datetime.strptime(text, format).date()  # noqa: DTZ007 (a date, no time)
    return None


class EditConflict(Exception):
    """Someone else saved the record after the editor loaded it (or recorded it meanwhile)."""

    def __init__(self, current: "Versioned") -> None:
        super().__init__("The record was changed by someone else.")
        self.current = current


class Versioned(models.Model):
    """A record changed by people who may work on it at the same moment.

    Every change goes through `locked`: the row is locked, the version the person saw is
    compared with the one saved, the change is made on the saved row, and the version
    moves on. So no change is ever made on top of a version its author did not see.
    """

    version = models.PositiveIntegerField(default=1, editable=False)
    history: Any  # each concrete model keeps its own HistoricalRecords

    class Meta:
        abstract = True

    @contextmanager
    def locked(self, *, expected_version: int | None = None) -> Iterator[Self]:
        """Lock this record's row and yield it as saved now, to be changed; on leaving the
        block it is saved as the next version and this instance takes its values.

        With `expected_version`, raises EditConflict (carrying the saved record) when
        someone else has saved since that version.
        """
        with transaction.atomic():
            current = type(self)._default_manager.select_for_update().get(pk=self.pk)
            if expected_version is not None and current.version != expected_version:
                raise EditConflict(current)
            yield current
            current.version += 1
            current.save()
        for field in self._meta.concrete_fields:
            setattr(self, field.attname, getattr(current, field.attname))

    def save_edit(self, *, expected_version: int | None, **changes: Any) -> None:
        """Save what a form changed on this instance (its editable fields), plus `changes`,
        unless someone else saved the record since `expected_version`. A missing version
        counts as a conflict: the editor cannot have seen the saved record."""
        edited = {
            field.attname: getattr(self, field.attname)
            for field in self._meta.concrete_fields
            if field.editable and not field.primary_key
        }
        with self.locked(expected_version=expected_version or 0) as current:
            for name, value in {**edited, **changes}.items():
                setattr(current, name, value)


class PatientQuerySet(models.QuerySet["Patient"]):
    def active(self) -> "PatientQuerySet":
        return self.filter(archived_at__isnull=True)

    def archived(self) -> "PatientQuerySet":
        return self.filter(archived_at__isnull=False)

    def search(self, query: str) -> "PatientQuerySet":
        """A date of birth ("14/03/1988", "1988-03-14", "14 Mar 1988") finds those born
        that day. Otherwise every word must begin the given or family name, and a single
        word may also be part of an MRN: its beginning, or anywhere in it once it holds a
        digit and three characters ("0042" finds "MRN-00421"; names hold no digits, so a
        name search never scans every MRN). Each branch can use an index (patients/0004,
        0009)."""
        born = parse_date_of_birth(query)
        if born is not None:
            return self.filter(date_of_birth=born).order_by(
                Lower("family_name"), Lower("given_name"), "mrn"
            )
        words = query.replace(",", " ").split()
        if not words:
            return self
        matches = Q()
        for word in words:
            matches &= Q(family_name__istartswith=word) | Q(given_name__istartswith=word)
        if len(words) == 1:
            mrn = normalise_mrn(words[0])
            inside = len(mrn) >= MRN_INSIDE_MIN and any(c.isdigit() for c in mrn)
            matches |= Q(mrn__contains=mrn) if inside else Q(mrn__startswith=mrn)
        # Case-insensitive order for the (few) matches. It also keeps PostgreSQL from
        # walking the whole name-order index in search of 25 matches: it reads them off
        # the prefix indexes and sorts them instead.
        return self.filter(matches).order_by(Lower("family_name"), Lower("given_name"), "mrn")


class Patient(Versioned):
    uuid = models.UUIDField("UUID", default=uuid.uuid4, unique=True, editable=False)
    mrn = models.CharField(
        "MRN", max_length=20, unique=True, help_text="Medical record number, unique in the clinic."
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=7, choices=SEXES)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)

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

    # The latest IRLS and COWS totals from assessments and follow-up re-scores, kept by
    # Patient.refresh_latest_scores so that the worklist can flag severe
    # patients without a subquery per row. Not part of the record's history.
    latest_irls_total = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    latest_cows_total = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=["updated_at", "latest_irls_total", "latest_cows_total"]
    )
    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "mrn"]
        permissions = [("archive_patient", "Can archive and restore a patient record")]
        constraints = [
            models.CheckConstraint(condition=Q(sex__in=list(SEXES)), name="patient_sex_valid"),
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
            # The search by date of birth.
            models.Index(fields=["date_of_birth"], name="patient_birth_date"),
            # The few archived patients, whose cards the review queue leaves out.
            models.Index(
                fields=["archived_at"],
                condition=Q(archived_at__isnull=False),
                name="patient_archived",
            ),
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

    @property
    def age(self) -> int:
        """Age today, in the clinic's time zone."""
        return age_in_years(self.date_of_birth, timezone.localdate())

    def latest_scores(self) -> dict[str, Score | None]:
        return {
            code: SCALES[code].score_of(getattr(self, f"latest_{code}_total"))
            for code in RESCORED_SCALES
        }

    @property
    def flagged_scores(self) -> list[Score]:
        """The latest totals in a scale's flagged bands ("IRLS severe", "COWS moderately
        severe"…), for the worklist to show in their band's colour."""
        return [
            score
            for score in self.latest_scores().values()
            if score is not None and score.is_flagged
        ]

    def archive(self, *, by: User, reason: str) -> None:
        """Archive the record; its open follow-ups are cancelled, with the reason."""
        with self.locked() as current:
            current.archived_at = timezone.now()
            current.archived_by = by
            current.archive_reason = reason
            for followup in FollowUp.objects.scheduled().filter(patient=current):
                # One recorded a moment ago by someone else stays as recorded.
                with suppress(EditConflict):
                    followup.cancel(by=by, reason=f"Patient record archived: {reason}")

    def restore(self) -> None:
        with self.locked() as current:
            current.archived_at = None
            current.archived_by = None
            current.archive_reason = ""

    def refresh_latest_scores(self) -> None:
        """Store the latest IRLS and COWS totals, from assessments and completed follow-up
        re-scores alike (a re-score counts at noon of its day: rescored_at)."""
        latest: dict[str, int | None] = {}
        for code in RESCORED_SCALES:
            field = f"{code}_total"
            measured: list[tuple[datetime, int]] = []
            assessment = (
                self.assessments.filter(**{f"{field}__isnull": False})
                .order_by("-assessed_at")
                .only("assessed_at", field)
                .first()
            )
            if assessment:
                measured.append((assessment.assessed_at, getattr(assessment, field)))
            followup = (
                self.followups.filter(
                    status=FollowUpStatus.COMPLETED, **{f"{field}__isnull": False}
                )
                .order_by("-happened_on")
                .only("happened_on", field)
                .first()
            )
            if followup and followup.happened_on:
                measured.append((rescored_at(followup.happened_on), getattr(followup, field)))
            latest[f"latest_{field}"] = max(measured)[1] if measured else None
        Patient.objects.filter(pk=self.pk).update(**latest)
        for name, value in latest.items():
            setattr(self, name, value)


class PatientAccess(models.Model):
    """One opening of a patient's record by a user: the access log of product.md section 7."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="accesses")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    view = models.CharField(max_length=50, help_text="Which page showed the record.")
    ehr_user = models.CharField(
        "EHR user",
        max_length=300,
        blank=True,
        help_text="For a CDS Hooks call (the user is then the EHR's account): the EHR user "
        "it was made for, as the EHR names them (context.userId).",
    )

    class Meta:
        verbose_name = "patient record access"
        verbose_name_plural = "patient record accesses"
        ordering = ["-at"]
        indexes = [
            # Admin: who opened this patient's record, newest first.
            models.Index(fields=["patient", "-at"], name="patientaccess_patient_at"),
        ]

    def __str__(self) -> str:
        at = timezone.localtime(self.at)
        return f"{self.user} opened {self.patient.uuid} at {at:%Y-%m-%d %H:%M}"

    @classmethod
    def record(cls, user: User, patient: Patient, view: str) -> None:
        cls.objects.create(user=user, patient=patient, view=view)


class PatientListAccess(models.Model):
    """One page of a list that showed patients' names or MRNs to a user: the patient list
    and its search, the worklist, the awaiting-review queue, the admin's lists and
    searches. One row a page, naming every patient on it (product.md section 7). The words
    searched for are not kept: the patients they found are."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    view = models.CharField(max_length=50, help_text="Which page listed the patients.")
    searched = models.BooleanField(default=False, help_text="The page answered a search.")
    patients = models.ManyToManyField(
        Patient, related_name="listed_in", through="ListAccessPatient"
    )

    class Meta:
        verbose_name = "patient list access"
        verbose_name_plural = "patient list accesses"
        ordering = ["-at"]

    def __str__(self) -> str:
        at = timezone.localtime(self.at)
        return f"{self.user} listed patients on {self.view} at {at:%Y-%m-%d %H:%M}"

    @classmethod
    def record(
        cls, user: User, patient_ids: Iterable[int], view: str, *, searched: bool = False
    ) -> None:
        """One row for the page, with each patient on it (two queries); nothing for a page
        that listed nobody."""
        ids = sorted(set(patient_ids))
        if not ids:
            return
        with transaction.atomic():
            entry = cls.objects.create(user=user, view=view, searched=searched)
            ListAccessPatient.objects.bulk_create(
                ListAccessPatient(access=entry, patient_id=patient_id) for patient_id in ids
            )


class ListAccessPatient(models.Model):
    """A patient a list page showed (PatientListAccess.patients)."""

    access = models.ForeignKey(PatientListAccess, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["access", "patient"], name="listaccesspatient_unique")
        ]
        indexes = [
            # Admin: on which lists this patient appeared.
            models.Index(fields=["patient", "access"], name="listaccesspatient_patient")
        ]

    def __str__(self) -> str:
        return f"Patient {self.patient_id} on list access {self.access_id}"


def _label(name: str) -> str:
    return FACT_BY_NAME[name].label


def measure(
    name: str, field_class: type[models.Field[Any, Any]] = models.FloatField, **options: Any
) -> Any:
    """A number of the fact table, with its label, unit and valid range from there."""
    fact = FACT_BY_NAME[name]
    return field_class(
        _label(name),
        null=True,
        blank=True,
        validators=[MinValueValidator(fact.minimum), MaxValueValidator(fact.maximum)],
        help_text=options.pop("help_text", fact.unit),
        **options,
    )


def flag(name: str, help_text: str = "") -> Any:
    """A yes/no fact of the table; unanswered is no (product.md section 4)."""
    return models.BooleanField(_label(name), default=False, help_text=help_text)


def item(key: str) -> Any:
    """One scale item's score, stored as given; its allowed values live in the registry."""
    return models.PositiveSmallIntegerField(ITEMS[key].label, null=True, blank=True)


def scale_constraints(*codes: str) -> list[models.CheckConstraint]:
    """Database checks for scale items: each value allowed for its item (from the
    registry), and each scale complete or absent."""
    checks = []
    for code in codes:
        scale = SCALES[code]
        checks += [
            models.CheckConstraint(
                condition=Q(**{f"{i.key}__in": i.allowed}) | Q(**{f"{i.key}__isnull": True}),
                name=f"%(class)s_{i.key}_allowed",
            )
            for i in scale.items
        ]
        checks.append(
            models.CheckConstraint(
                condition=Q(**{f"{key}__isnull": True for key in scale.keys})
                | Q(**{f"{key}__isnull": False for key in scale.keys}),
                name=f"%(class)s_{code}_complete_or_absent",
            )
        )
    return checks


# The scales a follow-up may re-score.
RESCORED_SCALES: tuple[str, ...] = ("irls", "cows")


def rescored_scales(kind: str) -> tuple[str, ...]:
    """The scales a follow-up of this kind may re-score. A phone call re-scores the IRLS
    only: the COWS is administered by a clinician who observes the patient (pulse, pupils,
    gooseflesh, tremor, yawning; clinical-reference.md 3.1), which needs them in the room."""
    return RESCORED_SCALES if kind == FollowUpKind.VISIT else ("irls",)


def rescored_at(happened_on: date) -> datetime:
    """When a follow-up's re-score counts, on the trend chart and as the "previous IRLS":
    noon of its day, in the clinic's time zone (a follow-up has a day, not a time)."""
    return timezone.make_aware(datetime.combine(happened_on, time(12)))


class ScaledItems(models.Model):
    """IRLS and COWS items, stored as given, as an assessment and a follow-up re-score
    both hold them. Totals are derived by the registry on every save; they are stored
    only so that lists, the worklist and the trend chart need not load every item."""

    SCALE_CODES: tuple[str, ...] = RESCORED_SCALES

    irls_1 = item("irls_1")
    irls_2 = item("irls_2")
    irls_3 = item("irls_3")
    irls_4 = item("irls_4")
    irls_5 = item("irls_5")
    irls_6 = item("irls_6")
    irls_7 = item("irls_7")
    irls_8 = item("irls_8")
    irls_9 = item("irls_9")
    irls_10 = item("irls_10")
    cows_pulse = item("cows_pulse")
    cows_sweating = item("cows_sweating")
    cows_restlessness = item("cows_restlessness")
    cows_pupils = item("cows_pupils")
    cows_aches = item("cows_aches")
    cows_runny_nose = item("cows_runny_nose")
    cows_gi_upset = item("cows_gi_upset")
    cows_tremor = item("cows_tremor")
    cows_yawning = item("cows_yawning")
    cows_anxiety = item("cows_anxiety")
    cows_gooseflesh = item("cows_gooseflesh")
    irls_total = models.PositiveSmallIntegerField(null=True, editable=False)
    cows_total = models.PositiveSmallIntegerField(null=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        for code, score in self.scores().items():
            setattr(self, f"{code}_total", score.total if score else None)
        super().save(*args, **kwargs)

    def item_values(self) -> dict[str, Any]:
        return {
            i.key: getattr(self, i.key) for code in self.SCALE_CODES for i in SCALES[code].items
        }

    def scores(self) -> dict[str, Score | None]:
        scores, _ = score_all(self.item_values())
        return {code: scores[code] for code in self.SCALE_CODES}

    def stored_scores(self) -> dict[str, Score | None]:
        """Scores from the stored totals, without the items (for lists and charts)."""
        return {
            code: SCALES[code].score_of(getattr(self, f"{code}_total")) for code in self.SCALE_CODES
        }


class AssessmentQuerySet(models.QuerySet["Assessment"]):
    def for_patient_page(self) -> "AssessmentQuerySet":
        return self.select_related("assessed_by").order_by("-assessed_at")


class Assessment(Versioned, ScaledItems):
    """One sitting: the entered facts of product.md section 4 and the scale items.

    Field names are the fact names. Derived facts are computed by patients.facts from
    these values, the patient's date of birth and sex, and the assessment time.
    """

    SCALE_CODES = ("irls", "cows", "gad7")

    uuid = models.UUIDField("UUID", default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    assessed_at = models.DateTimeField("Assessed at", default=timezone.now)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # Kratom use
    kratom_grams_per_day = measure("kratom_grams_per_day")
    kratom_doses_per_day = measure("kratom_doses_per_day", models.PositiveSmallIntegerField)
    kratom_use_months = measure("kratom_use_months", models.PositiveSmallIntegerField)
    kratom_product = models.CharField(
        _label("kratom_product"), max_length=12, choices=KRATOM_PRODUCTS, blank=True
    )
    last_dose_at = models.DateTimeField(
        _label("last_dose_at"), null=True, blank=True, help_text="Date and time, if known."
    )
    uses_other_opioids = flag("uses_other_opioids", "Non-prescribed opioids.")

    # IRLSSG essential criteria (clinical-reference.md 1.1) and the mimic screen (section 7)
    rls_urge_to_move = flag(
        "rls_urge_to_move",
        "Usually with unpleasant leg sensations, but the urge can come without them; "
        "arms may be involved too.",
    )
    rls_worse_at_rest = flag(
        "rls_worse_at_rest", "Starts or gets worse while sitting or lying, the more so the longer."
    )
    rls_relief_with_movement = flag(
        "rls_relief_with_movement",
        "Walking or stretching relieves it, at least while the movement goes on.",
    )
    rls_worse_evening = flag(
        "rls_worse_evening", "At rest it comes only, or is worse, in the evening or at night."
    )
    rls_not_explained_by_mimic = flag(
        "rls_not_explained_by_mimic",
        "No other condition below accounts for the symptoms on its own.",
    )
    rls_before_kratom = flag("rls_before_kratom", "Symptoms were there before kratom use began.")
    akathisia_suspected = flag(
        "akathisia_suspected",
        "Whole-body inner restlessness after a dopamine blocker or SSRI was started or raised.",
    )
    mimics = models.JSONField(
        "Mimics present",
        default=list,
        blank=True,
        help_text="Conditions found that can explain some of the symptoms.",
    )

    # GAD-7 (IRLS and COWS come from ScaledItems)
    gad7_1 = item("gad7_1")
    gad7_2 = item("gad7_2")
    gad7_3 = item("gad7_3")
    gad7_4 = item("gad7_4")
    gad7_5 = item("gad7_5")
    gad7_6 = item("gad7_6")
    gad7_7 = item("gad7_7")
    gad7_total = models.PositiveSmallIntegerField(null=True, editable=False)

    # Sleep and lifestyle
    sleep_hours_per_night = measure("sleep_hours_per_night")
    caffeine_mg_per_day = measure("caffeine_mg_per_day", models.PositiveSmallIntegerField)
    nicotine_use = flag("nicotine_use")
    alcohol_drinks_per_week = measure("alcohol_drinks_per_week", models.PositiveSmallIntegerField)
    exercise_minutes_per_week = measure(
        "exercise_minutes_per_week", models.PositiveSmallIntegerField
    )

    # Medications and conditions
    pregnant = flag("pregnant")
    on_opioid_agonist_treatment = flag("on_opioid_agonist_treatment", "Methadone or buprenorphine.")
    on_cns_depressant = flag(
        "on_cns_depressant", "Benzodiazepines, Z-drugs, barbiturates, other sedatives."
    )
    on_serotonergic_antidepressant = flag(
        "on_serotonergic_antidepressant", "SSRI, SNRI, tricyclic, mirtazapine."
    )
    on_sedating_antihistamine = flag(
        "on_sedating_antihistamine", "Diphenhydramine, hydroxyzine, promethazine."
    )
    on_dopamine_antagonist = flag(
        "on_dopamine_antagonist", "Antipsychotics, metoclopramide, prochlorperazine."
    )
    on_dopamine_agonist = flag(
        "on_dopamine_agonist", "Pramipexole, ropinirole, rotigotine, levodopa."
    )
    on_gabapentinoid = flag("on_gabapentinoid", "Gabapentin, gabapentin enacarbil, pregabalin.")
    respiratory_disease = flag("respiratory_disease")
    iron_overload = flag("iron_overload")

    # Labs
    ferritin_ng_ml = measure(
        "ferritin_ng_ml", help_text="ng/mL; drawn in the morning, no iron for 24 h before."
    )
    tsat_percent = measure("tsat_percent")
    serum_creatinine_mg_dl = measure("serum_creatinine_mg_dl")
    weight_kg = measure("weight_kg")

    notes = models.TextField(blank=True)

    # The patient's IRLS total recorded before this assessment (patients.facts), found when
    # the assessment is saved (previous_irls_total) and kept, so that facts() and a rule
    # preview over every assessment need no query per assessment.
    irls_previous_total = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # The fields whose values came from the patient's own answers (patients.invitations),
    # confirmed by the clinician who saved the assessment.
    # A database default too: code that predates the column (an earlier migration's
    # models) can still insert.
    patient_reported = models.JSONField(
        default=list,
        db_default=Value([], output_field=models.JSONField()),
        blank=True,
        editable=False,
    )

    history = HistoricalRecords()
    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["-assessed_at"]
        constraints = [
            *scale_constraints("irls", "cows", "gad7"),
            models.CheckConstraint(
                condition=Q(kratom_product__in=[*KRATOM_PRODUCTS, ""]),
                name="assessment_kratom_product_valid",
            ),
        ]
        indexes = [
            # The patient page and the trend chart: a patient's assessments by time.
            models.Index(fields=["patient", "-assessed_at"], name="assessment_patient_time"),
        ]

    def __str__(self) -> str:
        return f"Assessment {self.uuid} of {timezone.localtime(self.assessed_at):%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("patients:assessment", args=[self.uuid])

    def entered_values(self) -> dict[str, Any]:
        return {
            **{fact.name: getattr(self, fact.name) for fact in ENTERED_FACTS},
            **self.item_values(),
        }

    @property
    def age_years(self) -> int:
        return age_in_years(self.patient.date_of_birth, timezone.localdate(self.assessed_at))

    @property
    def hours_since_last_dose(self) -> float | None:
        if self.last_dose_at is None:
            return None
        return hours_between(self.last_dose_at, self.assessed_at)

    def facts(self, *, replacing: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every fact of the assessment (product.md section 4), derived by the fact table.
        `replacing`: entered values to use instead of the assessment's own (an EHR's newer
        labs, interop.hooks), with the derived facts (creatinine clearance) following."""
        return derive_facts(
            {**self.entered_values(), **(replacing or {})},
            age_years=self.age_years,
            sex=self.patient.sex,
            hours_since_last_dose=self.hours_since_last_dose,
            irls_previous_total=self.irls_previous_total,
        )

    def previous_irls_total(self) -> int | None:
        previous = self.previous_irls()
        return previous.total if previous else None

    def previous_irls(self, *, before: datetime | None = None) -> "PreviousScore | None":
        """The patient's most recent IRLS total before this assessment (or before
        `before`, a time being entered): from an earlier assessment or a completed
        follow-up's re-score (which counts at noon of its day, as on the trend chart).
        This assessment itself never counts, so a correction compares with the score
        before it."""
        before = before or self.assessed_at
        earlier: list[PreviousScore] = []
        assessment = (
            Assessment.objects.filter(
                patient_id=self.patient_id,
                irls_total__isnull=False,
                assessed_at__lt=before,
            )
            .exclude(pk=self.pk)
            .order_by("-assessed_at")
            .values_list("assessed_at", "irls_total")
            .first()
        )
        if assessment and assessment[1] is not None:
            earlier.append(PreviousScore(assessment[0], assessment[1], "assessment"))
        day = timezone.localdate(before)
        for happened_on, total in (
            FollowUp.objects.filter(
                patient_id=self.patient_id,
                status=FollowUpStatus.COMPLETED,
                irls_total__isnull=False,
                happened_on__lte=day,
            )
            .order_by("-happened_on", "-recorded_at")
            .values_list("happened_on", "irls_total")[:1]
        ):
            if happened_on is None or total is None:
                continue  # excluded by the query; said again for the type checker
            at = rescored_at(happened_on)
            if at < before:
                earlier.append(PreviousScore(at, total, "follow-up re-score"))
        return max(earlier, key=lambda score: (score.at, score.total)) if earlier else None


@dataclass(frozen=True)
class PreviousScore:
    """An earlier IRLS total, when it was measured, and by what."""

    at: datetime
    total: int
    source: str  # "assessment" or "follow-up re-score"


class FollowUpKind(models.TextChoices):
    PHONE = "phone", "Phone call"
    VISIT = "visit", "Visit"


class FollowUpStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


class FollowUpQuerySet(models.QuerySet["FollowUp"]):
    def scheduled(self) -> "FollowUpQuerySet":
        return self.filter(status=FollowUpStatus.SCHEDULED)


class FollowUp(Versioned, ScaledItems):
    """A planned contact with a patient, then what happened: completed (with an optional
    IRLS and COWS re-score), missed with a reason, or cancelled with a reason."""

    uuid = models.UUIDField("UUID", default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="followups")
    due_date = models.DateField()
    kind = models.CharField(max_length=5, choices=FollowUpKind, default=FollowUpKind.PHONE)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Leave empty for anyone on the team.",
    )
    status = models.CharField(
        max_length=9, choices=FollowUpStatus, default=FollowUpStatus.SCHEDULED, editable=False
    )
    plan_notes = models.TextField("What to cover", blank=True)
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    scheduled_at = models.DateTimeField(default=timezone.now, editable=False)
    scheduled_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )

    happened_on = models.DateField("Date of the contact", null=True, blank=True)
    missed_reason = models.CharField(max_length=300, blank=True)
    side_effects = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    recorded_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancel_reason = models.CharField(max_length=300, blank=True, editable=False)

    history = HistoricalRecords()
    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "pk"]
        constraints = [
            *scale_constraints("irls", "cows"),
            models.CheckConstraint(
                condition=Q(status__in=FollowUpStatus.values), name="followup_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=FollowUpKind.values), name="followup_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=FollowUpStatus.MISSED) | ~Q(missed_reason=""),
                name="followup_missed_with_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status=FollowUpStatus.CANCELLED) | ~Q(cancel_reason=""),
                name="followup_cancelled_with_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[FollowUpStatus.COMPLETED, FollowUpStatus.MISSED])
                | Q(happened_on__isnull=False),
                name="followup_recorded_with_date",
            ),
        ]
        indexes = [
            # The worklist: scheduled follow-ups in (due date, id) order, a page at a time.
            models.Index(fields=["status", "due_date", "id"], name="followup_status_due"),
            # The patient page: a patient's follow-ups, newest first.
            models.Index(fields=["patient", "-due_date"], name="followup_patient_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} due {self.due_date:%Y-%m-%d} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("patients:followup_record", args=[self.uuid])

    @property
    def is_open(self) -> bool:
        return self.status == FollowUpStatus.SCHEDULED

    def add_note(self, *, by: User, text: str) -> None:
        """Add a note to what was recorded, after it, with who added it and when (a second
        person's account of the same contact, say). The recorded text is never replaced."""
        who = by.get_full_name() or by.get_username()
        stamp = f"Added by {who} on {timezone.localdate():%d %b %Y}:"
        with self.locked() as current:
            current.notes = f"{current.notes}\n\n{stamp} {text}".strip()

    def cancel(self, *, by: User, reason: str) -> None:
        """Cancel a scheduled follow-up; the record stays, with the reason. Raises
        EditConflict if someone else has recorded or cancelled it meanwhile."""
        with self.locked() as current:
            if not current.is_open:
                raise EditConflict(current)
            current.status = FollowUpStatus.CANCELLED
            current.cancel_reason = reason[:300]
            current.recorded_by = by
            current.recorded_at = timezone.now()


# Defined in its own module; imported here so that Django registers it with this app.
from patients.invitations import Invitation  # noqa: E402, F401
