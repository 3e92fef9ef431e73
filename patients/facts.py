"""The fact table of product.md section 4, and the derived facts: pure Python, no database.

Facts are the contract between the assessment and the guidance rules: the assessment
form's field names are these names, and rules may use these names and nothing else.
"Now" is always an argument.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from patients.scales import SCALES, score_all

BOOL, INT, FLOAT, STR, DATETIME = "bool", "int", "float", "str", "datetime"

AGE_MIN_YEARS = 12
AGE_MAX_YEARS = 120
HOURS_SINCE_LAST_DOSE_MAX = 8760  # a year: older doses are not part of this withdrawal


@dataclass(frozen=True)
class Fact:
    name: str
    type: str
    label: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    derived: bool = False

    def range_text(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.minimum is not None and self.maximum is not None:
            unit = f" {self.unit}" if self.unit else ""
            return f"{self.minimum:g} to {self.maximum:g}{unit}"
        return ""

    def problem(self, value: object) -> str | None:
        """What is wrong with `value` as this fact's value, or None: the values a real
        assessment could give, nothing else (no NaN, no NUL, nothing out of range). The one
        check of a fact's value, for a test case (guidance.engine.cases) and for
        `evaluate`'s input (patients.fact_input)."""
        if value is None:
            return "is never empty (null) on an assessment" if self.name in NEVER_NULL else None
        if self.type == BOOL:
            return None if isinstance(value, bool) else "must be true, false or null"
        if self.type == STR:
            if isinstance(value, str) and value in self.choices:
                return None
            shown = repr(value)[:40] if isinstance(value, str) else "a value that is not text"
            return f"{shown} is not allowed; allowed: {', '.join(self.choices)} or null"
        if self.type == DATETIME:
            try:
                parse_datetime(value)
            except ValueError as error:
                return str(error)[:120]
            return None
        return number_problem(self, value)

    def read(self, value: object) -> Any:
        """A value that has no problem, as the fact holds it (an int, a float, an aware
        datetime); None stays None."""
        if value is None:
            return None
        if self.type == DATETIME:
            return parse_datetime(value)
        if self.type == INT:
            return int(value)  # type: ignore[call-overload]
        if self.type == FLOAT:
            return float(value)  # type: ignore[arg-type]
        return value


SEXES = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}
KRATOM_PRODUCTS = {
    "leaf_powder": "Leaf powder",
    "capsules": "Capsules",
    "extract": "Extract",
    "seven_oh": "7-OH product",
    "other": "Other",
}
# The source document's withdrawal timeline (clinical-reference.md 4.2: unverified for
# kratom). The names are the fact's values (product.md section 4); the labels never say that
# RLS eases after 72 h (after opioid tapers it peaked at 2 to 4 weeks, section 8), and the
# 14-day boundary is this application's, not the document's.
WINDOW_LABELS = {
    "before_onset": "Under 24 h since the last dose (before the source document's onset)",
    "onset": "24 to 48 h: onset, by the source document's timeline",
    "peak": "48 to 72 h: peak withdrawal, by the source document's timeline",
    "subsiding": "72 h to 14 days: withdrawal past its peak; RLS can still worsen",
    "protracted": "Over 14 days (this application's boundary): protracted",
}
WINDOWS = tuple(WINDOW_LABELS)

