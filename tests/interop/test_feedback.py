"""Feedback becomes the EHR user's decision here: accepted options accepted, overridden
options declined with the mapped reason, overridden cautions acknowledged; attributed to
the EHR through its account and to the EHR user in the comment; once however often it is
sent; and never over a decision made in the app meanwhile."""

import json

import pytest
from django.db import DatabaseError

from guidance.models import CardStatus, Decision, DeclineReason, Dismissal, Recommendation
from guidance.services import evaluate_assessment
from interop.models import HookCard, HookFeedback
from tests.interop.ehr import Ehr, assert_outcome, hook_body, patient_resource, register

PATIENT_VIEW = "/cds-services/rls-patient-view"
FEEDBACK = PATIENT_VIEW + "/feedback"
WHEN = "2026-11-29T00:10:19.620Z"


@pytest.fixture
def shown(client, ehr, seeded):
    """The seeded patient's cards as the EHR got them, by rule code."""
    response = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient_resource("RLS-0042")))
    by_uuid = {card["uuid"]: card for card in response.json()["cards"]}
    return {h.rule.code: by_uuid[str(h.uuid)] for h in HookCard.objects.select_related("rule")}


def accepted(card: dict, when: str = WHEN) -> dict:
    suggestion = card["suggestions"][0]["uuid"]
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": when,
    }


def overridden(card: dict, reason: dict | None = None, comment: str | None = None) -> dict:
    override = {}
    if reason is not None:
        override["reason"] = reason
    if comment is not None:
        override["userComment"] = comment
    return {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": WHEN, **(
        {"overrideReason": override} if override else {}
    )}  # fmt: skip


def send(client, ehr, *items: dict, path: str = FEEDBACK):
    return ehr.post(client, path, {"feedback": list(items)})


def card_of(assessment, code: str) -> Recommendation:
    return Recommendation.objects.get(assessment=assessment, rule_code=code)


def test_accepting_an_option_accepts_it_as_the_ehr_with_its_critical_cautions(
    client, ehr, seeded, shown
):
    response = send(client, ehr, accepted(shown["MED-GABAPENTINOID"]))
    assert response.status_code == 200
    assert response.json() == {}
    option = card_of(seeded, "MED-GABAPENTINOID")
    assert option.status == CardStatus.ACCEPTED
    decision = option.latest_decision
    assert decision.by == ehr.client.user
    assert decision.comment == ("From Test EHR feedback, EHR user Practitioner/COREPRACTITIONER1.")
    # Every caution qualifying it (the critical breathing caution and the warnings alike)
    # is acknowledged with it, as in the app.
    carried = option.carried_cautions()
    assert {"SAFE-GABA-RESPIRATORY", "SAFE-GABA-MISUSE"} <= {c.rule_code for c in carried}
    for caution in carried:
        assert caution.status == CardStatus.ACKNOWLEDGED, caution.rule_code
        assert caution.latest_decision.with_option == option
        assert caution.latest_decision.by == ehr.client.user
    # The history names the EHR's account; the feedback is kept with its decision.
    assert option.history.first().history_user == ehr.client.user
    feedback = HookFeedback.objects.get()
    assert (feedback.decision, feedback.stale, feedback.outcome) == (decision, False, "accepted")
    assert not ehr.client.user.is_active
    assert not ehr.client.user.has_usable_password()


def test_the_same_feedback_twice_is_one_decision(client, ehr, seeded, shown):
    item = accepted(shown["IRON-SUPPLEMENT"])
    assert send(client, ehr, item).status_code == 200
    assert send(client, ehr, item).status_code == 200
    card = card_of(seeded, "IRON-SUPPLEMENT")
    assert card.decisions.count() == 1
    assert card.version == 2
    assert HookFeedback.objects.count() == 1


