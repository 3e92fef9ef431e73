"""What each rule version does in practice, over a period (issue 23): how often it was
evaluated and fired, for how many patients, what clinicians did with its cards and how
fast, and what came back through the EHR, kept apart from the decisions made here.

`rule_figures` gives the exact figures (for operators: manage.py rule_stats). A fixed
number of queries whatever the number of patients: the versions, the evaluations, the
cards by status, the decline reasons, the times to a first decision, the EHR's cards and
feedback, and the dismissals. No patient is named in any of it.

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
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, OuterRef, Q, Subquery

from guidance.models import (
    CardStatus,
    Decision,
    Dismissal,
    Evaluation,
    Recommendation,
    Rule,
    RuleStatus,
)
from interop.models import HookCard, Outcome


@dataclass(frozen=True)
class Period:
    since: datetime  # inclusive
    until: datetime  # exclusive


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


def rule_figures(period: Period, code: str | None = None) -> list[dict[str, Any]]:
    """Exact figures for every version active during the period or with cards in it."""
    versions = list(Rule.objects.order_by("code", "version"))
    if code is not None:
        versions = [v for v in versions if v.code == code]
    in_period = Q(created_at__gte=period.since, created_at__lt=period.until)
    cards = Recommendation.objects.filter(in_period, rule__in=versions)

    intervals: dict[int, tuple[datetime, datetime]] = {}
    for version in versions:
        interval = active_interval(version, versions)
        if interval is None:
            continue
        start, end = max(interval[0], period.since), min(interval[1] or period.until, period.until)
        if start < end:
            intervals[version.pk] = (start, end)
    evaluations = (
        Evaluation.objects.aggregate(
            **{
                f"v{pk}": Count("pk", filter=Q(evaluated_at__gte=start, evaluated_at__lt=end))
                for pk, (start, end) in intervals.items()
            }
        )
        if intervals
        else {}
    )

    by_status: dict[int, Any] = {
        row["rule_id"]: row
        for row in cards.values("rule_id").annotate(
            fired=Count("pk"),
            patients=Count("assessment__patient", distinct=True),
            **{
                status: Count("pk", filter=Q(status=status))
                for status in (
                    CardStatus.ACCEPTED,
                    CardStatus.DECLINED,
                    CardStatus.DEFERRED,
                    CardStatus.ACKNOWLEDGED,
                    CardStatus.PENDING,
                )
            },
        )
    }
    latest_reason = Subquery(
        Decision.objects.filter(recommendation=OuterRef("pk"))
        .order_by("-at", "-pk")
        .values("decline_reason")[:1]
    )
    reasons: dict[int, dict[str, int]] = {}
    for row in (
        cards.filter(status=CardStatus.DECLINED)
        .annotate(reason=latest_reason)
        .values("rule_id", "reason")
        .annotate(n=Count("pk"))
    ):
        reasons.setdefault(row["rule_id"], {})[row["reason"]] = row["n"]
    waits: dict[int, list[float]] = {}
    for rule_id, created, first in (
        cards.annotate(first=Min("decisions__at"))
        .filter(first__isnull=False)
        .values_list("rule_id", "created_at", "first")
    ):
        waits.setdefault(rule_id, []).append((first - created).total_seconds())
    ehr: dict[int, Any] = {
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
    dismissed = dict(
        Dismissal.objects.filter(
            recommendation__rule__in=versions, at__gte=period.since, at__lt=period.until
        )
        .values("recommendation__rule_id")
        .annotate(n=Count("pk"))
        .values_list("recommendation__rule_id", "n")
    )

    figures = []
    for version in versions:
        if version.pk not in intervals and version.pk not in by_status:
            continue  # neither active in the period nor with a card in it
        counts = by_status.get(version.pk, {})
        accepted, declined = counts.get("accepted", 0), counts.get("declined", 0)
        decided = accepted + declined
        times = sorted(waits.get(version.pk, []))
        hook = ehr.get(version.pk, {})
        figures.append(
            {
                "rule": version.code,
                "version": version.version,
                "evaluations": evaluations.get(f"v{version.pk}", 0),
                "fired": counts.get("fired", 0),
                "patients": counts.get("patients", 0),
                "accepted": accepted,
                "declined": declined,
                "declined_by_reason": dict(sorted(reasons.get(version.pk, {}).items())),
                "deferred": counts.get("deferred", 0),
                "acknowledged": counts.get("acknowledged", 0),
                "pending": counts.get("pending", 0),
                "acceptance_rate": rate(accepted, decided),
                "decline_rate": rate(declined, decided),
                "time_to_decision_s": {
                    "median": statistics.median(times) if times else None,
                    "p90": percentile(times, 0.9) if times else None,
                },
                "ehr": {
                    "cards": hook.get("cards", 0),
                    "accepted": hook.get("accepted", 0),
                    "overridden": hook.get("overridden", 0),
                    "dismissed": dismissed.get(version.pk, 0),
                },
            }
        )
    return figures