FACTS: tuple[Fact, ...] = (
    Fact("age_years", INT, "Age", "years", AGE_MIN_YEARS, AGE_MAX_YEARS, derived=True),
    Fact("sex", STR, "Sex", choices=tuple(SEXES), derived=True),
    Fact("pregnant", BOOL, "Pregnant"),
    Fact("kratom_grams_per_day", FLOAT, "Kratom per day", "g/day", 0, 500),
    Fact("kratom_doses_per_day", INT, "Kratom doses per day", "doses", 0, 50),
    Fact("kratom_use_months", INT, "Months of kratom use", "months", 0, 720),
    Fact("kratom_product", STR, "Kratom product", choices=tuple(KRATOM_PRODUCTS)),
    Fact("last_dose_at", DATETIME, "Last kratom dose"),
    Fact(
        "hours_since_last_dose",
        FLOAT,
        "Hours since last dose",
        "h",
        0,
        HOURS_SINCE_LAST_DOSE_MAX,
        derived=True,
    ),
    Fact("withdrawal_window", STR, "Withdrawal window", choices=WINDOWS, derived=True),
    Fact("uses_other_opioids", BOOL, "Uses non-prescribed opioids"),
    Fact("on_opioid_agonist_treatment", BOOL, "On methadone or buprenorphine"),
    Fact("on_cns_depressant", BOOL, "On a CNS depressant"),
    Fact("on_serotonergic_antidepressant", BOOL, "On a serotonergic antidepressant"),
    Fact("on_sedating_antihistamine", BOOL, "On a sedating antihistamine"),
    Fact("on_dopamine_antagonist", BOOL, "On a dopamine antagonist"),
    Fact("on_dopamine_agonist", BOOL, "On a dopamine agonist"),
    Fact("on_gabapentinoid", BOOL, "On a gabapentinoid"),
    Fact("respiratory_disease", BOOL, "COPD or other reduced lung function"),
    Fact("iron_overload", BOOL, "Haemochromatosis or known iron overload"),
    Fact("akathisia_suspected", BOOL, "Akathisia suspected"),
    Fact("rls_urge_to_move", BOOL, "E1: urge to move the legs"),
    Fact("rls_worse_at_rest", BOOL, "E2: starts or worsens at rest"),
    Fact("rls_relief_with_movement", BOOL, "E3: relieved by movement"),
    Fact("rls_worse_evening", BOOL, "E4: worse in the evening or night"),
    Fact("rls_not_explained_by_mimic", BOOL, "E5: not solely explained by another condition"),
    Fact("rls_before_kratom", BOOL, "RLS symptoms before kratom use"),
    Fact("rls_criteria_met", BOOL, "IRLSSG criteria met (E1 to E5)", derived=True),
    Fact("irls_total", INT, "IRLS total", minimum=0, maximum=40, derived=True),
    Fact(
        "irls_band",
        STR,
        "IRLS band",
        choices=tuple(b.name for b in SCALES["irls"].bands),
        derived=True,
    ),
    Fact("cows_total", INT, "COWS total", minimum=0, maximum=48, derived=True),
    Fact(
        "cows_band",
        STR,
        "COWS band",
        choices=tuple(b.name for b in SCALES["cows"].bands),
        derived=True,
    ),
    Fact("gad7_total", INT, "GAD-7 total", minimum=0, maximum=21, derived=True),
    Fact(
        "gad7_band",
        STR,
        "GAD-7 band",
        choices=tuple(b.name for b in SCALES["gad7"].bands),
        derived=True,
    ),
    Fact("sleep_hours_per_night", FLOAT, "Sleep per night", "h", 0, 24),
    Fact("caffeine_mg_per_day", INT, "Caffeine per day", "mg", 0, 3000),
    Fact("nicotine_use", BOOL, "Uses nicotine"),
    Fact("alcohol_drinks_per_week", INT, "Alcohol per week", "standard drinks", 0, 300),
    Fact("exercise_minutes_per_week", INT, "Exercise per week", "min", 0, 5000),
    Fact("ferritin_ng_ml", FLOAT, "Ferritin", "ng/mL", 0, 5000),
    Fact("tsat_percent", FLOAT, "Transferrin saturation", "%", 0, 100),
    Fact("serum_creatinine_mg_dl", FLOAT, "Serum creatinine", "mg/dL", 0.1, 20),
    Fact("weight_kg", FLOAT, "Weight", "kg", 20, 400),
    Fact("crcl_ml_min", FLOAT, "Creatinine clearance (Cockcroft-Gault)", "mL/min", derived=True),
    # In the app, the patient's IRLS total recorded before this one (an earlier assessment
    # or a follow-up re-score); given directly to the `evaluate` command.
    Fact("irls_previous_total", INT, "Previous IRLS total", minimum=0, maximum=40, derived=True),
    Fact("irls_change", INT, "IRLS change since the previous score", "points", derived=True),
)

FACT_BY_NAME: dict[str, Fact] = {fact.name: fact for fact in FACTS}
# Section 4 of product.md: every assessment has an age and a sex, and a yes/no left
# unanswered is false. Every other fact may be empty (None), and a rule must say what it
# does then (guidance.engine refuses a comparison that would fail on an empty fact).
NEVER_NULL: frozenset[str] = frozenset(
    {"age_years", "sex"} | {fact.name for fact in FACTS if fact.type == BOOL}
)
ENTERED_FACTS: tuple[Fact, ...] = tuple(fact for fact in FACTS if not fact.derived)
CRITERIA = (
    "rls_urge_to_move",
    "rls_worse_at_rest",
    "rls_relief_with_movement",
    "rls_worse_evening",
    "rls_not_explained_by_mimic",
)


