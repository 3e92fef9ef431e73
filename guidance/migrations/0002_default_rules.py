from django.db import migrations

from guidance.default_rules import load_default_rules


def load(apps, schema_editor):
    load_default_rules(apps.get_model("guidance", "Rule"))


class Migration(migrations.Migration):
    dependencies = [("guidance", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
