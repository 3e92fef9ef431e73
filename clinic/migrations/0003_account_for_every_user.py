from django.db import migrations


def create_accounts(apps, schema_editor):
    """Every existing user gets an account (new ones get theirs from clinic.signals)."""
    User = apps.get_model("auth", "User")
    Account = apps.get_model("clinic", "Account")
    missing = User.objects.filter(account__isnull=True).values_list("pk", flat=True)
    Account.objects.bulk_create([Account(user_id=pk) for pk in missing], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("clinic", "0002_accounts"),
    ]

    operations = [
        migrations.RunPython(create_accounts, migrations.RunPython.noop),
    ]
