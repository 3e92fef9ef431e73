"""What each rule version does in practice, over a period (issue 23): how often it was
evaluated and fired, for how many patients, what clinicians did with its cards and how
fast, and what came back through the EHR, kept apart from the decisions made here.

`rule_figures` gives the exact figures (for operators: manage.py rule_stats; the
governance page protects them, clinic.pages.governance). A fixed number of queries
whatever the number of patients: the versions, the evaluations, one pass over the period's
cards (statuses, patients, decline reasons and comments, times to a first decision, the
IRLS change at the next score: kept on each card for this, Recommendation.record and
guidance.services.refresh_irls_changes), the EHR's cards, feedback and dismissals,
adherence. On PostgreSQL the pass reads the index card_governance alone. No patient is
named in any of it.

Definitions (each figure's formula and denominator):

- evaluations: assessments evaluated while the version was active (from its activation
  to its retirement, or to the next version's activation), within the period;
- fired: its cards made within the period; patients: the distinct patients of those;
- accepted, declined, deferred, acknowledged, pending: those cards by their status now;
- declined_by_reason: the declined cards by the reason of their latest decision;
- acceptance_rate = accepted / (accepted + declined); decline_rate = declined /
  (accepted + declined); null when nothing was accepted or declined;
- time_to_decision_s: seconds from a card to its first decision, median and 90th
  percentile (nearest rank) of the cards decided at least once; null when none was;
- ehr: its cards returned through CDS Hooks within the period, the EHR's feedback on them
  (accepted, overridden), and the dismissals of its cards received within the period.
"""

import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
)
from django.utils import timezone

from guidance.models import (
    Adherence,
    AdherenceAnswer,
    CardStatus,
    DeclineReason,
    Dismissal,
    Evaluation,
    Recommendation,
    Rule,
    RuleStatus,
)
from interop.models import HookCard, HookFeedback, Outcome


@dataclass(frozen=True)
class Period:
    since: datetime  # inclusive
    until: datetime  # exclusive

    @classmethod
    def of_days(cls, first: date, last: date) -> "Period":
        """The clinic's calendar days from `first` to `last`, both included."""
        return cls(
            since=timezone.make_aware(datetime.combine(first, time())),
            until=timezone.make_aware(datetime.combine(last + timedelta(days=1), time())),
        )


def active_interval(rule: Rule, versions: list[Rule]) -> tuple[datetime, datetime | None] | None:
    """When a version was active: from its activation to its retirement (or the next
    activation of its code); None if it never was. A version loaded active from the
    default rules has no activation time: it was active from when it was saved."""
    if rule.status == RuleStatus.DRAFT:
        return None
    start = rule.activated_at or rule.created_at
    end = rule.retired_at
    if end is None and rule.status != RuleStatus.ACTIVE:
        later = [
            v.activated_at
            for v in versions
            if v.code == rule.code and v.activated_at and v.activated_at > start
        ]
        end = min(later) if later else start  # retired when, unknown: not counted
    return start, end


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(share * len(values)))
    return values[rank - 1]


STATS_KEYS = (
    "rule",
    "version",
    "evaluations",
    "fired",
    "patients",
    "accepted",
    "declined",
    "declined_by_reason",
    "deferred",
    "acknowledged",
    "pending",
    "acceptance_rate",
    "decline_rate",
    "time_to_decision_s",
    "ehr",
)
STALE_PENDING_DAYS = 7  # a card undecided for longer is counted apart


