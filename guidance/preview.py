"""How a draft rule would have fired on recent assessments: counts only, no identities.

A count from 1 to 4 is shown as "fewer than 5": an admin who knows one patient's values
could otherwise write a condition that only that patient meets and read the answer from a
count of 1. (Zero reveals nothing about anyone and is shown as it is.)
"""

from dataclasses import dataclass

from guidance.engine import evaluate
from guidance.models import Rule
from patients.models import Assessment

PREVIEW_SIZE = 1000
SMALLEST_SHOWN = 5
FEWER_THAN_SMALLEST = f"fewer than {SMALLEST_SHOWN}"


def shown_count(count: int) -> str:
    """A count as the preview may show it."""
    if 0 < count < SMALLEST_SHOWN:
        return FEWER_THAN_SMALLEST
    return f"{count:,}"


@dataclass(frozen=True)
class Preview:
    """Counts as shown: only shown_count's text leaves this module."""

    assessments: int  # how many recent assessments were run: says nothing about any one
    draft_fires: str
    active_fires: str | None  # None when the code has no active version
    not_evaluated: str


def preview_counts(draft: Rule, active: Rule | None) -> Preview:
    recent = Assessment.objects.select_related("patient").order_by("-assessed_at")[:PREVIEW_SIZE]
    draft_fires = active_fires = not_evaluated = 0
    count = 0
    for assessment in recent:
        count += 1
        facts = assessment.facts()
        result = evaluate(
            facts, [draft] if active is None or active.pk == draft.pk else [draft, active]
        )
        fired = {rule.pk for rule in result.fired}
        draft_fires += draft.pk in fired
        active_fires += active is not None and active.pk in fired
        not_evaluated += any(item.rule.pk == draft.pk for item in result.not_evaluated)
    return Preview(
        count,
        shown_count(draft_fires),
        shown_count(active_fires) if active else None,
        shown_count(not_evaluated),
    )
