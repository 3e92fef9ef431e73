"""Cards from saved assessments, clinician review, versions and re-evaluation."""

import re

import pytest
from django.urls import reverse

from guidance.models import Decision, Recommendation, Rule
from patients.models import Assessment
from tests.base import COMPLETE_IRLS, CRITERIA_MET, VALID, make_patient, record


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.fixture
def patient(db):
    return make_patient(date_of_birth="1990-05-01")


def cards(assessment):
    return {c.rule_code: c for c in Recommendation.objects.filter(assessment=assessment)}


def decide(client, card, status, **extra):
    data = {"status": status, "expected_version": card.version, **extra}
    return client.post(reverse("guidance:decide", args=[card.uuid]), data)


def test_saving_an_assessment_stores_the_fired_cards_with_rule_and_version(
    as_user, clinician, patient
):
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    codes = set(cards(assessment))
    # VALID: criteria met, IRLS 24, COWS 14, 38 h since the last dose, ferritin 45,
    # TSAT 18, sleep 5.5 h, caffeine 200 mg, CrCl known and above 60.
    assert codes == {
        "MED-GABAPENTINOID",
        "MED-DOPAMINE-AGONIST",
        "SAFE-GABA-MISUSE",
        "IRON-SUPPLEMENT",
        "CBT-INSOMNIA",
        "WD-FIRST",
        "WD-SUPERVISION",
        "WD-BUPRENORPHINE",
        "WD-PEAK-WINDOW",
        "LIFE-EXERCISE",
        "LIFE-SLEEP",
        "LIFE-CAFFEINE",
        "LIFE-RELAXATION",
        "LIFE-DIET",
        "WD-RLS-RECHECK",
    }
    assert all(
        card.rule.version == 1 and card.status == "pending" for card in cards(assessment).values()
    )
    page = client.get(assessment.get_absolute_url()).content.decode()
    assert "Suggestions for clinician review" in page
    assert "orders, prescribes and accepts nothing by itself" in page
    # product.md section 5's order (version 3): options by category, withdrawal first, each
    # carrying its cautions.
    headings = [
        f'id="section-{key}"'
        for key in ["withdrawal", "medication", "iron", "behavioural", "lifestyle", "monitoring"]
    ]
    assert [page.index(h) for h in headings] == sorted(page.index(h) for h in headings)
    gabapentinoid, misuse, agonist = (
        page.index(f'data-rule="{code}"')
        for code in ["MED-GABAPENTINOID", "SAFE-GABA-MISUSE", "MED-DOPAMINE-AGONIST"]
    )
    assert gabapentinoid < misuse < agonist  # the misuse caution sits inside its option
    assert "Rule SAFE-GABA-MISUSE, version 1" in page


def test_nothing_is_accepted_automatically(as_user, clinician, patient):
    record(as_user(clinician), patient)
    assert not Decision.objects.exists()
    assert not Recommendation.objects.exclude(status="pending").exists()


