"""manage.py rule_stats (issue 23): each rule version's figures over a period, checked
against figures computed by hand on a known set of versions, evaluations, cards,
decisions and EHR feedback."""

import json
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guidance.models import (
    Adherence,
    Decision,
    DeclineReason,
    Dismissal,
    Evaluation,
    Kind,
    Recommendation,
    Rule,
    RuleStatus,
)
from guidance.services import refresh_irls_changes
from interop.models import HookCard, HookFeedback
from patients.models import Assessment, FollowUp
from tests.base import make_assessment, make_patient
from tests.interop.ehr import recorded_call

CODE = "TEST-GOVERNANCE"


@pytest.fixture
def known(frozen_clock, clinician):
    """Three versions of one rule: v1 active 30 to 10 days ago, v2 active since, v3 a
    draft. The period asked for is the last 20 days."""
    now = timezone.now()
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    base = {
        "code": CODE,
        "title": "Governance test rule",
        "detail": "Detail",
        "category": "lifestyle",
        "indicator": "info",
        "kind": Kind.OPTION,
        "strength": "not_graded",
        "condition": "true",
        "source": "Test",
        "evidence": "Test",
    }
    v1 = Rule.objects.create(
        **base, version=1, status=RuleStatus.RETIRED, activated_at=days(30), retired_at=days(10)
    )
    v2 = Rule.objects.create(**base, version=2, status=RuleStatus.ACTIVE, activated_at=days(10))
    Rule.objects.create(**base, version=3, status=RuleStatus.DRAFT)

    def evaluated(at):
        assessment = make_assessment(make_patient(), clinician)
        Evaluation.objects.create(assessment=assessment, evaluated_at=at)
        return assessment

    for at in (days(25), days(15), days(12), days(11)):  # v1: the first before the period
        evaluated(at)
    for at in (days(9), days(2)):  # v2
        evaluated(at)

    one_patient = make_patient()

    def card(rule, made, status, decisions=()):
        assessment = make_assessment(
            one_patient if rule.version == 2 else make_patient(), clinician
        )
        made_at = days(made)
        card = Recommendation.objects.create(
            assessment=assessment, rule=rule, rule_code=CODE, status=status, created_at=made_at
        )
        for after, decided, reason in decisions:
            Decision.objects.create(
                recommendation=card,
                status=decided,
                decline_reason=reason,
                comment="why" if reason == DeclineReason.OTHER else "",
                by=clinician,
                at=made_at + timedelta(seconds=after),
            )
        return card

    card(v1, 25, "accepted", [(5, "accepted", "")])  # before the period: left out
    card(v1, 15, "accepted", [(60, "accepted", "")])
    card(v1, 14, "declined", [(120, "declined", DeclineReason.NOT_APPROPRIATE)])
    card(v1, 13, "pending")
    c4 = card(v2, 9, "declined", [(300, "declined", DeclineReason.PATIENT_DECLINED)])
    card(
        v2,
        8,
        "declined",
        [(10, "deferred", ""), (20, "declined", DeclineReason.NOT_APPROPRIATE),
         (30, "declined", DeclineReason.OTHER)],
    )  # fmt: skip
    c6 = card(v2, 7, "deferred", [(40, "deferred", "")])
    card(v2, 6, "acknowledged", [(50, "acknowledged", "")])
    card(v2, 5, "accepted", [(1000, "accepted", "")])

    call = recorded_call(at=days(4))
    first = HookCard.objects.create(call=call, rule=v2, recommendation=c4)
    second = HookCard.objects.create(call=call, rule=v2, recommendation=c6)
    HookFeedback.objects.create(hook_card=first, outcome="accepted", outcome_timestamp=days(4))
    HookFeedback.objects.create(hook_card=second, outcome="overridden", outcome_timestamp=days(4))
    Dismissal.objects.create(recommendation=c6, by=clinician, where="EHR", at=days(3))
    return now


