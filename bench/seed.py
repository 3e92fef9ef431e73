"""The benchmark's database: a separate database of fictional patients.

Seeding is fast because it is done in bulk: a handful of assessment profiles are
evaluated by the real engine once each (per age group and sex), and their cards are
copied. Bulk inserts skip django-simple-history, so the benchmark records have no history
rows of their own; pages still run their history queries.
"""

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from clinic.roles import CLINICIANS, STAFF
from guidance import engine
from guidance.default_rules import load_default_rules
from guidance.models import CardStatus, Decision, DeclineReason, Evaluation, Recommendation, Rule
from guidance.services import refresh_every_irls_change
from patients.facts import CRITERIA as RLS_CRITERIA
from patients.facts import SEXES, age_in_years
from patients.models import Assessment, FollowUp, FollowUpStatus, Patient
from patients.scales import SCALES

BATCH = 2000
DECIDED_AFTER = timedelta(hours=1)  # a seeded decision, after its assessment

GIVEN = (
    "Ada Ben Cleo Dara Eli Fern Gus Hana Ivo Jun Kit Lior Mara Nils Oona Pia Quin Rafe Sela "
    "Tove Ugo Vera Wim Xan Yael Zeno Aled Bryn Cai Dilys Eben Ffion Gethin Heledd Iolo Jory "
    "Kerys Lowri Morwen Nye Osian Pryce Rhian Seren Tegan Ulla Vaughn Wren Yestin Zosia"
).split()
FAMILY_HEADS = (
    "Ab Bel Car Dun Ell Fal Gar Hal Ing Jar Kel Lin Mor Nor Orm Pen Quar Ros Sal Tor Ull "
    "Var Wes Yar Zel Ash Bram Cross Dray Fenn Glen Holt Ivy Kest Loft Mere Nash Oak Pell Rook"
).split()
FAMILY_TAILS = (
    "wick ford ley ton by thorpe well more dale worth field stead hurst combe bridge "
    "brook wood stone mere gate shaw holm side cott vale"
).split()

CRITERIA = dict.fromkeys(RLS_CRITERIA, True)


def _items(code: str, rng: random.Random, level: float) -> dict[str, int]:
    """A complete set of answers for a scale, around `level` (0 to 1) of each item's range."""
    answers = {}
    for item in SCALES[code].items:
        index = min(
            len(item.allowed) - 1,
            max(0, round(level * (len(item.allowed) - 1) + rng.choice((-1, 0, 1)))),
        )
        answers[item.key] = item.allowed[index]
    return answers


def make_profiles(count: int = 24) -> list[dict[str, Any]]:
    """Entered values for assessments: a spread of severities, labs and medications."""
    rng = random.Random(2026)
    profiles = []
    for n in range(count):
        level = n / (count - 1)
        values: dict[str, Any] = {
            **(CRITERIA if n % 4 else {"rls_urge_to_move": True}),
            **_items("irls", rng, level),
            **(_items("cows", rng, level * 0.8) if n % 3 else {}),
            **(_items("gad7", rng, level) if n % 2 else {}),
            "kratom_grams_per_day": rng.choice([3, 8, 15, 25, 40]),
            "kratom_doses_per_day": rng.randint(1, 8),
            "kratom_use_months": rng.randint(3, 120),
            "kratom_product": rng.choice(["leaf_powder", "capsules", "extract", "seven_oh"]),
            "ferritin_ng_ml": rng.choice([None, 18, 45, 80, 95, 160]),
            "tsat_percent": rng.choice([None, 15, 22, 30]),
            "serum_creatinine_mg_dl": rng.choice([None, 0.7, 1.0, 1.6]),
            "weight_kg": rng.choice([None, 58, 72, 90]),
            "sleep_hours_per_night": rng.choice([None, 4.5, 6, 7.5]),
            "caffeine_mg_per_day": rng.choice([None, 0, 150, 400]),
            "alcohol_drinks_per_week": rng.choice([None, 0, 4, 14]),
            "nicotine_use": n % 5 == 0,
            "on_serotonergic_antidepressant": n % 7 == 0,
            "on_opioid_agonist_treatment": n % 6 == 0,
            "on_dopamine_agonist": n % 11 == 0,
            "akathisia_suspected": n % 13 == 0,
        }
        profiles.append(values)
    return profiles