def test_a_clinician_accepts_declines_with_a_reason_and_defers(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    by_code = cards(Assessment.objects.get())
    assert decide(client, by_code["LIFE-EXERCISE"], "accepted").status_code == 302
    assert (
        decide(
            client, by_code["MED-DOPAMINE-AGONIST"], "declined", reason="contraindicated"
        ).status_code
        == 302
    )
    assert decide(client, by_code["CBT-INSOMNIA"], "deferred").status_code == 302
    statuses = {code: card.status for code, card in cards(Assessment.objects.get()).items()}
    assert statuses["LIFE-EXERCISE"] == "accepted"
    assert statuses["MED-DOPAMINE-AGONIST"] == "declined"
    assert statuses["CBT-INSOMNIA"] == "deferred"
    decline = Decision.objects.get(recommendation__rule_code="MED-DOPAMINE-AGONIST")
    assert (decline.by, decline.decline_reason) == (clinician, "contraindicated")


def test_a_decline_without_a_reason_is_refused_and_changes_nothing(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    card = cards(Assessment.objects.get())["MED-GABAPENTINOID"]
    response = decide(client, card, "declined", comment="kept comment")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Say why the suggestion is declined." in page
    assert "kept comment" in page
    card.refresh_from_db()
    assert card.status == "pending"
    assert not Decision.objects.exists()


def test_declining_with_other_needs_a_comment(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    card = cards(Assessment.objects.get())["MED-GABAPENTINOID"]
    response = decide(client, card, "declined", reason="other")
    assert "a comment is required" in response.content.decode()
    assert not Decision.objects.exists()
    decide(client, card, "declined", reason="other", comment="Patient prefers to wait a week")
    assert Decision.objects.get().comment == "Patient prefers to wait a week"


def card_html(page, card):
    """One card's own markup: up to the next card (a caution inside it, or the next one)."""
    start = page.index(f'id="card-{card.uuid}"')
    end = page.find('class="card decision-card', start)
    return page[start : end if end != -1 else len(page)]


def top_messages(page):
    """The alerts of the messages framework, above the page's own content."""
    return re.findall(r'<div class="alert alert-danger" role="status">(.*?)</div>', page)


@pytest.mark.parametrize(
    ("extra", "field", "error"),
    [
        ({"comment": "kept comment"}, "reason", "Say why the suggestion is declined."),
        ({"reason": "other"}, "comment", "With the reason “Other”, a comment is required."),
        (
            {"reason": "other", "comment": "x" * 2001},
            "comment",
            "The comment is too long: at most 2000 characters (this one has 2001).",
        ),
    ],
)
def test_a_refused_decision_reopens_its_card_at_the_field_with_one_message_at_the_top(
    as_user, clinician, patient, extra, field, error
):
    client = as_user(clinician)
    record(client, patient)
    by_code = cards(Assessment.objects.get())
    card = by_code["MED-GABAPENTINOID"]
    response = decide(client, card, "declined", **extra)
    assert response.status_code == 200
    assert response.context["guidance"]["sections"]  # the whole assessment page
    page = response.content.decode()
    assert top_messages(page) == [f"“{card.rule.title}” was not decided: {error}"]
    html = card_html(page, card)
    assert '<details class="flex-grow-1" open>' in html
    assert re.search(rf'id="{field}-{card.uuid}"[^>]* autofocus', html)
    assert f'<div class="invalid-feedback" id="{field}-error-{card.uuid}">{error}</div>' in html
    assert page.count("autofocus") == 1
    assert '<details class="flex-grow-1" open>' not in card_html(
        page, by_code["MED-DOPAMINE-AGONIST"]
    )
    assert not Decision.objects.exists()


def test_a_comment_too_long_is_refused_as_too_long_not_as_missing(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    card = cards(Assessment.objects.get())["MED-GABAPENTINOID"]
    page = decide(client, card, "declined", reason="other", comment="x" * 2001).content.decode()
    assert "The comment is too long" in page
    assert "a comment is required" not in page
    assert not Decision.objects.exists()
    decide(client, card, "declined", reason="other", comment="x" * 2000)  # at the limit
    assert len(Decision.objects.get().comment) == 2000


def test_an_unknown_decision_is_refused(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    card = cards(Assessment.objects.get())["MED-GABAPENTINOID"]
    decide(client, card, "prescribed")
    assert not Decision.objects.exists()


def test_a_decision_can_be_revised_and_every_decision_is_kept(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    card = cards(Assessment.objects.get())["LIFE-CAFFEINE"]
    decide(client, card, "deferred")
    card.refresh_from_db()
    decide(client, card, "accepted")
    card.refresh_from_db()
    assert card.status == "accepted"
    assert [d.status for d in card.decisions.all()] == ["deferred", "accepted"]
    page = client.get(card.assessment.get_absolute_url()).content.decode()
    assert "Deferred by Cleo Nician" in page
    assert "Accepted by Cleo Nician" in page


def test_a_stale_decision_is_refused_and_the_other_one_kept(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    card = cards(Assessment.objects.get())["LIFE-SLEEP"]
    stale_version = card.version
    card.decide(status="accepted", by=clinician, expected_version=card.version)
    response = client.post(
        reverse("guidance:decide", args=[card.uuid]),
        {"status": "deferred", "expected_version": stale_version},
        follow=True,
    )
    assert "was decided by someone else" in response.content.decode()
    card.refresh_from_db()
    assert card.status == "accepted"
    assert card.decisions.count() == 1


@pytest.mark.parametrize("role", ["staff", "guidance_admin", "outsider"])
def test_only_clinicians_decide(request, as_user, clinician, patient, role):
    record(as_user(clinician), patient)
    card = cards(Assessment.objects.get())["LIFE-SLEEP"]
    response = decide(as_user(request.getfixturevalue(role)), card, "accepted")
    assert response.status_code == 403
    card.refresh_from_db()
    assert card.status == "pending"


def test_staff_see_the_cards_but_no_decision_buttons(as_user, clinician, staff, patient):
    record(as_user(clinician), patient)
    page = as_user(staff).get(Assessment.objects.get().get_absolute_url()).content.decode()
    assert "Suggestions for clinician review" in page
    assert "Decline suggestion" not in page


def test_a_card_keeps_pointing_at_the_version_that_produced_it(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    first = Assessment.objects.get()
    v1 = Rule.objects.get(code="LIFE-EXERCISE", version=1)
    v2 = Rule.objects.create(
        **{
            f: getattr(v1, f)
            for f in [
                "code",
                "title",
                "category",
                "indicator",
                "condition",
                "source",
                "evidence",
                "test_cases",
            ]
        },
        detail="Reworded detail.",
        version=2,
    )
    v2.activate(by=None)
    v1.refresh_from_db()
    assert v1.status == "retired"
    assert cards(first)["LIFE-EXERCISE"].rule == v1
    page = client.get(first.get_absolute_url()).content.decode()
    assert "Rule LIFE-EXERCISE, version 1" in page

    record(client, patient, assessed_at="2026-11-26T11:00")
    second = Assessment.objects.latest("assessed_at")
    assert cards(second)["LIFE-EXERCISE"].rule == v2


def correct(client, assessment, **changes):
    data = {
        **VALID,
        "expected_version": assessment.version,
        "change_reason": "Lab came back",
        **changes,
    }
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(reverse("patients:assessment_edit", args=[assessment.uuid]), data)


def test_a_correction_keeps_decided_cards_and_marks_those_that_no_longer_fire(
    as_user, clinician, patient
):
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    before = cards(assessment)
    decide(client, before["CBT-INSOMNIA"], "accepted")
    decide(client, before["LIFE-CAFFEINE"], "deferred")

    # Sleep corrected to 7 h and caffeine to none: neither rule fires any more.
    assert (
        correct(client, assessment, sleep_hours_per_night="7", caffeine_mg_per_day="0").status_code
        == 302
    )
    after = cards(assessment)
    assert after["CBT-INSOMNIA"].status == "accepted"
    assert after["CBT-INSOMNIA"].still_fires is False
    assert after["LIFE-CAFFEINE"].status == "deferred"
    assert after["LIFE-CAFFEINE"].still_fires is False
    page = client.get(assessment.get_absolute_url()).content.decode()
    assert "this rule no longer fires" in page


def test_a_correction_moves_undecided_cards_with_the_data(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    assert "IRON-SUPPLEMENT" in cards(assessment)
    # Iron corrected to a high ferritin and normal TSAT; GAD-7 added at 12.
    gad7 = {f"gad7_{n}": "2" for n in range(1, 7)} | {"gad7_7": "0"}
    correct(client, assessment, ferritin_ng_ml="150", tsat_percent="30", **gad7)
    after = cards(assessment)
    assert "IRON-SUPPLEMENT" not in after
    assert "CBT-ANXIETY" in after
    assert after["CBT-ANXIETY"].status == "pending"


def test_a_rule_that_fails_at_evaluation_does_not_break_the_save_or_the_page(
    as_user, clinician, patient
):
    Rule.objects.create(
        code="BROKEN-NULL",
        version=1,
        status="active",
        title="Broken",
        detail="Compares a possibly-null number without a guard.",
        category="iron",
        indicator="info",
        condition="ferritin_ng_ml <= 75",
        source="test",
        evidence="test",
    )
    client = as_user(clinician)
    response = record(client, patient, ferritin_ng_ml="")
    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert "MED-GABAPENTINOID" in cards(assessment)
    page = client.get(assessment.get_absolute_url())
    assert page.status_code == 200
    notice = "The info rule “Broken” (BROKEN-NULL v1) was <strong>not evaluated</strong>"
    assert notice in page.content.decode()


def test_a_not_evaluated_notice_saved_before_titles_were_stored_still_shows(
    as_user, clinician, patient
):
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    assessment.evaluation.not_evaluated = [
        {"rule": "OLD-RULE", "version": 3, "reason": "data type mismatch"}
    ]
    assessment.evaluation.save()
    page = client.get(assessment.get_absolute_url()).content.decode()
    assert "Rule OLD-RULE v3 was <strong>not evaluated</strong>: data type mismatch" in page


def test_evaluate_command_returns_the_fired_rules(tmp_path, db):
    import io
    import json

    from django.core.management import call_command

    path = tmp_path / "f.json"
    path.write_text(json.dumps({"age_years": 70, "sex": "male", **CRITERIA_MET, **COMPLETE_IRLS}))
    out = io.StringIO()
    call_command("evaluate", str(path), stdout=out)
    result = json.loads(out.getvalue())
    codes = [r["rule"] for r in result["recommendations"]]
    assert codes[0] == "SAFE-GABA-RESPIRATORY"  # critical first: age 70
    assert {"MED-GABAPENTINOID", "SAFE-GABA-RENAL-UNKNOWN", "IRON-STUDIES"} <= set(codes)
    first = result["recommendations"][0]
    assert set(first) >= {"rule", "version", "category", "indicator", "title", "detail", "source"}
    assert first["version"] == 1
    assert first["indicator"] == "critical"


def new_version(code, **changes):
    """The next version of a default rule, activated through its test cases."""
    latest = Rule.objects.of(code).first()
    fields = ["title", "detail", "category", "indicator", "condition", "source", "evidence"]
    rule = Rule(code=code, test_cases=latest.test_cases, **{f: getattr(latest, f) for f in fields})
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.save_as_new_version(by=None)
    rule.activate(by=None)
    return rule


def test_a_correction_moves_an_undecided_card_to_the_newer_rule_version(
    as_user, clinician, patient
):
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    decide(client, cards(assessment)["LIFE-EXERCISE"], "accepted")
    sleep_v2 = new_version("LIFE-SLEEP", detail="Reworded: a regular sleep schedule.")
    exercise_v2 = new_version("LIFE-EXERCISE", detail="Reworded: walking and stretching.")

    assert correct(client, assessment, notes="Weight re-measured").status_code == 302
    after = cards(assessment)
    assert (after["LIFE-SLEEP"].rule, after["LIFE-SLEEP"].status) == (sleep_v2, "pending")
    # A decided card keeps the version the clinician decided on.
    assert after["LIFE-EXERCISE"].rule.version == 1
    assert after["LIFE-EXERCISE"].rule != exercise_v2
    assert after["LIFE-EXERCISE"].status == "accepted"


def test_a_rule_that_fails_on_a_correction_leaves_its_card_as_it_was(as_user, clinician, patient):
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    card = cards(assessment)["LIFE-EXERCISE"]
    # Active from before conditions had to be null-safe: it compares ferritin without a
    # guard, and can no longer be saved or activated, only stored.
    Rule.objects.active().filter(code="LIFE-EXERCISE").update(status="retired")
    Rule.objects.create(
        code="LIFE-EXERCISE",
        version=2,
        status="active",
        title="Exercise",
        detail="Walk.",
        category="lifestyle",
        indicator="info",
        condition="rls_criteria_met and ferritin_ng_ml <= 1000",
        source="test",
        evidence="test",
    )

    assert correct(client, assessment, ferritin_ng_ml="").status_code == 302
    after = cards(assessment)["LIFE-EXERCISE"]
    assert (after.pk, after.rule_id, after.status, after.still_fires) == (
        card.pk,
        card.rule_id,
        "pending",
        True,
    )
    assessment.evaluation.refresh_from_db()
    assert [item["rule"] for item in assessment.evaluation.not_evaluated] == ["LIFE-EXERCISE"]


def test_a_version_whose_test_cases_fail_cannot_be_activated(db):
    from guidance.models import RuleNotReady

    active = Rule.objects.active().get(code="LIFE-SLEEP")
    draft = Rule(
        code="LIFE-SLEEP",
        title=active.title,
        detail=active.detail,
        category=active.category,
        indicator=active.indicator,
        condition="not rls_criteria_met",
        source=active.source,
        evidence=active.evidence,
        test_cases=active.test_cases,
    )
    draft.save_as_new_version(by=None)
    with pytest.raises(RuleNotReady, match="test cases failing"):
        draft.activate(by=None)
    draft.test_cases = []
    with pytest.raises(RuleNotReady, match="at least one test case"):
        draft.activate(by=None)
    draft.refresh_from_db()
    active.refresh_from_db()
    assert (draft.status, active.status) == ("draft", "active")


def test_activating_a_version_retires_the_old_one_with_a_history_row(db):
    old = Rule.objects.active().get(code="LIFE-SLEEP")
    new = new_version("LIFE-SLEEP", detail="Reworded.")
    old.refresh_from_db()
    assert (old.status, new.status) == ("retired", "active")
    assert old.history.first().status == "retired"


def test_each_cards_form_posts_to_its_own_decide_address_with_every_decline_reason(
    as_user, clinician, patient
):
    """The decide addresses come from one reverse a page, and the reasons' options are
    written once a page (clinic.pages.assessments.card_page): each card still gets its own,
    and a card whose decline failed keeps the reason chosen."""
    client = as_user(clinician)
    record(client, patient)
    assessment = Assessment.objects.get()
    page = client.get(assessment.get_absolute_url()).content.decode()
    actions = re.findall(r'<form method="post" action="([^"]+)" hx-post="([^"]+)"', page)
    expected = {reverse("guidance:decide", args=[card.uuid]) for card in cards(assessment).values()}
    expected.add(reverse("guidance:lifestyle", args=[assessment.uuid]))  # the one for all
    assert {action for action, _ in actions} == expected
    assert all(action == hx_post for action, hx_post in actions)
    reasons = ["", "not_appropriate", "patient_declined", "already_in_place", "contraindicated"]
    for select in re.findall(r'<select name="reason".*?</select>', page, re.S):
        values = re.findall(r'<option value="([^"]*)"', select)
        assert values == [*reasons, "other"]
        assert "selected" not in select

    card = cards(assessment)["MED-DOPAMINE-AGONIST"]
    failed = decide(client, card, "declined", reason="other").content.decode()  # no comment
    select = re.search(rf'<select name="reason" id="reason-{card.uuid}".*?</select>', failed, re.S)
    assert re.findall(r'<option value="([^"]*)"( selected)?', select.group(0))[-1] == (
        "other",
        " selected",
    )
