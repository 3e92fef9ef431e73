from django.db import migrations

# The default rules were brought to product.md version 2 here until their set gained a
# strength on every option (version 3): they are now loaded, or brought up to date, by
# 0009, once the field exists. Databases that ran this migration keep what it loaded.


class Migration(migrations.Migration):
    dependencies = [("guidance", "0004_kinds_because_acknowledged")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
