"""The fast matcher: one condition run over many fact sets (the rule preview runs a draft
on every past assessment), with exactly rule-engine's results. Its equivalence with
`evaluate` is tested beside it (tests/guidance/test_matcher.py).
"""

import ast as pyast
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from rule_engine import ast as rule_ast

from guidance.engine.language import compile_condition, fact_type
from patients.facts import FLOAT, INT

# A faster way to run one condition over many fact sets: the rule preview runs a draft on
# every past assessment. rule-engine walks its syntax tree and checks every value's type at
# every node (30 to 70 µs a condition); the language compile_condition allows is small
# enough to translate once into one Python expression, built as a Python syntax tree (never
# as text) from the checked rule-engine tree: fact names become facts["name"], literals
# constants. It keeps rule-engine's results exactly:
#  - numbers: rule-engine compares Decimal(repr(value)) with the literal's Decimal. For a
#    whole-number literal that is the same as comparing the float itself with it (a float's
#    repr lies within its own rounding interval, which holds no other float), so those are
#    compared directly; any other literal, and fact against fact, through Decimal as it does;
#  - `==` and `!=` on null: false and true, as across types in rule-engine (none but null
#    can differ in type after the type check);
#  - <, <=, >, >= on null raise, as in rule-engine ("not evaluated"), except null against
#    null, which rule-engine takes as equal (_ordered);
#  - and/or stop early, left to right.
# tests/guidance/test_matcher.py checks it against `evaluate` on every default rule.

Matcher = Callable[[Mapping[str, Any]], bool]

_COMPARISONS: dict[str, Any] = {
    "eq": pyast.Eq,
    "ne": pyast.NotEq,
    "lt": pyast.Lt,
    "le": pyast.LtE,
    "gt": pyast.Gt,
    "ge": pyast.GtE,
}
_ORDERINGS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_WHOLE_LIMIT = 2**53  # whole numbers up to here are floats exactly


def _decimal(value: Any) -> Any:
    """A number as rule-engine compares it: Decimal(repr(float)), Decimal(int)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _ordered(order: str, left: Any, right: Any) -> bool:
    """<, <=, >, >= between two facts, as rule-engine: null against null is equal, a
    number against null raises."""
    if left is None and right is None:
        return order in ("le", "ge")
    if left is None or right is None:
        raise TypeError(f"cannot compare {left!r} with {right!r}")
    return bool(_ORDERINGS[order](_decimal(left), _decimal(right)))


class _Translation:
    """One condition's tree as a Python expression over `facts`; `constants` holds the
    values that are not Python literals (Decimals, lists), by the names it uses for them."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {"_decimal": _decimal, "_ordered": _ordered}

    def constant(self, value: Any) -> pyast.expr:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return pyast.Name(name, pyast.Load())

    def fact(self, name: str) -> pyast.expr:
        return pyast.Subscript(
            pyast.Name("facts", pyast.Load()), pyast.Constant(name), pyast.Load()
        )

    def call(self, function: str, *arguments: pyast.expr) -> pyast.expr:
        return pyast.Call(pyast.Name(function, pyast.Load()), list(arguments), [])

    def term(self, node: Any) -> pyast.expr:
        kind = type(node)
        if kind is rule_ast.LogicExpression:
            both = [self.term(node.left), self.term(node.right)]
            return pyast.BoolOp(pyast.And() if node.type == "and" else pyast.Or(), both)
        if kind is rule_ast.UnaryExpression:  # not: the only unary operator allowed
            return pyast.UnaryOp(pyast.Not(), self.term(node.right))
        if kind is rule_ast.ContainsExpression:
            values = tuple(item.value for item in node.container.value)
            member = self.fact(node.member.name)
            if any(isinstance(value, Decimal) for value in values) and not all(
                _whole(value) for value in values
            ):
                member = self.call("_decimal", member)
            else:
                values = tuple(_plain_number(value) for value in values)
            return pyast.Compare(member, [pyast.In()], [self.constant(values)])
        if kind in (rule_ast.ComparisonExpression, rule_ast.ArithmeticComparisonExpression):
            return self.comparison(node)
        if kind is rule_ast.BooleanExpression:
            return pyast.Constant(bool(node.value))
        return self.fact(node.name)  # a yes/no fact on its own

    def comparison(self, node: Any) -> pyast.expr:
        left, right = node.left, node.right
        symbols = [type(side) is rule_ast.SymbolExpression for side in (left, right)]
        numbers = [type(side) is rule_ast.FloatExpression for side in (left, right)]
        if all(symbols) and fact_type(left) in (INT, FLOAT):  # a number fact with another
            if node.type in _ORDERINGS:
                order = pyast.Constant(node.type)
                return self.call("_ordered", order, self.fact(left.name), self.fact(right.name))
            sides = [self.call("_decimal", self.fact(side.name)) for side in (left, right)]
        elif type(left) is rule_ast.NullExpression or type(right) is rule_ast.NullExpression:
            # x == null, x != null: a fact is null or not (rule-engine folds null == null)
            other = right if type(left) is rule_ast.NullExpression else left
            test = pyast.Is() if node.type == "eq" else pyast.IsNot()
            return pyast.Compare(self.operand(other), [test], [pyast.Constant(None)])
        elif any(numbers) and not all(
            _whole(side.value) for side, n in zip((left, right), numbers, strict=True) if n
        ):
            sides = [
                self.constant(side.value) if number else self.call("_decimal", self.operand(side))
                for side, number in zip((left, right), numbers, strict=True)
            ]
        else:
            sides = [self.operand(left), self.operand(right)]
        return pyast.Compare(sides[0], [_COMPARISONS[node.type]()], [sides[1]])

    def operand(self, node: Any) -> pyast.expr:
        if type(node) is rule_ast.SymbolExpression:
            return self.fact(node.name)
        if type(node) is rule_ast.FloatExpression:
            return pyast.Constant(_plain_number(node.value))
        return pyast.Constant(node.value)  # text, true, false


def _whole(value: Any) -> bool:
    return (
        isinstance(value, Decimal)
        and value == value.to_integral_value()
        and abs(value) < _WHOLE_LIMIT
    )


def _plain_number(value: Any) -> Any:
    """A whole-number literal as a Python int (exact for facts, see above)."""
    return int(value) if _whole(value) else value


@lru_cache(maxsize=256)
def compile_matcher(condition: str) -> Matcher:
    """A condition as a Python function of the facts that returns whether it holds, as
    compile_condition(condition).matches does, only faster. The function raises (TypeError)
    where rule-engine raises. Raises ConditionError for a condition that does not compile."""
    translation = _Translation()
    body = pyast.Call(
        pyast.Name("bool", pyast.Load()),
        [translation.term(compile_condition(condition).statement.expression)],
        [],
    )
    arguments = pyast.arguments(
        posonlyargs=[], args=[pyast.arg("facts")], kwonlyargs=[], kw_defaults=[], defaults=[]
    )
    tree = pyast.fix_missing_locations(pyast.Expression(pyast.Lambda(arguments, body)))
    namespace = {"__builtins__": {"bool": bool}, **translation.constants}
    matcher: Matcher = eval(compile(tree, "<condition>", "eval"), namespace)  # noqa: S307 (a tree built above from checked nodes, no text)
    return matcher
