"""Options and cautions on the card page (product.md 5.1): options carry their cautions,
cautions are acknowledged, and accepting an option acknowledges its critical cautions."""

import pytest
from django.urls import reverse

from guidance.models import Decision, Recommendation
from patients.models import Assessment, FollowUp
from tests.base import make_patient, record


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.fixture
def older_patient(db):
    """68: the breathing caution (critical) qualifies the gabapentinoid option."""
    return make_patient(date_of_birth="1958-03-01")


def cards(assessment):
    return {c.rule_code: c for c in Recommendation.objects.filter(assessment=assessment)}


def decide(client, card, status, **extra):
    data = {"status": status, "expected_version": card.version, **extra}
    return client.post(
        reverse("guidance:decide", args=[card.uuid]), data, **extra.pop("headers", {})
    )


def test_accepting_an_option_acknowledges_and_names_every_caution_it_carries(
    as_user, clinician, older_patient
):
    """Version 2 acknowledged the critical caution only: the renal and misuse warnings
    stayed undecided inside the accepted, folded card."""
    client = as_user(clinician)
    record(client, older_patient)
    by_code = cards(Assessment.objects.get())
    option = by_code["MED-GABAPENTINOID"]
    carried = option.carried_cautions()
    codes = {caution.rule_code for caution in carried}
    assert {"SAFE-GABA-RESPIRATORY", "SAFE-GABA-MISUSE", "WD-FIRST"} <= codes
    assert {caution.rule.indicator for caution in carried} >= {"critical", "warning"}

    page = client.get(option.assessment.get_absolute_url()).content.decode()
    accept = page[page.index(f'id="card-{option.uuid}"') :]
    accept = accept[accept.index("data-accept") : accept.index("</button>")]
    assert "Accept, acknowledging: " in accept
    for caution in carried:
        assert caution.rule.short_title in accept  # each one named before the click
    assert decide(client, option, "accepted").status_code == 302

    option.refresh_from_db()
    assert option.status == "accepted"
    for caution in carried:
        caution.refresh_from_db()
        assert caution.status == "acknowledged", caution.rule_code
        acknowledgement = caution.decisions.get()
        assert (acknowledgement.by, acknowledgement.with_option) == (clinician, option)
    # Folded, the option still names every caution it carries, as accepted with it.
    page = client.get(option.assessment.get_absolute_url()).content.decode()
    summary = page[page.index(f'id="card-{option.uuid}"') :]
    summary = summary[summary.index("data-carries") : summary.index("</summary>")]
    assert "Accepted with: " in summary
    assert all(caution.rule.short_title in summary for caution in carried)
    assert "Undecided" not in summary


def test_a_caution_is_acknowledged_and_cannot_be_accepted_or_declined(
    as_user, clinician, older_patient
):
    client = as_user(clinician)
    record(client, older_patient)
    caution = cards(Assessment.objects.get())["SAFE-GABA-MISUSE"]
    for status in ["accepted", "declined"]:
        response = decide(client, caution, status, reason="other", comment="x")
        assert response.status_code == 200
        assert "A caution can only be acknowledged or deferred." in response.content.decode()
    caution.refresh_from_db()
    assert (caution.status, caution.decisions.count()) == ("pending", 0)
    assert decide(client, caution, "acknowledged").status_code == 302
    caution.refresh_from_db()
    assert caution.status == "acknowledged"


def test_an_option_cannot_be_acknowledged(as_user, clinician, older_patient):
    client = as_user(clinician)
    record(client, older_patient)
    option = cards(Assessment.objects.get())["LIFE-EXERCISE"]
    assert decide(client, option, "acknowledged").status_code == 200
    option.refresh_from_db()
    assert option.status == "pending"


