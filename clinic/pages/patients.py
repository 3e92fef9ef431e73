"""The patient list's rows and the patient page: the timeline and the trend charts.
Shaping only: the records come loaded from the view (no queries here)."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from django.urls import reverse
from django.utils.dates import MONTHS_3

from guidance.models import (
    Decision,
)
from patients.charts import Chart, trend_chart
from patients.facts import (
    SEXES,
)
from patients.models import RESCORED_SCALES, Assessment, FollowUp, FollowUpStatus, rescored_at
from patients.scales import SCALES


class ListedPatient(Protocol):
    """What the patient list reads of a patient: a Patient, or a row of just these columns
    (values_list(..., named=True), which costs half as much as loading the models)."""

    id: int
    uuid: UUID
    mrn: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    archived_at: datetime | None


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list, as plain values. The template language charges for
    every method it calls (a full URL reverse for get_absolute_url, a lookup of the choices
    for get_sex_display), 25 times a page: these are worked out here once per row."""

    url: str
    name: str
    mrn: str
    born: str  # the date of birth as the list shows it: 14 Mar 1988
    sex: str
    archived: bool


def addresses(viewname: str) -> Callable[[UUID], str]:
    """A view's address for any UUID from one reverse: an example UUID's address with the
    UUID swapped, the same as reverse() gives, script prefix included
    (tests/patients/test_list_rows.py). A reverse costs about 75 µs, and a page of 25
    rows or 17 cards made one for each."""
    example = str(UUID(int=0))
    address = reverse(viewname, args=[example])
    return lambda uuid: address.replace(example, str(uuid))


def day_month_year(day: date) -> str:
    """A date as the template's date:"j M Y" writes it (14 Mar 1988; English month names,
    as USE_I18N is off), without the filter's cost: 27 µs a date, half the rendering of a
    page of 25 rows (tests/patients/test_list_rows.py compares the two)."""
    return f"{day.day} {MONTHS_3[day.month].title()} {day.year:04d}"


def patient_rows(patients: Iterable[ListedPatient]) -> list[PatientRow]:
    """The patient list's lines, with one URL reverse for the page instead of one a row."""
    address = addresses("patients:detail")
    return [
        PatientRow(
            url=address(patient.uuid),
            name=f"{patient.family_name}, {patient.given_name}",
            mrn=patient.mrn,
            born=day_month_year(patient.date_of_birth),
            sex=SEXES.get(patient.sex, patient.sex),
            archived=patient.archived_at is not None,
        )
        for patient in patients
    ]


# The patient page


def timeline(
    assessments: Sequence[Assessment], decisions: Sequence[Decision], followups: Sequence[FollowUp]
) -> list[dict[str, Any]]:
    """Assessments, card decisions and follow-ups that happened, newest first."""
    events: list[dict[str, Any]] = [
        {"at": a.assessed_at, "kind": "assessment", "item": a, "url": a.get_absolute_url()}
        for a in assessments
    ]
    events += [
        {
            "at": d.at,
            "kind": "decision",
            "item": d,
            "url": d.recommendation.assessment.get_absolute_url()
            + f"#card-{d.recommendation.uuid}",
        }
        for d in decisions
    ]
    events += [
        {"at": f.recorded_at, "kind": "followup", "item": f, "url": f.get_absolute_url()}
        for f in followups
        if not f.is_open and f.recorded_at
    ]
    return sorted(events, key=lambda event: event["at"], reverse=True)


def trend_charts(assessments: Sequence[Assessment], followups: Sequence[FollowUp]) -> list[Chart]:
    """IRLS and COWS over time, from assessments and follow-up re-scores."""
    charts = []
    last_dose_at = next((a.last_dose_at for a in assessments if a.last_dose_at), None)
    for code in RESCORED_SCALES:
        measurements = [
            (a.assessed_at, getattr(a, f"{code}_total"), "assessment")
            for a in assessments
            if getattr(a, f"{code}_total") is not None
        ] + [
            (
                rescored_at(f.happened_on),
                getattr(f, f"{code}_total"),
                "follow-up",
            )
            for f in followups
            if f.status == FollowUpStatus.COMPLETED
            and f.happened_on
            and getattr(f, f"{code}_total") is not None
        ]
        chart = trend_chart(SCALES[code], measurements, last_dose_at)
        if chart:
            charts.append(chart)
    return charts
