"""Workflows that span assessments, rules and cards."""

from django.db import transaction

from guidance import engine
from guidance.models import Evaluation, Recommendation, Rule
from patients.models import Assessment


def evaluate_assessment(*, assessment: Assessment) -> Evaluation:
    """Run the active rules on a saved assessment and bring its cards in line.

    New fired rules get a card awaiting review. On a correction, undecided cards follow
    the new data: they move to the version that fires now, or go when their rule no
    longer fires. Decided cards stay, marked when their rule no longer fires.
    """
    with transaction.atomic():
        rules = list(Rule.objects.active())
        result = engine.evaluate(assessment.facts(), rules)
        fired = {rule.code: rule for rule in result.fired}
        failed = {item.rule.code for item in result.not_evaluated}
        cards = {
            card.rule_code: card
            for card in Recommendation.objects.select_for_update().filter(assessment=assessment)
        }

        for code, card in cards.items():
            if code in failed:
                continue  # no verdict this time: leave the card as it was
            if code in fired:
                changed = card.rule_id != fired[code].pk or not card.still_fires
                if not card.is_decided:
                    card.rule = fired[code]
                card.still_fires = True
                if changed:
                    card.save(update_fields=["rule", "still_fires"])
            elif card.is_decided:
                if card.still_fires:
                    card.still_fires = False
                    card.save(update_fields=["still_fires"])
            else:
                card.delete()  # never decided; its history keeps the record

        for code, rule in fired.items():
            if code not in cards:  # one by one, so each card's history starts here
                Recommendation.objects.create(assessment=assessment, rule=rule, rule_code=code)
        evaluation, _ = Evaluation.objects.update_or_create(
            assessment=assessment,
            defaults={
                "rules_evaluated": len(rules),
                "not_evaluated": [
                    {"rule": item.rule.code, "version": item.rule.version, "reason": item.reason}
                    for item in result.not_evaluated
                ],
            },
        )
    return evaluation
