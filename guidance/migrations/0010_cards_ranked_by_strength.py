from django.db import migrations

# Rule.rank as of product.md version 3, frozen here: critical 0; options by strength
# (strong 1, conditional 2, not graded 3, against standard use 4); warning cautions 5,
# info cautions 6.
STRENGTHS = ["strong", "conditional", "not_graded", "against_standard_use"]


def rank(rule):
    if rule.indicator == "critical":
        return 0
    if rule.kind == "option":
        return 1 + STRENGTHS.index(rule.strength or "not_graded")
    return 5 if rule.indicator == "warning" else 6


def rerank(apps, schema_editor):
    """Every card's place in the review queue, from its rule version: one update a version
    (a few dozen), not one a card."""
    Rule = apps.get_model("guidance", "Rule")
    Recommendation = apps.get_model("guidance", "Recommendation")
    for rule in Rule.objects.all():
        Recommendation.objects.filter(rule_id=rule.pk).update(indicator_rank=rank(rule))


class Migration(migrations.Migration):
    dependencies = [("guidance", "0009_default_rules_version_3")]

    operations = [migrations.RunPython(rerank, migrations.RunPython.noop)]
