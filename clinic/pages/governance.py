"""The governance page's figures (issue 23): clinic.governance's exact figures, protected
as guidance.disclosure says and shaped for the page and its CSV, with the lists of rules
a governance committee looks at first.

What leaves this module is what may be shown: each count perturbed by its cell key (the
figure, the rule version and the period) and "fewer than 5" (None) below 5; each rate
worked out from the shown counts, never the exact ones (an exact 2% of an exact 100 would
give away a hidden 2); times and means only over 5 or more. The result is stored with its
job (guidance.models.Job) and is safe to show again or download.
"""

import math
from collections.abc import Iterable
from datetime import date
from typing import Any

from clinic.governance import Period, rule_figures
from guidance.disclosure import SMALLEST_SHOWN, definition_key, shown
from guidance.models import AdherenceAnswer, CardStatus, DeclineReason, Rule, RuleStatus

# The lists of candidates: screens for a committee to look at, not verdicts.
MOSTLY_DECLINED = 90  # % of decisions
DOMINANT_REASON = 75  # % of declines, with at least
DOMINANT_REASON_MINIMUM = 10  # declines
JUMP_FACTOR = 2  # a firing rate this many times the previous version's, or its inverse
JUMP_MINIMUM = 20  # evaluations of each version

# Every figure, its formula and its denominator, as the page and the CSV say them.
DEFINITIONS: dict[str, tuple[str, str]] = {
    "evaluations": (
        "Evaluations",
        "Assessments evaluated while this version was active, within the period. The "
        "denominator of the firing rate.",
    ),
    "fired": ("Fired", "Cards this version made within the period."),
    "firing_rate": ("Firing rate", "Fired ÷ evaluations."),
    "patients": ("Patients", "Distinct patients of those cards."),
    "accepted": ("Accepted", "Cards whose status is accepted now."),
    "declined": ("Declined", "Cards whose status is declined now."),
    "deferred": ("Deferred", "Cards whose status is deferred now."),
    "acknowledged": ("Acknowledged", "Caution cards acknowledged."),
    "pending": ("Pending", "Cards not yet decided."),
    "acceptance_rate": ("Acceptance rate", "Accepted ÷ (accepted + declined)."),
    "decline_rate": ("Decline rate", "Declined ÷ (accepted + declined)."),
    "declined_by_reason": (
        "Decline reasons",
        "Declined cards by the reason of their latest decision; share of declined.",
    ),
    "comment_share": (
        "Declines with a comment",
        "Declined cards whose latest decision carries a comment ÷ declined.",
    ),
    "time_to_decision": (
        "Time to first decision",
        "From the card to its first decision: median and 90th percentile (nearest rank) of "
        "the cards decided at least once; shown over 5 or more.",
    ),
    "never_decided": ("Never decided", "Fired − cards decided at least once."),
    "stale_pending": ("Pending over 7 days", "Pending cards made more than 7 days ago."),
    "oldest_pending": ("Oldest pending", "Age in days of the oldest pending card."),
    "ehr": (
        "Through the EHR",
        "Cards returned through CDS Hooks within the period; the EHR's feedback on them "
        "(accepted, overridden, with its override codes); dismissals received. Never "
        "added to the decisions made here.",
    ),
    "adherence": (
        "Adherence at follow-up",
        "Answers at follow-ups about this version's accepted options: did the patient follow it.",
    ),
    "irls_change": (
        "IRLS change at the next score",
        "For cards with an IRLS total on their assessment: the patient's next assessment's "
        "IRLS total minus it, mean, for accepted against declined (follow-up re-scores not "
        "counted); shown over 5 or more.",
    ),
}


def governance_figures(period: Period, since: date, until: date) -> dict[str, Any]:
    """The page's figures for every rule version over the period, protected."""
    versions = {rule.pk: rule for rule in Rule.objects.all()}
    rows = [
        _row(figures, versions[figures["pk"]], versions, f"{since}|{until}")
        for figures in rule_figures(period)
    ]
    rows.sort(key=lambda row: (row["rank"], row["rule"], row["version"]))
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "days": (until - since).days + 1,
        "rows": rows,
        "candidates": candidates(rows, versions.values()),
    }