def test_a_decision_made_in_the_app_meanwhile_wins_and_the_feedback_is_stale(
    client, ehr, seeded, shown, clinician
):
    card = card_of(seeded, "IRON-SUPPLEMENT")
    card.decide(status="declined", reason="patient_declined", by=clinician, expected_version=1)
    response = send(client, ehr, accepted(shown["IRON-SUPPLEMENT"]))
    assert response.status_code == 200
    card.refresh_from_db()
    assert card.status == CardStatus.DECLINED
    assert [d.by for d in card.decisions.all()] == [clinician]
    feedback = HookFeedback.objects.get()
    assert (feedback.stale, feedback.decision) == (True, None)


def test_overriding_an_option_declines_it_with_the_mapped_reason(client, ehr, seeded, shown):
    # As the sandbox sends it: a code, no display.
    reason = {"code": "patient-refuses"}
    response = send(client, ehr, overridden(shown["IRON-SUPPLEMENT"], reason, "Prefers diet"))
    assert response.status_code == 200
    decision = card_of(seeded, "IRON-SUPPLEMENT").latest_decision
    assert (decision.status, decision.decline_reason, decision.by) == (
        CardStatus.DECLINED,
        DeclineReason.PATIENT_DECLINED,
        ehr.client.user,
    )
    assert decision.comment == (
        "From Test EHR feedback, EHR user Practitioner/COREPRACTITIONER1. Comment: Prefers diet"
    )
    feedback = HookFeedback.objects.get()
    assert (feedback.override_code, feedback.override_display, feedback.comment) == (
        "patient-refuses",
        "",
        "Prefers diet",
    )


@pytest.mark.parametrize(
    ("reason", "expected", "says"),
    [
        ({"code": "patient-contraindication"}, DeclineReason.CONTRAINDICATED, ""),
        ({"code": "action-completed"}, DeclineReason.ALREADY_IN_PLACE, ""),
        ({"code": "patient-ineligible"}, DeclineReason.NOT_APPROPRIATE, ""),
        (
            {"code": "too-costly-uncovered"},
            DeclineReason.OTHER,
            "Override reason: Recommended action is too costly or not covered by insurance "
            "(too-costly-uncovered).",
        ),
        (
            {"code": "X1", "system": "urn:ehr", "display": "Local reason"},
            DeclineReason.OTHER,
            "Override reason: Local reason (X1).",
        ),
        (
            {"display": "a display, but no code"},
            DeclineReason.OTHER,
            "From Test EHR feedback, EHR user Practitioner/COREPRACTITIONER1. "
            "Override reason: a display, but no code.",
        ),
    ],
)
def test_override_reasons_map_back_to_our_coded_reasons(
    client, ehr, seeded, shown, reason, expected, says
):
    assert send(client, ehr, overridden(shown["LIFE-EXERCISE"], reason)).status_code == 200
    decision = card_of(seeded, "LIFE-EXERCISE").latest_decision
    assert decision.decline_reason == expected
    assert says in decision.comment


def test_a_comment_alone_declines_an_option_as_other_with_that_comment(client, ehr, seeded, shown):
    item = overridden(shown["LIFE-EXERCISE"], comment="walks an hour a day already")
    assert send(client, ehr, item).status_code == 200
    decision = card_of(seeded, "LIFE-EXERCISE").latest_decision
    assert (decision.status, decision.decline_reason) == (CardStatus.DECLINED, DeclineReason.OTHER)
    assert "Comment: walks an hour a day already" in decision.comment


@pytest.mark.parametrize(
    "override", [None, {}, {"reason": {}}, {"reason": None, "userComment": ""}]
)
def test_a_plain_dismiss_is_kept_as_a_dismissal_not_as_a_decision(
    client, ehr, seeded, shown, clinician, override
):
    """The sandbox's "Dismiss" sends overridden with no reason: the clinician closed the
    card. It used to be recorded as a decline, "Other", with no comment, which the app's
    own form refuses."""
    items = [overridden(shown["LIFE-EXERCISE"]), overridden(shown["SAFE-GABA-MISUSE"])]
    for item in items:
        item.pop("overrideReason", None)
        if override is not None:
            item["overrideReason"] = override
    versions = {
        code: card_of(seeded, code).version for code in ("LIFE-EXERCISE", "SAFE-GABA-MISUSE")
    }
    assert send(client, ehr, *items).status_code == 200

    assert not Decision.objects.exists()
    for code, version in versions.items():
        card = card_of(seeded, code)
        assert (card.status, card.version) == (CardStatus.PENDING, version)
        (dismissal,) = card.dismissals.all()
        assert dismissal.by == ehr.client.user
        assert dismissal.where == "Test EHR feedback, EHR user Practitioner/COREPRACTITIONER1"
    assert all(feedback.dismissal for feedback in HookFeedback.objects.all())

    client.force_login(clinician)
    page = client.get(seeded.get_absolute_url()).content.decode()
    assert page.count("Dismissed in the EHR 1×") == 2
    assert "Dismissed without a reason, not a decision: Test EHR feedback" in page


