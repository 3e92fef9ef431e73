from django.db import migrations

from guidance.default_rules import load_default_rules


def load(apps, schema_editor):
    """A fresh install gets the default rules; a database holding version 1 or 2 of them gets
    product.md version 3 as new versions of the changed codes (old versions retired and
    kept; cards keep the version that produced them). Rules an admin has edited are left
    alone."""
    load_default_rules(apps.get_model("guidance", "Rule"))


class Migration(migrations.Migration):
    dependencies = [("guidance", "0008_rule_strength")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
