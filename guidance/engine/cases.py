"""Test cases: facts that a rule version must (or must not) fire on before it can go live."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from guidance.engine.evaluation import named_facts
from guidance.engine.language import compile_condition
from patients.facts import (
    BOOL,
    FACT_BY_NAME,
    FACTS,
)


@dataclass(frozen=True)
class CaseResult:
    name: str
    facts: Mapping[str, Any]
    expected: bool
    outcome: bool | None  # None when the case could not be run
    problem: str = ""
    # Facts the condition reads that the case leaves empty (null): it may pass for the
    # wrong reason (a comparison on an empty lab is false, so "does not fire" passes).
    left_empty: tuple[str, ...] = ()

    @property
    def facts_text(self) -> str:
        return (
            ", ".join(f"{name}={json.dumps(value)}" for name, value in self.facts.items())
            or "(blank)"
        )

    @property
    def passed(self) -> bool:
        return self.outcome is not None and self.outcome == self.expected


def _value_problem(name: str, value: Any) -> str | None:
    """What is wrong with `value` as fact `name` in a test case, or None (Fact.problem)."""
    fact = FACT_BY_NAME.get(name)
    if fact is None:
        return f"unknown fact {name[:40]!r}"
    problem = fact.problem(value)
    return f"{name}: {problem}" if problem else None


# What a test case's patient is unless the case says otherwise. Age and sex are never
# null on a real assessment, so a blank case gets a plain adult.
BLANK_CASE = {
    **{fact.name: (False if fact.type == BOOL else None) for fact in FACTS},
    "age_years": 40,
    "sex": "unknown",
}


def case_facts(given: Mapping[str, Any]) -> dict[str, Any]:
    """A full fact set for a test case: the given facts over BLANK_CASE.
    Raises ValueError naming a bad fact."""
    facts = dict(BLANK_CASE)
    for name, value in given.items():
        problem = _value_problem(name, value)
        if problem:
            raise ValueError(problem)
        facts[name] = FACT_BY_NAME[name].read(value)
    return facts


def run_cases(condition: str, cases: Iterable[Mapping[str, Any]]) -> list[CaseResult]:
    compiled = compile_condition(condition)
    read = [name for name in named_facts(condition) if BLANK_CASE.get(name) is None]
    results = []
    for number, case in enumerate(cases, start=1):
        name = str(case.get("name") or f"case {number}")
        given = case.get("facts") or {}
        expected = bool(case.get("fires"))
        empty = tuple(fact for fact in read if given.get(fact) is None)
        try:
            outcome = bool(compiled.matches(case_facts(given)))
        except Exception as error:  # a case that cannot run fails, with the reason
            reason = str(getattr(error, "message", error))
            results.append(CaseResult(name, given, expected, None, reason, empty))
            continue
        results.append(CaseResult(name, given, expected, outcome, left_empty=empty))
    return results
