"""Demo accounts (one per role and a superuser) and a dozen fictional patients.

Safe to run again: accounts get their demo password back, patients are added only once.
Refuses to run with DEBUG off unless --force, so a production database never gets
accounts with published passwords by accident.
"""

from datetime import date

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clinic.roles import CLINICIANS, GUIDANCE_ADMINS, STAFF
from patients.models import Patient, Sex

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
    ("DEMO-0001", "Avery", "Lindqvist", date(1988, 3, 14), Sex.FEMALE),
    ("DEMO-0002", "Marcus", "Oyelaran", date(1975, 11, 2), Sex.MALE),
    ("DEMO-0003", "Jo", "Carrow", date(1999, 7, 21), Sex.OTHER),
    ("DEMO-0004", "Helena", "Brightwater", date(1958, 1, 30), Sex.FEMALE),
    ("DEMO-0005", "Tobias", "Renquist", date(1992, 5, 9), Sex.MALE),
    ("DEMO-0006", "Imani", "Castellanos", date(1984, 9, 17), Sex.FEMALE),
    ("DEMO-0007", "Declan", "Moorfield", date(1969, 12, 5), Sex.MALE),
    ("DEMO-0008", "Sofia", "Halvorsen", date(2007, 4, 26), Sex.FEMALE),
    ("DEMO-0009", "Quentin", "Abernathy", date(1981, 8, 11), Sex.MALE),
    ("DEMO-0010", "Noor", "Al-Fayad", date(1995, 2, 3), Sex.UNKNOWN),
    ("DEMO-0011", "Elliot", "Marchetti", date(1977, 6, 19), Sex.MALE),
    ("DEMO-0012", "Ruth", "Penhallow", date(1950, 10, 8), Sex.FEMALE),
]


class Command(BaseCommand):
    help = "Create demo accounts and fictional demo patients (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off")

    @transaction.atomic
    def handle(self, *args, force: bool = False, **options):
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

        self.stdout.write(f"Demo patients: {created} added, {len(DEMO_PATIENTS)} in the demo set.")
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for username, _, group in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username:<10} {group or 'superuser'}")
