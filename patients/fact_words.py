"""Facts in words, as a clinician reads them (product.md 5.2): each fact that made a card
fire ("because"), with units and bands rather than fact names. Pure: no Django."""

from collections.abc import Callable
from typing import Any

from patients.facts import BOOL, FACT_BY_NAME, KRATOM_PRODUCTS, SEXES, WINDOW_LABELS
from patients.scales import SCALES

# Yes/no facts: (said when true, said when false).
_YES_NO = {
    "pregnant": ("pregnant", "not pregnant"),
    "uses_other_opioids": ("uses non-prescribed opioids", "no non-prescribed opioids"),
    "on_opioid_agonist_treatment": ("on methadone or buprenorphine", "no opioid agonist treatment"),
    "on_cns_depressant": ("on a CNS depressant", "no CNS depressant"),
    "on_serotonergic_antidepressant": ("on an SSRI/SNRI", "no serotonergic antidepressant"),
    "on_sedating_antihistamine": ("on a sedating antihistamine", "no sedating antihistamine"),
    "on_dopamine_antagonist": ("on a dopamine blocker", "no dopamine blocker"),
    "on_dopamine_agonist": ("on a dopamine agonist", "not on a dopamine agonist"),
    "on_gabapentinoid": ("on a gabapentinoid", "not on a gabapentinoid"),
    "respiratory_disease": ("COPD or reduced lung function", "no lung disease recorded"),
    "iron_overload": ("iron overload", "no iron overload"),
    "akathisia_suspected": ("akathisia suspected", "akathisia not suspected"),
    "rls_criteria_met": ("RLS criteria met", "RLS criteria not all met"),
    "rls_before_kratom": ("RLS before kratom", "RLS began with kratom"),
    "nicotine_use": ("uses nicotine", "no nicotine"),
}  # fmt: skip
# Empty facts: what "not recorded" means for them.
_UNKNOWN = {
    "hours_since_last_dose": "last dose time unknown",
    "last_dose_at": "last dose time unknown",
    "crcl_ml_min": "creatinine clearance unknown (creatinine or weight missing)",
    "irls_previous_total": "no earlier IRLS",
    "irls_change": "no earlier IRLS to compare",
}
_SCALE_NAMES = {"irls": "IRLS", "cows": "COWS", "gad7": "GAD-7"}


def describe(name: str, value: Any) -> str:
    """One fact of a card's "because", in words: "IRLS 24 (severe)", "on an SSRI/SNRI",
    "last dose time unknown", "creatinine clearance 48 mL/min"."""
    fact = FACT_BY_NAME.get(name)
    label = fact.label if fact else name
    if value is None:
        return _UNKNOWN.get(name, f"{label.lower()} not recorded")
    if name in _YES_NO:
        return _YES_NO[name][0 if value else 1]
    if fact is not None and fact.type == BOOL:
        return label if value else f"not: {label.lower()}"
    code = name.removesuffix("_total")
    if code in SCALES and name.endswith("_total"):
        score = SCALES[code].score_of(int(value))
        band = f" ({score.band.label})" if score else ""
        return f"{_SCALE_NAMES[code]} {value}{band}"
    said = _SAID.get(name)
    return said(value) if said else _measure(name, label, value)


def _irls_change(value: Any) -> str:
    if value == 0:
        return "IRLS unchanged since last time"
    points = abs(int(value))
    direction = "worse" if value > 0 else "better"
    return f"IRLS {points} point{'s' if points != 1 else ''} {direction} than last time"


# Facts said their own way.
_SAID: dict[str, Callable[[Any], str]] = {
    "irls_change": _irls_change,
    "irls_previous_total": lambda value: f"previous IRLS {value}",
    "hours_since_last_dose": lambda value: f"last dose {value:g} h ago",
    "age_years": lambda value: f"age {value}",
    "withdrawal_window": lambda value: WINDOW_LABELS.get(value, str(value)),
    "sex": lambda value: f"recorded sex {SEXES.get(value, value).lower()}",
    "kratom_product": lambda value: f"kratom product: {KRATOM_PRODUCTS.get(value, value).lower()}",
}


def _measure(name: str, label: str, value: Any) -> str:
    """A measured fact: "creatinine clearance: 48 mL/min", rounded as a clinician reads it."""
    fact = FACT_BY_NAME.get(name)
    if name == "crcl_ml_min":
        label = "creatinine clearance"
    if isinstance(value, float):
        value = round(value) if abs(value) >= 10 else round(value, 1)
    unit = fact.unit if fact else ""
    unit = unit if unit == "%" else f" {unit}" if unit else ""
    shown = f"{value:g}" if isinstance(value, int | float) else str(value)
    return f"{label[0].lower()}{label[1:]}: {shown}{unit}"