def rule_figures(
    period: Period, code: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Exact figures for every version active during the period or with cards in it:
    STATS_KEYS (manage.py rule_stats) and the governance page's further figures."""
    now = now or timezone.now()
    versions = list(Rule.objects.order_by("code", "version"))
    if code is not None:
        versions = [v for v in versions if v.code == code]
    in_period = Q(created_at__gte=period.since, created_at__lt=period.until)
    cards = Recommendation.objects.filter(in_period)
    if code is not None:
        cards = cards.filter(rule__in=versions)
    intervals = _intervals(versions, period)
    evaluations = _evaluations(intervals)
    stale = now - timedelta(days=STALE_PENDING_DAYS)
    declined = Q(status=CardStatus.DECLINED)
    pending = Q(status=CardStatus.PENDING)
    # Counted by rule (never null), not by id: every column the pass reads is in the
    # index card_governance, so PostgreSQL reads the index alone.
    by_status: dict[int, Any] = {
        row["rule_id"]: row
        for row in cards.values("rule_id").annotate(
            fired=Count("*"),
            patients=Count("patient", distinct=True),
            **{status: Count("rule", filter=Q(status=status)) for status in CardStatus.values},
            oldest_pending=Min("created_at", filter=pending),
            stale_pending=Count("rule", filter=pending & Q(created_at__lt=stale)),
            decided_once=Count("rule", filter=Q(first_decided_at__isnull=False)),
            declined_with_comment=Count("rule", filter=declined & Q(decline_commented=True)),
            **{
                f"reason_{reason}": Count("rule", filter=declined & Q(decline_reason=reason))
                for reason in DeclineReason.values
            },
            **{
                f"irls_{status}_{name}": aggregate
                for status in (CardStatus.ACCEPTED, CardStatus.DECLINED)
                for name, aggregate in (
                    ("n", Count("rule", filter=Q(status=status, irls_change__isnull=False))),
                    ("mean", Avg("irls_change", filter=Q(status=status))),
                )
            },
            **_wait_percentiles(),
        )
    }
    waits = {} if connection.vendor == "postgresql" else _waits(cards)
    ehr = _ehr(versions, period)
    overrides = _override_codes(versions, period)
    dismissed = dict(
        Dismissal.objects.filter(
            recommendation__rule__in=versions, at__gte=period.since, at__lt=period.until
        )
        .values("recommendation__rule_id")
        .annotate(n=Count("pk"))
        .values_list("recommendation__rule_id", "n")
    )
    adherence = _adherence(cards)

    figures = []
    for version in versions:
        if version.pk not in intervals and version.pk not in by_status:
            continue  # neither active in the period nor with a card in it
        counts = by_status.get(version.pk, {})
        accepted, declined = counts.get("accepted", 0), counts.get("declined", 0)
        decided = accepted + declined
        times = sorted(waits.get(version.pk, []))
        median, p90 = (
            (counts.get("wait_median"), counts.get("wait_p90"))
            if connection.vendor == "postgresql"
            else (statistics.median(times), percentile(times, 0.9))
            if times
            else (None, None)
        )
        hook = ehr.get(version.pk, {})
        oldest = counts.get("oldest_pending")
        figures.append(
            {
                "rule": version.code,
                "version": version.version,
                "evaluations": evaluations.get(f"v{version.pk}", 0),
                "fired": counts.get("fired", 0),
                "patients": counts.get("patients", 0),
                "accepted": accepted,
                "declined": declined,
                "declined_by_reason": {
                    reason: counts[f"reason_{reason}"]
                    for reason in sorted(DeclineReason.values)
                    if counts.get(f"reason_{reason}")
                },
                "deferred": counts.get("deferred", 0),
                "acknowledged": counts.get("acknowledged", 0),
                "pending": counts.get("pending", 0),
                "acceptance_rate": rate(accepted, decided),
                "decline_rate": rate(declined, decided),
                "time_to_decision_s": {"median": seconds(median), "p90": seconds(p90)},
                "ehr": {
                    "cards": hook.get("cards", 0),
                    "accepted": hook.get("accepted", 0),
                    "overridden": hook.get("overridden", 0),
                    "dismissed": dismissed.get(version.pk, 0),
                },
                # The governance page's further figures.
                "pk": version.pk,
                "declined_with_comment": counts.get("declined_with_comment", 0),
                "decided_once": counts.get("decided_once", 0),
                "never_decided": counts.get("fired", 0) - counts.get("decided_once", 0),
                "stale_pending": counts.get("stale_pending", 0),
                "oldest_pending_days": (now - oldest).days if oldest else None,
                "override_codes": dict(sorted(overrides.get(version.pk, {}).items())),
                "adherence": {
                    answer: adherence.get((version.pk, answer), 0)
                    for answer in AdherenceAnswer.values
                },
                "irls_change": {
                    status: {
                        "n": counts.get(f"irls_{status}_n", 0),
                        "mean": None
                        if counts.get(f"irls_{status}_mean") is None
                        else round(float(counts[f"irls_{status}_mean"]), 2),
                    }
                    for status in (CardStatus.ACCEPTED, CardStatus.DECLINED)
                },
            }
        )
    return figures


def _intervals(versions: list[Rule], period: Period) -> dict[int, tuple[datetime, datetime]]:
    """Each version's time active within the period, where it was."""
    intervals = {}
    for version in versions:
        interval = active_interval(version, versions)
        if interval is None:
            continue
        start, end = max(interval[0], period.since), min(interval[1] or period.until, period.until)
        if start < end:
            intervals[version.pk] = (start, end)
    return intervals


def _evaluations(intervals: dict[int, tuple[datetime, datetime]]) -> dict[str, int]:
    """Assessments evaluated while each version was active: one query for all."""
    if not intervals:
        return {}
    return Evaluation.objects.aggregate(
        **{
            f"v{pk}": Count("pk", filter=Q(evaluated_at__gte=start, evaluated_at__lt=end))
            for pk, (start, end) in intervals.items()
        }
    )


class Percentile(Aggregate):
    """PostgreSQL's ordered-set percentiles: percentile_cont interpolates (0.5 is the
    median as statistics.median gives it), percentile_disc takes the nearest rank."""

    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression: Any, fraction: float, *, continuous: bool, **extra: Any):
        function = "PERCENTILE_CONT" if continuous else "PERCENTILE_DISC"
        super().__init__(expression, function=function, fraction=fraction, **extra)


