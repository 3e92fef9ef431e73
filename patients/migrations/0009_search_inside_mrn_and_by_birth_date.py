"""Indexes for the patient search by part of an MRN and by date of birth
(PatientQuerySet.search).

- Date of birth: a plain index, on every database.
- Part of an MRN (`mrn LIKE '%0042%'`): on PostgreSQL a trigram index (pg_trgm, a
  "trusted" extension since PostgreSQL 13, which the database's owner may create). SQLite
  reads the MRNs through their index instead of the table; 100,000 take a few ms.
"""

from django.db import migrations, models

TRIGRAM = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    "CREATE INDEX IF NOT EXISTS patient_mrn_trigram "
    "ON patients_patient USING gin (mrn gin_trgm_ops)",
    # The extension stays: something else may use it.
    "DROP INDEX IF EXISTS patient_mrn_trigram",
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGRAM[0])


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGRAM[1])


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0008_patientaccess_ehr_user"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(fields=["date_of_birth"], name="patient_birth_date"),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
