"""Demo accounts (one per role and a superuser), a dozen fictional patients, and a few
assessments with their suggestion cards.

Safe to run again: accounts get their demo password back, patients are added only once.
Refuses to run with DEBUG off unless --force, so a production database never gets
accounts with published passwords by accident.
"""

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from clinic.roles import CLINICIANS, GUIDANCE_ADMINS, STAFF
from guidance.services import save_assessment
from patients.facts import CRITERIA as RLS_CRITERIA
from patients.models import Assessment, FollowUp, Patient
from patients.scales import SCALES

DEMO_PASSWORD = "demo-pass-2026"

DEMO_ACCOUNTS = [
    # username, full name, group (None for the superuser)
    ("clinician", "Dr Rowan Ellis", CLINICIANS),
    ("staff", "Sam Okafor", STAFF),
    ("guidance", "Priya Natarajan", GUIDANCE_ADMINS),
    ("admin", "Site Administrator", None),
]

# Invented people: any likeness to a real patient is coincidence.
DEMO_PATIENTS = [
    ("DEMO-0001", "Avery", "Lindqvist", date(1988, 3, 14), "female"),
    ("DEMO-0002", "Marcus", "Oyelaran", date(1975, 11, 2), "male"),
    ("DEMO-0003", "Jo", "Carrow", date(1999, 7, 21), "other"),
    ("DEMO-0004", "Helena", "Brightwater", date(1958, 1, 30), "female"),
    ("DEMO-0005", "Tobias", "Renquist", date(1992, 5, 9), "male"),
    ("DEMO-0006", "Imani", "Castellanos", date(1984, 9, 17), "female"),
    ("DEMO-0007", "Declan", "Moorfield", date(1969, 12, 5), "male"),
    ("DEMO-0008", "Sofia", "Halvorsen", date(2007, 4, 26), "female"),
    ("DEMO-0009", "Quentin", "Abernathy", date(1981, 8, 11), "male"),
    ("DEMO-0010", "Noor", "Al-Fayad", date(1995, 2, 3), "unknown"),
    ("DEMO-0011", "Elliot", "Marchetti", date(1977, 6, 19), "male"),
    ("DEMO-0012", "Ruth", "Penhallow", date(1950, 10, 8), "female"),
]


CRITERIA = dict.fromkeys(RLS_CRITERIA, True)


def items(prefix: str, values: list[int], keys: list[str] | None = None) -> dict[str, int]:
    names = keys or [f"{prefix}_{n}" for n in range(1, len(values) + 1)]
    return dict(zip(names, values, strict=True))


COWS_KEYS = SCALES["cows"].keys

# (MRN, days ago, entered values): a few invented situations that exercise the rules.
DEMO_ASSESSMENTS: list[tuple[str, int, dict[str, Any]]] = [
    (
        "DEMO-0001",
        2,
        {
            **CRITERIA,
            **items("irls", [3, 3, 2, 3, 2, 3, 3, 2, 2, 2]),
            **items("cows", [1, 1, 3, 1, 2, 1, 2, 1, 1, 1, 0], COWS_KEYS),
            "kratom_grams_per_day": 18,
            "kratom_doses_per_day": 4,
            "kratom_product": "leaf_powder",
            "hours_since_last_dose": 40,
            "ferritin_ng_ml": 42,
            "tsat_percent": 18,
            "serum_creatinine_mg_dl": 0.8,
            "weight_kg": 64,
            "sleep_hours_per_night": 4.5,
            "caffeine_mg_per_day": 300,
        },
    ),
    (
        "DEMO-0004",
        5,
        {
            **CRITERIA,
            **items("irls", [2, 2, 2, 2, 1, 2, 2, 1, 1, 1]),
            "kratom_grams_per_day": 6,
            "hours_since_last_dose": 130,
            "on_serotonergic_antidepressant": True,
            "respiratory_disease": True,
            "ferritin_ng_ml": 88,
            "serum_creatinine_mg_dl": 1.3,
            "weight_kg": 70,
        },
    ),
    (
        "DEMO-0002",
        1,
        {
            **items("irls", [1, 1, 1, 1, 0, 1, 1, 1, 0, 0]),
            **items("cows", [2, 2, 3, 2, 2, 2, 3, 1, 2, 2, 3], COWS_KEYS),
            **items("gad7", [2, 2, 2, 2, 2, 1, 1]),
            "rls_urge_to_move": True,
            "mimics": ["withdrawal_restlessness"],
            "kratom_grams_per_day": 35,
            "kratom_product": "extract",
            "hours_since_last_dose": 20,
        },
    ),
]


# (MRN, due in days from today, kind): some overdue, some today, some this week.
DEMO_FOLLOWUPS = [
    ("DEMO-0001", -2, "phone"),
    ("DEMO-0002", 0, "phone"),
    ("DEMO-0004", 0, "visit"),
    ("DEMO-0006", 3, "phone"),
    ("DEMO-0009", 6, "visit"),
]


class Command(BaseCommand):
    help = "Create demo accounts and fictional demo patients (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off")

    @transaction.atomic
    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates accounts with known passwords: DEBUG only.")
        for username, full_name, group in DEMO_ACCOUNTS:
            first, _, last = full_name.rpartition(" ")
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.is_superuser = user.is_staff = group is None
            user.set_password(DEMO_PASSWORD)
            user.save()
            if group:
                user.groups.set([Group.objects.get(name=group)])

        created = 0
        for mrn, given, family, born, sex in DEMO_PATIENTS:
            _, was_created = Patient.objects.get_or_create(
                mrn=mrn,
                defaults={
                    "given_name": given,
                    "family_name": family,
                    "date_of_birth": born,
                    "sex": sex,
                    "notes": "Fictional demo patient.",
                },
            )
            created += was_created

        clinician = User.objects.get(username="clinician")
        assessed = 0
        for mrn, days_ago, values in DEMO_ASSESSMENTS:
            patient = Patient.objects.get(mrn=mrn)
            if patient.assessments.exists():
                continue
            assessed_at = timezone.now() - timedelta(days=days_ago)
            values = dict(values)
            hours = values.pop("hours_since_last_dose", None)
            assessment = Assessment(
                patient=patient,
                assessed_by=clinician,
                assessed_at=assessed_at,
                last_dose_at=assessed_at - timedelta(hours=hours) if hours else None,
                **values,
            )
            save_assessment(assessment=assessment)
            assessed += 1

        staff = User.objects.get(username="staff")
        today = timezone.localdate()
        planned = 0
        for mrn, days_from_today, kind in DEMO_FOLLOWUPS:
            patient = Patient.objects.get(mrn=mrn)
            if patient.followups.exists():
                continue
            FollowUp.objects.create(
                patient=patient,
                due_date=today + timedelta(days=days_from_today),
                kind=kind,
                assigned_to=staff if days_from_today <= 0 else None,
                scheduled_by=clinician,
            )
            planned += 1
        for patient in Patient.objects.filter(mrn__startswith="DEMO-"):
            patient.refresh_latest_scores()

        self.stdout.write(f"Demo patients: {created} added, {len(DEMO_PATIENTS)} in the demo set.")
        self.stdout.write(f"Demo follow-ups: {planned} added.")
        self.stdout.write(f"Demo assessments: {assessed} added, with their suggestion cards.")
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for username, _, group in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username:<10} {group or 'superuser'}")
