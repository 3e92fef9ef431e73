"""Indexes for patient search by name or MRN prefix (PatientQuerySet.search).

The search is `family_name__istartswith` / `given_name__istartswith` / `mrn__startswith`,
which each database runs differently, so each gets the index its planner can use:

- PostgreSQL: `UPPER(name::text) LIKE UPPER('smi%')` uses an expression index with
  text_pattern_ops (it works under any collation). The MRN's unique constraint already
  comes with Django's varchar_pattern_ops "_like" index.
- SQLite: `name LIKE 'smi%' ESCAPE '\\'` is case-insensitive and uses an index declared
  COLLATE NOCASE (SQLite's LIKE optimisation).

The README's Performance section shows the query plans.
"""

from django.db import migrations

POSTGRESQL = [
    (
        "CREATE INDEX IF NOT EXISTS patient_family_name_prefix "
        "ON patients_patient (UPPER(family_name::text) text_pattern_ops)",
        "DROP INDEX IF EXISTS patient_family_name_prefix",
    ),
    (
        "CREATE INDEX IF NOT EXISTS patient_given_name_prefix "
        "ON patients_patient (UPPER(given_name::text) text_pattern_ops)",
        "DROP INDEX IF EXISTS patient_given_name_prefix",
    ),
]
SQLITE = [
    (
        "CREATE INDEX IF NOT EXISTS patient_family_name_prefix "
        "ON patients_patient (family_name COLLATE NOCASE)",
        "DROP INDEX IF EXISTS patient_family_name_prefix",
    ),
    (
        "CREATE INDEX IF NOT EXISTS patient_given_name_prefix "
        "ON patients_patient (given_name COLLATE NOCASE)",
        "DROP INDEX IF EXISTS patient_given_name_prefix",
    ),
    (
        "CREATE INDEX IF NOT EXISTS patient_mrn_prefix ON patients_patient (mrn COLLATE NOCASE)",
        "DROP INDEX IF EXISTS patient_mrn_prefix",
    ),
]


def statements(schema_editor, index):
    vendor = schema_editor.connection.vendor
    chosen = POSTGRESQL if vendor == "postgresql" else SQLITE if vendor == "sqlite" else []
    for pair in chosen:
        schema_editor.execute(pair[index])


def create(apps, schema_editor):
    statements(schema_editor, 0)


def drop(apps, schema_editor):
    statements(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("patients", "0003_patient_latest_cows_total_patient_latest_irls_total_and_more")]

    operations = [migrations.RunPython(create, drop)]