def test_a_dismiss_of_a_card_decided_in_the_app_since_is_stale(
    client, ehr, seeded, shown, clinician
):
    card = card_of(seeded, "LIFE-EXERCISE")
    card.decide(status=CardStatus.ACCEPTED, by=clinician, expected_version=card.version)
    assert send(client, ehr, overridden(shown["LIFE-EXERCISE"])).status_code == 200
    feedback = HookFeedback.objects.get()
    assert (feedback.stale, feedback.dismissal) == (True, None)
    card.refresh_from_db()
    assert card.status == CardStatus.ACCEPTED
    assert not card.dismissals.exists()


def test_a_dismiss_after_an_accept_in_the_same_batch_is_stale(client, ehr, seeded, shown):
    """A review found dismissals recorded on the option the batch had just accepted, and
    on the critical caution its accept acknowledged: the card was compared as loaded."""
    items = [
        accepted(shown["MED-GABAPENTINOID"]),
        overridden(shown["SAFE-GABA-RESPIRATORY"]),
        overridden(shown["MED-GABAPENTINOID"]),
    ]
    assert send(client, ehr, *items).status_code == 200
    assert card_of(seeded, "MED-GABAPENTINOID").status == CardStatus.ACCEPTED
    assert card_of(seeded, "SAFE-GABA-RESPIRATORY").status == CardStatus.ACKNOWLEDGED
    assert not Dismissal.objects.exists()
    dismissed = HookFeedback.objects.filter(outcome="overridden")
    assert [(f.stale, f.dismissal) for f in dismissed] == [(True, None), (True, None)]


def test_a_batch_that_fails_part_way_records_none_of_it(client, ehr, seeded, shown, monkeypatch):
    """Item 0 used to be committed before item 1 failed: the EHR saw a failure for a batch
    that had half happened."""
    decide = Recommendation.decide

    def fail_on_the_second(card, **kwargs):
        if Decision.objects.filter(by=kwargs["by"]).exists():
            raise DatabaseError("the database went away")
        return decide(card, **kwargs)

    monkeypatch.setattr(Recommendation, "decide", fail_on_the_second)
    items = [accepted(shown["LIFE-SLEEP"]), accepted(shown["LIFE-EXERCISE"])]
    with pytest.raises(DatabaseError):
        send(client, ehr, *items)
    assert not HookFeedback.objects.exists()
    assert not Decision.objects.exists()
    assert card_of(seeded, "LIFE-SLEEP").status == CardStatus.PENDING


def test_a_lone_surrogate_in_a_batch_is_refused_before_anything_is_written(client, ehr, shown):
    item = overridden(shown["LIFE-EXERCISE"], comment="SURROGATE")
    raw = json.dumps({"feedback": [accepted(shown["LIFE-SLEEP"]), item]})
    raw = raw.replace("SURROGATE", "bad \\ud800 text")  # valid JSON: an escape
    assert json.loads(raw)["feedback"][1]["overrideReason"]["userComment"] == "bad \ud800 text"
    assert_outcome(ehr.post(client, FEEDBACK, raw), 400, "surrogate")
    assert not HookFeedback.objects.exists()
    assert not Decision.objects.exists()


