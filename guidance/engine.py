"""The guidance engine: facts and rules in, fired cards and not-evaluated rules out.

Pure Python over plain values, no database access. Conditions are written in the
`rule-engine` package's expression language and type-checked against the fact table of
product.md section 4 (patients.facts.FACTS) before a rule can be saved.
"""

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import rule_engine
from rule_engine import ast as rule_ast

from patients.facts import BOOL, DATETIME, FACT_BY_NAME, FACTS, STR, parse_datetime

logger = logging.getLogger(__name__)

INDICATOR_ORDER = {"critical": 0, "warning": 1, "info": 2}

_RULE_TYPES = {
    BOOL: rule_engine.DataType.BOOLEAN,
    STR: rule_engine.DataType.STRING,
    DATETIME: rule_engine.DataType.DATETIME,
}
CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict(
        {fact.name: _RULE_TYPES.get(fact.type, rule_engine.DataType.FLOAT) for fact in FACTS}
    ),
    default_timezone="UTC",
)


class ConditionError(ValueError):
    """A condition that cannot be used, with a message that says where and why."""


class RuleLike(Protocol):
    code: str
    version: int
    indicator: str
    condition: str


class Condition(Protocol):
    """A compiled condition: the part of rule_engine.Rule we use (rule-engine ships no
    type information, so mypy sees its objects as Any)."""

    def matches(self, thing: Mapping[str, Any]) -> bool: ...


@dataclass(frozen=True)
class NotEvaluated[R: RuleLike]:
    rule: R
    reason: str


@dataclass(frozen=True)
class Result[R: RuleLike]:
    fired: list[R]  # the rules that fired, critical first, then warning, then info
    not_evaluated: list[NotEvaluated[R]]


def _where(text: str, position: int | None) -> str:
    if position is None:
        return "at the end of the condition"
    return f"at character {position + 1} (“{text[position : position + 20].strip()}…”)"


def _nodes(node: Any) -> Iterator[Any]:
    """Every expression in a parsed condition, depth first."""
    yield node
    for value in vars(node).values():
        children = value if isinstance(value, list | tuple) else [value]
        for child in children:
            if isinstance(child, rule_ast.ExpressionBase):
                yield from _nodes(child)


_TYPE_WORDS = {"BOOLEAN": "true/false", "FLOAT": "a number", "STRING": "text", "DATETIME": "a date"}


def _type_word(data_type: Any) -> str:
    name: str = data_type.name  # a rule_engine.DataType
    return _TYPE_WORDS.get(name, name.lower())


def _describe(node: Any) -> str:
    if isinstance(node, rule_ast.SymbolExpression):
        name: str = node.name
        return name
    if isinstance(node, rule_ast.StringExpression):
        return repr(node.value)
    value = getattr(node, "value", None)
    return str(value) if value is not None else "an expression"


def _check_comparisons(text: str, root: Any) -> None:
    """rule-engine lets `==` compare anything with anything (always false across types).
    Such a comparison is a mistake in a rule, so refuse it, and refuse string values a
    fact never takes (`irls_band == "sever"`)."""
    untyped = {rule_engine.DataType.NULL, rule_engine.DataType.UNDEFINED}
    for node in _nodes(root):
        if not isinstance(node, rule_ast.ComparisonExpression):
            continue
        left, right = node.left, node.right
        lt, rt = left.result_type, right.result_type
        if lt not in untyped and rt not in untyped and lt != rt:
            raise ConditionError(
                f"Type mismatch: {_describe(left)} is {_type_word(lt)} but is compared with "
                f"{_describe(right)}, which is {_type_word(rt)}."
            )
        for symbol, literal in ((left, right), (right, left)):
            if isinstance(symbol, rule_ast.SymbolExpression) and isinstance(
                literal, rule_ast.StringExpression
            ):
                fact = FACT_BY_NAME[symbol.name]
                if fact.choices and literal.value not in fact.choices:
                    raise ConditionError(
                        f"{literal.value!r} is never a value of {fact.name}; "
                        f"it takes {', '.join(fact.choices)}."
                    )


# The longest default condition is 245 characters. Past a few thousand, rule-engine's
# "did you mean" search for an unknown name takes seconds (10 s at 100,000 characters).
CONDITION_MAX_LENGTH = 2000


