"""Evaluation: which rules fire on a set of facts, and why (product.md 5.2). A rule that
cannot be evaluated is reported, never raised.
"""

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import rule_engine
from rule_engine import ast as rule_ast

from guidance.engine.language import compile_condition

logger = logging.getLogger(__name__)

INDICATOR_ORDER = {"critical": 0, "warning": 1, "info": 2}


class RuleLike(Protocol):
    code: str
    version: int
    indicator: str
    condition: str


@dataclass(frozen=True)
class NotEvaluated[R: RuleLike]:
    rule: R
    reason: str


@dataclass(frozen=True)
class Result[R: RuleLike]:
    fired: list[R]  # the rules that fired, critical first, then warning, then info
    not_evaluated: list[NotEvaluated[R]]


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


def because(condition: str, facts: Mapping[str, Any]) -> dict[str, Any]:
    """Why a condition that fired is true for these facts (product.md 5.2): the facts that
    made it true, with their values, in the order the condition names them. For `and`, the
    facts of both sides; for `or`, only those of the branches that are true; for `not` and
    for a comparison, every fact inside."""
    names: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, rule_ast.LogicExpression):
            sides = [node.left, node.right]
            if node.type == "or":
                sides = [side for side in sides if _is_true(side, facts)]
            for side in sides:
                collect(side)
            return
        names.extend(name for name in _symbols(node) if name not in names)

    collect(compile_condition(condition).statement.expression)
    return {name: _plain(facts.get(name)) for name in names}


def named_facts(condition: str) -> tuple[str, ...]:
    """The facts a condition names, in order. Raises ConditionError."""
    return tuple(dict.fromkeys(_symbols(compile_condition(condition).statement.expression)))


def _symbols(node: Any) -> Iterator[str]:
    """The facts an expression names, in the order it names them."""
    if isinstance(node, rule_ast.SymbolExpression):
        yield node.name
    for value in vars(node).values():
        for child in value if isinstance(value, list | tuple) else [value]:
            if isinstance(child, rule_ast.ExpressionBase):
                yield from _symbols(child)


def _is_true(node: Any, facts: Mapping[str, Any]) -> bool:
    """A branch of an `or`, on its own. A branch the whole condition would never reach
    (`x == null or x >= 20` with x null: the right side compares null) is not a reason."""
    try:
        return bool(node.evaluate(facts))
    except rule_engine.EngineError:
        return False


def _plain(value: Any) -> Any:
    """A fact's value as JSON holds it (a date and time as ISO 8601 text)."""
    return value.isoformat() if isinstance(value, datetime) else value
