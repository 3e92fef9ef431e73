"""The patient page's trend charts and timeline, and the printable summary."""

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse

from guidance.models import Recommendation
from guidance.services import evaluate_assessment
from patients.charts import trend_chart
from patients.models import FollowUp
from patients.scales import COWS, IRLS
from tests.base import COMPLETE_COWS, COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


def at(day, hour=10):
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def irls(total):
    """A complete IRLS with the given total."""
    values = [min(4, max(0, total - 4 * n)) for n in range(10)]
    return {f"irls_{n}": v for n, v in enumerate(values, start=1)}


def test_the_chart_points_match_the_stored_totals(as_user, clinician):
    patient = make_patient()
    for day, total in ((20, 30), (22, 24), (24, 15)):
        make_assessment(patient, clinician, assessed_at=at(day), last_dose_at=at(19), **irls(total))
    FollowUp.objects.create(
        patient=patient,
        due_date=date(2026, 11, 25),
        scheduled_by=clinician,
        status="completed",
        happened_on=date(2026, 11, 25),
        recorded_at=at(25),
        **irls(9),
        **COMPLETE_COWS,
    )
    response = as_user(clinician).get(patient.get_absolute_url())
    charts = {chart.scale.code: chart for chart in response.context["charts"]}
    assert [(p.total, p.source) for p in charts["irls"].points] == [
        (30, "assessment"),
        (24, "assessment"),
        (15, "assessment"),
        (9, "follow-up"),
    ]
    assert [p.total for p in charts["cows"].points] == [14]
    svg = response.content.decode()
    assert re.findall(r'data-total="(\d+)"', svg) == ["30", "24", "15", "9", "14"]
    assert "last dose" in svg
    # The table for screen readers carries the same numbers.
    table = svg.split("<caption>IRLS totals</caption>")[1].split("</table>")[0]
    assert re.findall(r"<td>(\d+)</td>", table) == ["30", "24", "15", "9"]


def test_points_sit_on_the_scale_and_in_time_order():
    measurements = [
        (at(24), 40, "assessment"),
        (at(20), 0, "assessment"),
        (at(22), 20, "follow-up"),
    ]
    chart = trend_chart(IRLS, measurements, last_dose_at=at(18))
    xs = [p.x for p in chart.points]
    ys = {p.total: p.y for p in chart.points}
    assert xs == sorted(xs)
    assert ys[40] < ys[20] < ys[0]  # higher totals are drawn higher up
    assert chart.dose_x < xs[0]
    assert chart.points[-1].x == chart.plot_right


def test_the_bands_are_shaded_from_the_registry():
    chart = trend_chart(COWS, [(at(20), 13, "assessment")], None)
    assert [band.label for band in chart.bands] == [
        "none",
        "mild",
        "moderate",
        "moderately severe",
        "severe",
    ]
    assert all(band.height > 0 for band in chart.bands)


def test_no_scores_no_chart():
    assert trend_chart(IRLS, [], at(20)) is None


def test_the_timeline_shows_assessments_decisions_and_follow_ups_newest_first(as_user, clinician):
    patient = make_patient()
    assessment = make_assessment(patient, clinician, assessed_at=at(20), **CRITERIA_MET)
    evaluate_assessment(assessment=assessment)
    card = Recommendation.objects.get(rule_code="LIFE-SLEEP")
    with time_machine.travel(at(21), tick=False):
        card.decide(status="accepted", by=clinician, expected_version=1)
    FollowUp.objects.create(
        patient=patient,
        due_date=date(2026, 11, 22),
        scheduled_by=clinician,
        status="missed",
        happened_on=date(2026, 11, 22),
        missed_reason="No answer",
        recorded_at=at(22),
    )
    response = as_user(clinician).get(patient.get_absolute_url())
    assert [e["kind"] for e in response.context["timeline"]] == [
        "followup",
        "decision",
        "assessment",
    ]
    page = response.content.decode()
    assert "Phone call missed</a>: No answer" in page
    assert "Accepted</a>: A consistent sleep schedule" in page


def test_the_latest_scores_come_from_the_newest_measurement(clinician):
    patient = make_patient()
    make_assessment(patient, clinician, assessed_at=at(20), **COMPLETE_IRLS, **COMPLETE_COWS)
    patient.refresh_latest_scores()
    patient.refresh_from_db()
    assert (patient.latest_irls_total, patient.latest_cows_total) == (24, 14)
    FollowUp.objects.create(
        patient=patient,
        due_date=date(2026, 11, 21),
        scheduled_by=clinician,
        status="completed",
        happened_on=date(2026, 11, 21),
        **irls(5),
    )
    patient.refresh_latest_scores()
    patient.refresh_from_db()
    assert (patient.latest_irls_total, patient.latest_cows_total) == (5, 14)


def test_the_printable_summary_is_a_handover_of_scores_labs_decisions_and_what_is_left(
    as_user, clinician, staff
):
    patient = make_patient(given_name="Paper", family_name="Chart")
    assessment = make_assessment(
        patient, clinician, **CRITERIA_MET, **COMPLETE_IRLS, **COMPLETE_COWS
    )
    evaluate_assessment(assessment=assessment)
    patient.refresh_latest_scores()
    cards = {c.rule_code: c for c in Recommendation.objects.all()}
    cards["MED-GABAPENTINOID"].decide(status="accepted", by=clinician, expected_version=1)
    cards["MED-DOPAMINE-AGONIST"].decide(
        status="declined",
        by=clinician,
        expected_version=1,
        reason="contraindicated",
        comment="Gambling history",
    )
    FollowUp.objects.create(
        patient=patient, due_date=date(2026, 12, 2), scheduled_by=staff, kind="visit"
    )
    page = as_user(staff).get(reverse("patients:summary", args=[patient.uuid])).content.decode()

    def part(name):
        return page.split(f"data-{name}")[1].split("</ul>")[0]

    assert "IRLS: 24 / 40 (severe)" in part("latest-scores")
    assert "COWS: 14 / 48 (moderate)" in part("latest-scores")
    assert "Creatinine clearance (Cockcroft–Gault): unknown" in part("labs")
    assert "Consider an alpha-2-delta ligand" in part("accepted")
    assert "Pramipexole" not in part("accepted")
    # Every caution the option carried was acknowledged with the acceptance, and is listed
    # under it (the breathing caution for the unknown last dose, the misuse warning, ...).
    assert "Breathing risk with gabapentinoids" in part("acknowledged")
    assert "(on accepting an option)" in part("acknowledged")
    carried = cards["MED-GABAPENTINOID"].carried_cautions()
    assert len(carried) >= 4
    for caution in carried:
        assert caution.rule.title in part("accepted-with"), caution.rule_code
    assert "Contraindicated" in part("declined")
    assert "Gambling history" in part("declined")
    assert "Regular moderate exercise" in part("undecided")
    assert "Visit due 2 Dec 2026" in page
    assert "by " + (staff.get_full_name() or staff.get_username()) in part("printed")
    assert "data-print" in page


def test_the_summary_is_logged_as_an_access(as_user, staff):
    from patients.models import PatientAccess

    patient = make_patient()
    as_user(staff).get(reverse("patients:summary", args=[patient.uuid]))
    assert PatientAccess.objects.get().view == "patients:summary"