def age_in_years(born: date, on: date) -> int:
    """Whole years completed on `on` (a birthday counts from that day)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def hours_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds() / 3600


def withdrawal_window(hours_since_last_dose: float | None) -> str | None:
    """Where the patient is on the source document's withdrawal timeline.

    Source document, "Understanding Kratom Withdrawal": symptoms begin 24-48 h after the
    last dose and peak at 48-72 h; "protracted" past 14 days. This is that document's
    timeline, not peer-reviewed data: clinical-reference.md 4.2 tags every onset and
    peak figure U.
    """
    if hours_since_last_dose is None:
        return None
    if hours_since_last_dose < 24:
        return "before_onset"
    if hours_since_last_dose < 48:
        return "onset"
    if hours_since_last_dose <= 72:
        return "peak"
    if hours_since_last_dose <= 14 * 24:
        return "subsiding"
    return "protracted"


def creatinine_clearance(
    *, age_years: int, weight_kg: float | None, creatinine_mg_dl: float | None, sex: str
) -> float | None:
    """Cockcroft-Gault, mL/min: (140 - age) x weight / (72 x creatinine), x 0.85 unless
    male (product.md section 4; clinical-reference.md 6.1 names it for gabapentin dosing).
    None when an input is missing."""
    if weight_kg is None or creatinine_mg_dl is None:
        return None
    clearance = (140 - age_years) * weight_kg / (72 * creatinine_mg_dl)
    return clearance * 0.85 if sex != "male" else clearance


def derive_facts(
    entered: Mapping[str, Any],
    *,
    age_years: int,
    sex: str,
    hours_since_last_dose: float | None,
    irls_previous_total: int | None = None,
) -> dict[str, Any]:
    """Every fact of the table, from validated entered values and scale items.

    Booleans left unanswered are false; numbers left empty stay None. Scales must be
    complete or absent (a ScaleError escapes otherwise: validate first).
    """
    facts: dict[str, Any] = {}
    for fact in ENTERED_FACTS:
        value = entered.get(fact.name)
        if fact.type == BOOL:
            value = bool(value)
        elif value == "":
            value = None  # a choice left blank in the form
        facts[fact.name] = value
    scores, problems = score_all(entered)
    if problems:
        raise ValueError(f"cannot derive facts from incomplete scales: {problems}")
    for code, score in scores.items():
        facts[f"{code}_total"] = score.total if score else None
        facts[f"{code}_band"] = score.band.name if score else None
    facts.update(
        age_years=age_years,
        sex=sex,
        hours_since_last_dose=hours_since_last_dose,
        withdrawal_window=withdrawal_window(hours_since_last_dose),
        rls_criteria_met=all(facts[name] for name in CRITERIA),
        irls_previous_total=irls_previous_total,
        irls_change=(
            facts["irls_total"] - irls_previous_total
            if facts["irls_total"] is not None and irls_previous_total is not None
            else None
        ),
        crcl_ml_min=creatinine_clearance(
            age_years=age_years,
            weight_kg=facts["weight_kg"],
            creatinine_mg_dl=facts["serum_creatinine_mg_dl"],
            sex=sex,
        ),
    )
    return {fact.name: facts[fact.name] for fact in FACTS}


# Reading facts from JSON (the `evaluate` command): strict about types, one message per field.

EXTRA_INPUTS = ("assessed_at",)


def number_problem(fact: Fact, value: object) -> str | None:
    """What is wrong with `value` as this numeric fact's value, or None. Safe on any JSON
    number, however large (a 5,000-digit integer is neither converted nor printed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number ({fact.range_text()}) or null"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number ({fact.range_text()})"
    if fact.type == INT and isinstance(value, float) and not value.is_integer():
        return f"must be a whole number ({fact.range_text()})"
    low, high = fact.minimum, fact.maximum
    if low is not None and high is not None and not low <= value <= high:
        shown = repr(value) if abs(value) < 1e15 else "a number that large"
        return f"{shown} is out of range; allowed: {fact.range_text()}"
    return None


def parse_datetime(value: object) -> datetime:
    """ISO 8601; a time without an offset is taken as UTC."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-11-20T21:30:00+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date and time, e.g. 2026-11-20T21:30:00+00:00"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