def _row(
    figures: dict[str, Any], rule: Rule, versions: dict[int, Rule], period: str
) -> dict[str, Any]:
    def count(name: str, exact: int) -> int | None:
        return shown(
            exact, definition_key(f"{name}|{rule.pk}|{period}", exact), zero_shown=True
        ).value

    ehr = figures["ehr"]
    counts = {
        name: count(name, figures[name])
        for name in (
            "evaluations",
            "fired",
            "patients",
            "accepted",
            "declined",
            "deferred",
            "acknowledged",
            "pending",
            "never_decided",
            "stale_pending",
            "declined_with_comment",
            "decided_once",
        )
    } | {f"ehr_{name}": count(f"ehr_{name}", value) for name, value in ehr.items()}
    decided = count("decided", figures["accepted"] + figures["declined"])
    declined = counts["declined"]
    reasons = {
        DeclineReason(reason).label if reason in DeclineReason.values else reason: count(
            f"reason_{reason}", n
        )
        for reason, n in figures["declined_by_reason"].items()
    }
    times = figures["time_to_decision_s"]
    timed = _enough(counts["decided_once"])
    previous = max(
        (v.version for v in versions.values() if v.code == rule.code and v.version < rule.version),
        default=None,
    )
    irls = {
        status: {
            "n": (n := count(f"irls_{status}", change["n"])),
            "mean": change["mean"] if _enough(n) else None,
        }
        for status, change in figures["irls_change"].items()
    }
    return {
        "rule": rule.code,
        "version": rule.version,
        "title": rule.title,
        "status": rule.get_status_display(),
        "indicator": rule.get_indicator_display(),
        "rank": rule.rank,
        "owner": rule.owner,
        "review_by": rule.review_by.isoformat() if rule.review_by else None,
        "review_overdue": rule.status != RuleStatus.RETIRED and rule.review_overdue,
        "previous": previous,
        "counts": counts,
        "decided": decided,
        "firing_rate": share(counts["fired"], counts["evaluations"]),
        "acceptance_rate": share(counts["accepted"], decided),
        "decline_rate": share(declined, decided),
        "comment_share": share(counts["declined_with_comment"], declined),
        "reasons": {reason: [n, share(n, declined)] for reason, n in reasons.items()},
        "time_median": duration(times["median"]) if timed else None,
        "time_p90": duration(times["p90"]) if timed else None,
        "oldest_pending_days": figures["oldest_pending_days"]
        if _enough(counts["pending"])
        else None,
        "override_codes": {
            code or "(none sent)": count(f"override_{code}", n)
            for code, n in figures["override_codes"].items()
        },
        "adherence": {
            AdherenceAnswer(answer).label: count(f"adherence_{answer}", n)
            for answer, n in figures["adherence"].items()
        },
        "irls_change": {CardStatus(status).label: change for status, change in irls.items()},
    }


def _enough(count: int | None) -> bool:
    return count is not None and count >= SMALLEST_SHOWN


def share(part: int | None, whole: int | None) -> str | None:
    """A percentage of shown counts, as text: None when the whole is under 5 (or hidden);
    "under N%" when the part is hidden, N the smallest share a shown count could be."""
    if not _enough(whole):
        return None
    assert whole is not None
    if part is None:
        return f"under {math.ceil(100 * SMALLEST_SHOWN / whole)}%"
    return f"{min(100, round(100 * part / whole))}%"


def percent(text: str | None) -> int | None:
    """A shown share's number, when it is one ("40%" is 40, "under 5%" is None)."""
    return int(text[:-1]) if text and text[0].isdigit() else None


def duration(seconds: float | None) -> str | None:
    """A time rounded as a person reads it: "under 1 min", "12 min", "3.4 h", "2.1 days"."""
    if seconds is None:
        return None
    if seconds < 60:
        return "under 1 min"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def candidates(rows: list[dict[str, Any]], rules: Iterable[Rule]) -> dict[str, list[str]]:
    """The rule versions to look at first, from the shown figures only."""
    active = {(rule.code, rule.version) for rule in rules if rule.is_active}
    by_version = {(row["rule"], row["version"]): row for row in rows}
    never_fired, declined, dominant, jumps, overdue = [], [], [], [], []
    for row in rows:
        name = f"{row['rule']} v{row['version']}"
        counts = row["counts"]
        if (row["rule"], row["version"]) in active and counts["fired"] == 0:
            never_fired.append(name)
        if (percent(row["decline_rate"]) or 0) >= MOSTLY_DECLINED:
            declined.append(f"{name}: {row['decline_rate']} declined")
        if (counts["declined"] or 0) >= DOMINANT_REASON_MINIMUM:
            for reason, (_, reason_share) in row["reasons"].items():
                if (percent(reason_share) or 0) >= DOMINANT_REASON:
                    dominant.append(f"{name}: {reason_share} “{reason}”")
        before = by_version.get((row["rule"], row["previous"]))
        if before is not None:
            jump = _jump(before, row)
            if jump:
                jumps.append(f"{name}: {jump}")
        if row["review_overdue"]:
            overdue.append(name)
    return {
        "never_fired": never_fired,
        "mostly_declined": declined,
        "dominant_reason": dominant,
        "firing_rate_jump": jumps,
        "review_overdue": overdue,
    }


def _jump(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """A firing rate JUMP_FACTOR times (or a JUMP_FACTOR-th of) the previous version's."""
    rates = []
    for row in (before, after):
        evaluations, fired = row["counts"]["evaluations"], row["counts"]["fired"]
        if evaluations is None or evaluations < JUMP_MINIMUM or fired is None:
            return None
        rates.append(fired / evaluations)
    old, new = rates
    if old == new or not (old and new):
        return None if old == new else f"firing rate {_pct(old)} → {_pct(new)}"
    if new / old >= JUMP_FACTOR or old / new >= JUMP_FACTOR:
        return f"firing rate {_pct(old)} → {_pct(new)}"
    return None


def _pct(value: float) -> str:
    return f"{round(100 * value)}%"