def test_cautions_sit_inside_the_options_they_qualify_or_stand_alone(
    as_user, clinician, older_patient
):
    client = as_user(clinician)
    record(client, older_patient)
    guidance = client.get(Assessment.objects.get().get_absolute_url()).context["guidance"]
    options = {item.card.rule_code: item for s in guidance["sections"] for item in s.cards}
    inside = {c.card.rule_code for c in options["MED-GABAPENTINOID"].cautions}
    assert inside == {"SAFE-GABA-RESPIRATORY", "SAFE-GABA-MISUSE", "WD-FIRST"}
    assert "SAFE-GABA-RESPIRATORY" not in options  # shown inside, not on its own
    # COWS 14 within 72 h: the withdrawal comes first, inside both drug options; in full
    # under the first (the strong gabapentinoid), named and linked under the other.
    agonist = {c.card.rule_code: c for c in options["MED-DOPAMINE-AGONIST"].cautions}
    gabapentinoid = options["MED-GABAPENTINOID"]
    assert agonist["WD-FIRST"].shown_under == gabapentinoid.card.rule.title
    first = next(c for c in gabapentinoid.cautions if c.card.rule_code == "WD-FIRST")
    assert first.shown_under is None
    page = client.get(Assessment.objects.get().get_absolute_url()).content.decode()
    assert page.count(f'id="card-{first.card.uuid}"') == 1  # one card, one id
    assert page.count(f'href="#card-{first.card.uuid}"') >= 1

    # Already on a gabapentinoid: the option does not fire, so its cautions stand alone.
    patient = make_patient(date_of_birth="1958-03-01")
    record(client, patient, on_gabapentinoid="on")
    assessment = Assessment.objects.get(patient=patient)
    guidance = client.get(assessment.get_absolute_url()).context["guidance"]
    first = guidance["sections"][0]
    assert (first.key, [c.card.rule_code for c in first.cards]) == (
        "critical",
        ["SAFE-GABA-RESPIRATORY"],
    )
    assert "SAFE-GABA-MISUSE" in [c.card.rule_code for c in guidance["sections"][-1].cards]


def test_each_card_says_why_it_fired_in_words(as_user, clinician, older_patient):
    client = as_user(clinician)
    record(client, older_patient)
    assessment = Assessment.objects.get()
    page = client.get(assessment.get_absolute_url()).content.decode()
    breathing = cards(assessment)["SAFE-GABA-RESPIRATORY"]
    assert breathing.because == {
        "rls_criteria_met": True,
        "irls_total": 24,
        "age_years": 68,
    }
    assert "<strong>Because:</strong> RLS criteria met · IRLS 24 (severe) · age 68" in page


def test_with_htmx_a_decision_returns_the_guidance_section_in_place(
    as_user, clinician, older_patient
):
    client = as_user(clinician)
    record(client, older_patient)
    option = cards(Assessment.objects.get())["LIFE-SLEEP"]
    response = client.post(
        reverse("guidance:decide", args=[option.uuid]),
        {"status": "deferred", "expected_version": option.version},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="mb-4" aria-labelledby="guidance-heading"')
    assert "<html" not in html
    assert "Deferred: " in html
    option.refresh_from_db()
    assert (option.status, option.decisions.get().by) == ("deferred", clinician)


def test_follow_up_adherence_asks_only_about_accepted_options(
    as_user, clinician, staff, older_patient
):
    client = as_user(clinician)
    record(client, older_patient)
    by_code = cards(Assessment.objects.get())
    decide(client, by_code["MED-GABAPENTINOID"], "accepted")  # acknowledges its cautions
    followup = FollowUp.objects.create(
        patient=older_patient, due_date="2026-11-26", scheduled_by=staff
    )
    form = (
        as_user(staff)
        .get(reverse("patients:followup_record", args=[followup.uuid]))
        .context["form"]
    )
    asked = {field.label for field in form.adherence_fields()}
    assert asked == {by_code["MED-GABAPENTINOID"].rule.title}
    carried = by_code["MED-GABAPENTINOID"].carried_cautions()
    assert Decision.objects.filter(status="acknowledged").count() == len(carried) >= 2