def stats(*args):
    out = StringIO()
    call_command("rule_stats", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_the_figures_match_those_computed_by_hand(known):
    result = stats("--rule", CODE, "--since", "2026-11-06", "--until", "2026-11-26")
    assert (result["since"], result["until"]) == ("2026-11-06", "2026-11-26")
    v1, v2, *rest = result["rules"]
    assert rest == []  # version 3, a draft without cards, did nothing
    assert v1 == {
        "rule": CODE,
        "version": 1,
        "evaluations": 3,  # 15, 12 and 11 days ago; 25 days ago is before the period
        "fired": 3,
        "patients": 3,
        "accepted": 1,
        "declined": 1,
        "declined_by_reason": {"not_appropriate": 1},
        "deferred": 0,
        "acknowledged": 0,
        "pending": 1,
        "acceptance_rate": 0.5,
        "decline_rate": 0.5,
        "time_to_decision_s": {"median": 90.0, "p90": 120.0},
        "ehr": {"cards": 0, "accepted": 0, "overridden": 0, "dismissed": 0},
    }
    assert v2 == {
        "rule": CODE,
        "version": 2,
        "evaluations": 2,
        "fired": 5,
        "patients": 1,  # all five for one patient
        "accepted": 1,
        "declined": 2,
        "declined_by_reason": {"other": 1, "patient_declined": 1},  # the latest reason
        "deferred": 1,
        "acknowledged": 1,
        "pending": 0,
        "acceptance_rate": 0.3333,
        "decline_rate": 0.6667,
        # first decisions after 300, 10, 40, 50 and 1000 s
        "time_to_decision_s": {"median": 50.0, "p90": 1000.0},
        "ehr": {"cards": 2, "accepted": 1, "overridden": 1, "dismissed": 1},
    }


def test_rates_and_times_are_null_without_a_denominator(known):
    result = stats("--rule", CODE, "--since", "2026-11-25", "--until", "2026-11-26")
    [v2] = result["rules"]  # active, nothing fired in those two days
    assert (v2["fired"], v2["evaluations"]) == (0, 0)
    assert (v2["acceptance_rate"], v2["decline_rate"]) == (None, None)
    assert v2["time_to_decision_s"] == {"median": None, "p90": None}


def test_the_default_period_is_the_last_90_days(known):
    result = stats()
    assert (result["since"], result["until"]) == ("2026-08-29", "2026-11-26")
    assert [row["version"] for row in result["rules"] if row["rule"] == CODE] == [1, 2]


def test_a_default_rule_counts_as_active_from_when_it_was_loaded(db, clinician):
    """Loaded active from the defaults, it has no activation time."""
    rule = Rule.objects.active().get(code="LIFE-SLEEP")
    assert rule.activated_at is None
    Evaluation.objects.create(assessment=make_assessment(make_patient(), clinician))
    [row] = stats("--rule", "LIFE-SLEEP")["rules"]
    assert (row["version"], row["evaluations"]) == (rule.version, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "Not a date"),
        (["--since", "2026-11-20", "--until", "2026-11-10"], "--since is after --until"),
        (["--rule", "NO-SUCH-RULE"], "No rule 'NO-SUCH-RULE'"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(db, args, message):
    with pytest.raises(CommandError, match=message):
        stats(*args)


def test_the_query_count_does_not_grow_with_patients(known, clinician):
    from clinic.governance import Period, rule_figures

    period = Period(known - timedelta(days=90), known)
    v2 = Rule.objects.get(code=CODE, version=2)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            rule_figures(period)
        return len(captured)

    before = queries()
    for _ in range(20):  # 20 more patients, each with a card decided and one pending
        assessment = make_assessment(make_patient(), clinician)
        for status in ("declined", "pending"):
            card = Recommendation.objects.create(
                assessment=assessment, rule=v2, rule_code=f"{CODE}-{status}", status=status
            )
            if status == "declined":
                Decision.objects.create(
                    recommendation=card, status=status, decline_reason="other", by=clinician
                )
    assert queries() == before <= 10


def test_the_governance_pages_further_figures_match_those_computed_by_hand(known):
    from clinic.governance import Period, rule_figures

    period = Period.of_days(date(2026, 11, 6), date(2026, 11, 26))
    v1, v2 = rule_figures(period, CODE, now=known)
    assert {key: v1[key] for key in FURTHER} == {
        "declined_with_comment": 0,
        "decided_once": 2,
        "never_decided": 1,  # the pending card
        "stale_pending": 1,  # made 13 days ago
        "oldest_pending_days": 13,
        "override_codes": {},
    }
    assert {key: v2[key] for key in FURTHER} == {
        "declined_with_comment": 1,  # the latest decline, "other", says why
        "decided_once": 5,
        "never_decided": 0,
        "stale_pending": 0,
        "oldest_pending_days": None,
        "override_codes": {"": 1},  # overridden without a code
    }


FURTHER = (
    "declined_with_comment",
    "decided_once",
    "never_decided",
    "stale_pending",
    "oldest_pending_days",
    "override_codes",
)


def test_adherence_and_the_irls_change_at_the_next_score(frozen_clock, clinician):
    """Two accepted cards (IRLS 24 then 18, 20 then 16) and one declined (22 then 23);
    answers at a follow-up about the accepted ones."""
    from clinic.governance import Period, rule_figures

    rule = Rule.objects.active().get(code="LIFE-SLEEP")
    now = timezone.now()
    cards = []
    for status, before, after in (("accepted", 24, 18), ("accepted", 20, 16), ("declined", 22, 23)):
        patient = make_patient()
        first = make_assessment(patient, clinician, assessed_at=now - timedelta(days=20))
        Assessment.objects.filter(pk=first.pk).update(irls_total=before)
        make_assessment(patient, clinician, assessed_at=now - timedelta(days=30))  # earlier
        later = make_assessment(patient, clinician, assessed_at=now - timedelta(days=10))
        Assessment.objects.filter(pk=later.pk).update(irls_total=after)
        cards.append(
            Recommendation.objects.create(
                assessment=first,
                rule=rule,
                rule_code=rule.code,
                status=status,
                created_at=now - timedelta(days=20),
            )
        )
    for card in cards:
        refresh_irls_changes(card.assessment)  # as saving an assessment does
    followup = FollowUp.objects.create(
        patient=cards[0].assessment.patient, due_date=date(2026, 11, 20), scheduled_by=clinician
    )
    Adherence.objects.create(followup=followup, recommendation=cards[0], answer="yes")
    Adherence.objects.create(followup=followup, recommendation=cards[1], answer="partly")
    [row] = rule_figures(Period(now - timedelta(days=90), now), "LIFE-SLEEP")
    assert row["adherence"] == {"yes": 1, "partly": 1, "no": 0, "not_yet": 0}
    assert row["irls_change"] == {
        "accepted": {"n": 2, "mean": -5.0},
        "declined": {"n": 1, "mean": 1.0},
    }