def test_overriding_a_caution_acknowledges_it(client, ehr, seeded, shown):
    reason = {"code": "mitigate-risk-negative-outcome"}
    assert send(client, ehr, overridden(shown["SAFE-GABA-MISUSE"], reason)).status_code == 200
    decision = card_of(seeded, "SAFE-GABA-MISUSE").latest_decision
    assert decision.status == CardStatus.ACKNOWLEDGED
    assert decision.decline_reason == ""
    assert "Override reason: Action taken to mitigate risk of negative outcome" in (
        decision.comment
    )


def test_feedback_on_a_card_a_correction_has_removed_is_stale(client, ehr, seeded, shown):
    seeded.ferritin_ng_ml, seeded.tsat_percent = 250, 35
    seeded.save()
    evaluate_assessment(assessment=seeded)  # IRON-SUPPLEMENT no longer fires: its card goes
    assert not Recommendation.objects.filter(rule_code="IRON-SUPPLEMENT").exists()
    assert send(client, ehr, accepted(shown["IRON-SUPPLEMENT"])).status_code == 200
    feedback = HookFeedback.objects.get()
    assert (feedback.stale, feedback.decision) == (True, None)
    assert not Decision.objects.exists()


# Refused feedback changes nothing


def refused(client, ehr, *items, says="", path=FEEDBACK):
    assert_outcome(send(client, ehr, *items, path=path), 400, says)
    assert not HookFeedback.objects.exists()
    assert not Decision.objects.exists()


def test_accepting_a_caution_is_refused(client, ehr, shown):
    item = {**overridden(shown["SAFE-GABA-MISUSE"]), "outcome": "accepted"}
    refused(client, ehr, item, says="no suggestion")


def test_accepting_another_suggestion_is_refused(client, ehr, shown):
    item = accepted(shown["IRON-SUPPLEMENT"])
    item["acceptedSuggestions"] = [{"id": shown["LIFE-SLEEP"]["suggestions"][0]["uuid"]}]
    refused(client, ehr, item, says="the card's suggestion")


def test_an_unknown_card_is_refused_and_so_is_the_rest_of_the_body(client, ehr, shown):
    unknown = {**accepted(shown["IRON-SUPPLEMENT"]), "card": "9e137878-a458-43a7-9919-b729a9ba1f66"}
    refused(client, ehr, accepted(shown["LIFE-SLEEP"]), unknown, says="feedback[1].card")


def test_another_clients_card_is_refused(client, ehr, shown):
    other = Ehr(
        register(iss="https://other.example.org", name="Other"), iss="https://other.example.org"
    )
    refused(client, other, accepted(shown["IRON-SUPPLEMENT"]), says="not a card")


def test_a_card_of_another_service_is_refused(client, ehr, shown):
    path = "/cds-services/rls-order-select/feedback"
    refused(client, ehr, accepted(shown["IRON-SUPPLEMENT"]), says="not a card", path=path)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"outcome": "maybe"}, "outcome"),
        ({"outcomeTimestamp": None}, "outcomeTimestamp"),
        ({"outcomeTimestamp": "yesterday"}, "outcomeTimestamp"),
        ({"outcomeTimestamp": "2026-02-30T00:00:00Z"}, "outcomeTimestamp"),
        ({"card": 42}, "card"),
        ({"card": "not-a-uuid"}, "card"),
        ({"overrideReason": "patient-refuses"}, "overrideReason"),
        ({"overrideReason": {"reason": "patient-refuses"}}, "Coding"),
        ({"overrideReason": {"reason": {"code": 1}}}, "code must be a string"),
        ({"overrideReason": {"userComment": ["a"]}}, "userComment"),
    ],
)
def test_a_malformed_feedback_item_is_refused(client, ehr, shown, change, says):
    item = {**overridden(shown["IRON-SUPPLEMENT"]), **change}
    refused(client, ehr, {k: v for k, v in item.items() if v is not None}, says=says)


@pytest.mark.parametrize("body", [{}, {"feedback": []}, {"feedback": {}}, {"feedback": ["x"]}])
def test_a_body_without_feedback_items_is_refused(client, ehr, shown, body):
    assert_outcome(ehr.post(client, FEEDBACK, body), 400)