def _wait_percentiles() -> dict[str, Percentile]:
    """From a card to its first decision, median and 90th percentile, in the pass over
    the cards (PostgreSQL); SQLite has no percentiles: _waits reads the times instead."""
    if connection.vendor != "postgresql":
        return {}
    wait = ExpressionWrapper(F("first_decided_at") - F("created_at"), DurationField())
    decided = Q(first_decided_at__isnull=False)
    return {
        "wait_median": Percentile(wait, 0.5, continuous=True, filter=decided),
        "wait_p90": Percentile(wait, 0.9, continuous=False, filter=decided),
    }


def _waits(cards: Any) -> dict[int, list[float]]:
    """Seconds from each card to its first decision, for the cards decided at least once."""
    waits: dict[int, list[float]] = {}
    for rule_id, created, first in cards.filter(first_decided_at__isnull=False).values_list(
        "rule_id", "created_at", "first_decided_at"
    ):
        waits.setdefault(rule_id, []).append((first - created).total_seconds())
    return waits


def seconds(value: timedelta | float | None) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value


def _ehr(versions: list[Rule], period: Period) -> dict[int, Any]:
    """Cards returned through CDS Hooks in the period, and the EHR's feedback on them."""
    return {
        row["rule_id"]: row
        for row in HookCard.objects.filter(
            rule__in=versions, call__at__gte=period.since, call__at__lt=period.until
        )
        .values("rule_id")
        .annotate(
            cards=Count("pk", distinct=True),
            accepted=Count("feedback", filter=Q(feedback__outcome=Outcome.ACCEPTED)),
            overridden=Count("feedback", filter=Q(feedback__outcome=Outcome.OVERRIDDEN)),
        )
    }


def _override_codes(versions: list[Rule], period: Period) -> dict[int, dict[str, int]]:
    """The EHR's override codes on those cards ("" when it sent none)."""
    codes: dict[int, dict[str, int]] = {}
    for rule_id, code, n in (
        HookFeedback.objects.filter(
            outcome=Outcome.OVERRIDDEN,
            hook_card__rule__in=versions,
            hook_card__call__at__gte=period.since,
            hook_card__call__at__lt=period.until,
        )
        .values("hook_card__rule_id", "override_code")
        .annotate(n=Count("pk"))
        .values_list("hook_card__rule_id", "override_code", "n")
    ):
        codes.setdefault(rule_id, {})[code] = n
    return codes


def _adherence(cards: Any) -> dict[tuple[int, str], int]:
    """Answers at follow-ups about the cards (accepted options) of the period."""
    return {
        (rule_id, answer): n
        for rule_id, answer, n in Adherence.objects.filter(recommendation__in=cards)
        .values("recommendation__rule_id", "answer")
        .annotate(n=Count("pk"))
        .values_list("recommendation__rule_id", "answer", "n")
    }
