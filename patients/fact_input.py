"""Entered facts as `manage.py evaluate` reads them (product.md section 6): one JSON object
of the fact table's entered facts and the scale items, checked field by field (each fact's
value by Fact.problem, each item's by the scale registry), then the facts derived. Every
problem is one line naming the field and what is allowed; nothing is derived from input
with a problem. Pure: no Django.
"""

from datetime import datetime
from typing import Any

from patients.facts import (
    EXTRA_INPUTS,
    FACT_BY_NAME,
    HOURS_SINCE_LAST_DOSE_MAX,
    derive_facts,
    hours_between,
    parse_datetime,
)
from patients.scales import ITEMS, allowed_text, score_all

# Derived facts that `evaluate` takes as given, having nothing to derive them from.
GIVEN_DIRECTLY = frozenset({"age_years", "sex", "hours_since_last_dose", "irls_previous_total"})
REQUIRED = ("age_years", "sex")


def parse_input(raw: object, *, now: datetime) -> tuple[dict[str, Any], list[str]]:
    """Validate one JSON object of entered facts and derive every fact.

    Returns (facts, []) or ({}, problems), each problem one line naming the field and
    what is allowed. Accepts the entered facts, the scale items, `age_years` and `sex`,
    and either `last_dose_at` (+ optional `assessed_at`, default `now`) or
    `hours_since_last_dose`.
    """
    if not isinstance(raw, dict):
        return {}, ["input: must be one JSON object of facts"]
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in raw.items():
        problem = _field_problem(name, value)
        if problem:
            problems.append(f"{name if name.isprintable() else repr(name)}: {problem}")
        else:
            values[name] = _read(name, value)
    problems += [
        f"{name}: is required ({FACT_BY_NAME[name].range_text()})"
        for name in REQUIRED
        if name not in raw
    ]
    hours, dose_problem = _hours_since_last_dose(raw, values, now)
    if dose_problem:
        problems.append(dose_problem)
    _, scale_problems = score_all(values)
    problems += [f"{key}: {problem}" for key, problem in scale_problems.items()]
    if problems:
        return {}, problems
    facts = derive_facts(
        values,
        age_years=values["age_years"],
        sex=values["sex"],
        hours_since_last_dose=hours,
        irls_previous_total=values.get("irls_previous_total"),
    )
    return facts, []


def _field_problem(name: str, value: object) -> str | None:
    """What is wrong with one field of the input, or None."""
    item = ITEMS.get(name)
    if item is not None:
        allowed = value is None or (
            isinstance(value, int) and not isinstance(value, bool) and value in item.allowed
        )
        return None if allowed else f"{value!r} is not allowed; allowed: {allowed_text(item)}"
    if name in EXTRA_INPUTS:
        return _datetime_problem(value)
    fact = FACT_BY_NAME.get(name)
    if fact is None:
        return (
            "unknown field; allowed: the entered facts of product.md section 4 and the scale items"
        )
    if fact.derived and name not in GIVEN_DIRECTLY:
        return "is derived, not entered; give the values it is derived from"
    if value is None and name in REQUIRED:
        return f"is required ({fact.range_text()})"
    return fact.problem(value)


def _datetime_problem(value: object) -> str | None:
    if value is None:
        return None
    try:
        parse_datetime(value)
    except ValueError as error:
        return str(error)
    return None


def _read(name: str, value: object) -> Any:
    if name in ITEMS:
        return value
    if name in EXTRA_INPUTS:
        return None if value is None else parse_datetime(value)
    return FACT_BY_NAME[name].read(value)


def _hours_since_last_dose(
    raw: dict[str, Any], values: dict[str, Any], now: datetime
) -> tuple[float | None, str | None]:
    """The hours since the last dose, given or derived from last_dose_at and assessed_at,
    and what is wrong with them (given both ways, a dose after the assessment, a dose more
    than a year before it)."""
    hours = values.get("hours_since_last_dose")
    if "hours_since_last_dose" in raw and ("last_dose_at" in raw or "assessed_at" in raw):
        return hours, (
            "hours_since_last_dose: give either hours_since_last_dose or last_dose_at "
            "(with optional assessed_at), not both"
        )
    last_dose_at = values.get("last_dose_at")
    if last_dose_at is None:
        return hours, None
    assessed_at = values.get("assessed_at") or now
    if last_dose_at > assessed_at:
        return None, "last_dose_at: must not be after the assessment time (assessed_at)"
    hours = hours_between(last_dose_at, assessed_at)
    if hours > HOURS_SINCE_LAST_DOSE_MAX:
        return None, (
            f"last_dose_at: more than {HOURS_SINCE_LAST_DOSE_MAX} hours (a year) before "
            "the assessment; leave it null"
        )
    return hours, None
