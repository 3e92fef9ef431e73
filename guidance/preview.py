"""How a draft rule would have fired on recent assessments: counts only, no identities."""

from dataclasses import dataclass

from guidance.engine import evaluate
from guidance.models import Rule
from patients.models import Assessment

PREVIEW_SIZE = 1000


@dataclass(frozen=True)
class Preview:
    assessments: int
    draft_fires: int
    active_fires: int | None  # None when the code has no active version
    not_evaluated: int


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
    return Preview(count, draft_fires, active_fires if active else None, not_evaluated)
