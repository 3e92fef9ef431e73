from django.db import migrations

# The default rules were loaded here until their set gained kinds and qualified options
# (product.md version 2): they are now loaded, or brought up to date, by 0005, once the
# fields they need exist. Databases that ran this migration keep what it loaded.


class Migration(migrations.Migration):
    dependencies = [("guidance", "0001_initial")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