@lru_cache(maxsize=2048)
def compile_condition(text: str) -> Condition:
    """Parse and type-check a condition. Cached: a rule version's condition never changes,
    so each is compiled once per process.

    Raises ConditionError with a message that says where and why.
    """
    if not text.strip():
        raise ConditionError("The condition is empty.")
    if len(text) > CONDITION_MAX_LENGTH:
        raise ConditionError(
            f"The condition is {len(text):,} characters long; at most "
            f"{CONDITION_MAX_LENGTH:,} are allowed. Split it into several rules."
        )
    try:
        compiled = rule_engine.Rule(text, context=CONTEXT)
    except RecursionError:  # rule-engine builds its tree recursively
        raise ConditionError(
            "The condition is nested too deeply: too many operators or brackets inside one another."
        ) from None
    except rule_engine.SymbolResolutionError as error:
        match = re.search(rf"\b{re.escape(error.symbol_name)}\b", text)
        hint = f" Did you mean {error.suggestion}?" if error.suggestion else ""
        raise ConditionError(
            f"Unknown fact {error.symbol_name!r} {_where(text, match.start() if match else None)}."
            f"{hint} Rules may use only the facts of the fact table."
        ) from None
    except rule_engine.RuleSyntaxError as error:
        position = error.token.lexpos if error.token is not None else None
        raise ConditionError(f"Syntax error {_where(text, position)}.") from None
    except rule_engine.EngineError as error:
        raise ConditionError(
            f"Type mismatch ({error.message}): an operator is used on a fact of the wrong type, "
            "such as < on text or + on true/false. Check each fact's type in the fact table."
        ) from None
    expression = compiled.statement.expression
    try:
        _check_comparisons(text, expression)
    except RecursionError:
        raise ConditionError("The condition is nested too deeply.") from None
    if expression.result_type not in (rule_engine.DataType.BOOLEAN, rule_engine.DataType.UNDEFINED):
        raise ConditionError(
            f"The condition gives {_type_word(expression.result_type)}, not true or false."
        )
    condition: Condition = compiled
    return condition


def evaluate[R: RuleLike](facts: Mapping[str, Any], rules: Iterable[R]) -> Result[R]:
    """Run every rule against the facts. A rule that raises is reported and logged, never
    raised: one broken rule must not break a page or a save."""
    fired = []
    not_evaluated = []
    for rule in rules:
        try:
            matched = compile_condition(rule.condition).matches(facts)
        except Exception as error:  # any failure of one rule is contained
            reason = str(getattr(error, "message", "") or error) or type(error).__name__
            logger.warning("Rule %s v%s not evaluated: %s", rule.code, rule.version, reason)
            not_evaluated.append(NotEvaluated(rule, reason))
            continue
        if matched:
            fired.append(rule)
    fired.sort(key=lambda rule: (INDICATOR_ORDER.get(rule.indicator, 9), rule.code))
    return Result(fired, not_evaluated)


# Test cases: facts that a rule version must (or must not) fire on before it can go live.


@dataclass(frozen=True)
class CaseResult:
    name: str
    facts: Mapping[str, Any]
    expected: bool
    outcome: bool | None  # None when the case could not be run
    problem: str = ""

    @property
    def facts_text(self) -> str:
        return (
            ", ".join(f"{name}={json.dumps(value)}" for name, value in self.facts.items())
            or "(blank)"
        )

    @property
    def passed(self) -> bool:
        return self.outcome is not None and self.outcome == self.expected


def _type_ok(fact_type: str, value: Any) -> bool:
    if value is None:
        return True
    if fact_type == BOOL:
        return isinstance(value, bool)
    if fact_type == STR:
        return isinstance(value, str)
    if fact_type == DATETIME:
        return isinstance(value, str)
    return isinstance(value, int | float) and not isinstance(value, bool)


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
        fact = FACT_BY_NAME.get(name)
        if fact is None:
            raise ValueError(f"unknown fact {name!r}")
        if not _type_ok(fact.type, value):
            kind = _type_word(_RULE_TYPES.get(fact.type, rule_engine.DataType.FLOAT))
            raise ValueError(f"{name} must be {kind} or null")
        if fact.type == DATETIME and value is not None:
            value = parse_datetime(value)
        facts[name] = value
    return facts


def run_cases(condition: str, cases: Iterable[Mapping[str, Any]]) -> list[CaseResult]:
    compiled = compile_condition(condition)
    results = []
    for number, case in enumerate(cases, start=1):
        name = str(case.get("name") or f"case {number}")
        given = case.get("facts") or {}
        expected = bool(case.get("fires"))
        try:
            outcome = bool(compiled.matches(case_facts(given)))
        except Exception as error:  # a case that cannot run fails, with the reason
            reason = str(getattr(error, "message", error))
            results.append(CaseResult(name, given, expected, None, reason))
            continue
        results.append(CaseResult(name, given, expected, outcome))
    return results