@dataclass
class Seeder:
    patients: int
    progress: Callable[[str], None]
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    today: date = field(default_factory=timezone.localdate)
    fired: dict[tuple[int, str, str], list[Rule]] = field(default_factory=dict)

    def run(self) -> None:
        started = time.perf_counter()
        self.clinician = self._user("bench_clinician", CLINICIANS)
        self.staff = self._user("bench_staff", STAFF)
        self.rules = list(Rule.objects.active())
        self.profiles = make_profiles()
        self.templates = [Assessment(**values) for values in self.profiles]
        for template in self.templates:
            for code, score in template.scores().items():
                setattr(template, f"{code}_total", score.total if score else None)
        done = 0
        while done < self.patients:
            size = min(BATCH, self.patients - done)
            with transaction.atomic():
                self._batch(done, size)
            done += size
            elapsed = time.perf_counter() - started
            self.progress(f"seeded {done:,}/{self.patients:,} patients ({elapsed:.0f} s)")

    def _user(self, username: str, group: str) -> User:
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": "Bench"})
        user.groups.set([Group.objects.get(name=group)])
        return user

    def _rules_for(self, profile: int, age: int, sex: str, template: Assessment) -> list[Rule]:
        group = "minor" if age < 18 else "older" if age >= 65 else "adult"
        key = (profile, group, sex)
        if key not in self.fired:
            template.patient = Patient(date_of_birth=date(self.today.year - age, 1, 1), sex=sex)
            template.assessed_at = timezone.now()
            self.fired[key] = engine.evaluate(template.facts(), self.rules).fired
        return self.fired[key]

    def _batch(self, start: int, size: int) -> None:
        rng, now = self.rng, timezone.now()
        patients, plans = [], []
        for n in range(start, start + size):
            born = date(rng.randint(1948, 2008), rng.randint(1, 12), rng.randint(1, 28))
            picks = [rng.randrange(len(self.profiles)) for _ in range(rng.choice((1, 1, 2, 3)))]
            latest = self.templates[picks[-1]]
            patients.append(
                Patient(
                    mrn=f"BN{n:07d}",
                    given_name=rng.choice(GIVEN),
                    family_name=rng.choice(FAMILY_HEADS) + rng.choice(FAMILY_TAILS),
                    date_of_birth=born,
                    sex=rng.choice(list(SEXES)),
                    notes="Fictional benchmark patient.",
                    latest_irls_total=latest.irls_total,
                    latest_cows_total=latest.cows_total,
                )
            )
            plans.append(picks)
        Patient.objects.bulk_create(patients, batch_size=BATCH)

        assessments, rules = [], []
        for patient, picks in zip(patients, plans, strict=True):
            for order, profile in enumerate(picks):
                assessed_at = now - timedelta(
                    days=10 * (len(picks) - order), hours=rng.randint(0, 8)
                )
                template = self.templates[profile]
                values = {**self.profiles[profile]}
                assessments.append(
                    Assessment(
                        patient=patient,
                        assessed_by=self.clinician,
                        assessed_at=assessed_at,
                        last_dose_at=assessed_at - timedelta(hours=rng.choice((12, 30, 60, 200))),
                        irls_total=template.irls_total,
                        cows_total=template.cows_total,
                        gad7_total=template.gad7_total,
                        **values,
                    )
                )
                age = age_in_years(patient.date_of_birth, timezone.localdate(assessed_at))
                rules.append(self._rules_for(profile, age, patient.sex, template))
        Assessment.objects.bulk_create(assessments, batch_size=BATCH)
        Evaluation.objects.bulk_create(
            [Evaluation(assessment=a, rules_evaluated=len(self.rules)) for a in assessments],
            batch_size=BATCH,
        )

        cards = []
        for assessment, fired in zip(assessments, rules, strict=True):
            for rule in fired:
                roll = rng.random()
                status = (
                    CardStatus.ACCEPTED
                    if roll < 0.2
                    else CardStatus.DECLINED
                    if roll < 0.25
                    else CardStatus.DEFERRED
                    if roll < 0.3
                    else CardStatus.PENDING
                )
                cards.append(
                    Recommendation(
                        uuid=uuid.uuid4(),
                        assessment=assessment,
                        patient_id=assessment.patient_id,
                        rule=rule,
                        rule_code=rule.code,
                        indicator_rank=rule.rank,
                        status=status,
                        version=1 if status == CardStatus.PENDING else 2,
                        created_at=assessment.assessed_at,  # made when it was saved
                        first_decided_at=None
                        if status == CardStatus.PENDING
                        else assessment.assessed_at + DECIDED_AFTER,
                        decline_reason=DeclineReason.NOT_APPROPRIATE
                        if status == CardStatus.DECLINED
                        else "",
                    )
                )
        Recommendation.objects.bulk_create(cards, batch_size=BATCH)
        Decision.objects.bulk_create(
            [
                Decision(
                    recommendation=card,
                    status=card.status,
                    decline_reason=DeclineReason.NOT_APPROPRIATE
                    if card.status == CardStatus.DECLINED
                    else "",
                    by=self.clinician,
                    at=card.assessment.assessed_at + DECIDED_AFTER,
                )
                for card in cards
                if card.status != CardStatus.PENDING
            ],
            batch_size=BATCH,
        )

        followups = []
        for patient in patients:
            happened = self.today - timedelta(days=rng.randint(3, 30))
            cows = _items("cows", rng, rng.random() * 0.6)
            done = FollowUp(
                patient=patient,
                due_date=happened,
                kind="phone",
                status=FollowUpStatus.COMPLETED,
                scheduled_by=self.staff,
                happened_on=happened,
                recorded_by=self.staff,
                recorded_at=now - timedelta(days=(self.today - happened).days),
                **cows,
            )
            done.cows_total = sum(cows.values())
            followups.append(done)
            followups.append(
                FollowUp(
                    patient=patient,
                    due_date=self.today + timedelta(days=rng.randint(-10, 20)),
                    kind=rng.choice(("phone", "visit")),
                    assigned_to=self.staff if rng.random() < 0.5 else None,
                    scheduled_by=self.clinician,
                )
            )
        FollowUp.objects.bulk_create(followups, batch_size=BATCH)


def use_benchmark_database(patients: int) -> str:
    """Point the default connection at a separate benchmark database for this number of
    patients, created (and migrated) if needed and kept between runs, so that each size is
    seeded once: bench-<patients>.sqlite3 beside manage.py, or <name>_bench_<patients> on
    the PostgreSQL server of DATABASE_URL."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        settings_dict["TEST"]["NAME"] = str(settings.BASE_DIR / f"bench-{patients}.sqlite3")
    else:
        settings_dict["TEST"]["NAME"] = f"{settings_dict['NAME']}_bench_{patients}"
    return connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=True
    )


def reset_and_seed(patients: int, progress: Callable[[str], None]) -> None:
    call_command("flush", interactive=False, verbosity=0)  # groups come back via post_migrate
    load_default_rules(Rule)
    Seeder(patients, progress).run()
    refresh_every_irls_change()  # the cards were written in bulk, without save_assessment
    # Table statistics for the planners, as autovacuum (PostgreSQL) or a periodic
    # ANALYZE / PRAGMA optimize (SQLite) keeps them on a live database.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
