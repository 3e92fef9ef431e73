"""The guidance engine: facts and rules in, fired cards and not-evaluated rules out.

Pure Python over plain values, no database access. Conditions are written in a small part
of the `rule-engine` package's expression language (comparisons, and, or, not, `in` over a
list of values), type-checked against the fact table of product.md section 4
(patients.facts.FACTS) and checked to be null-safe before a rule can be saved, so that a
saved rule cannot hang, crash or fail to evaluate on a real assessment.
"""

import ast as pyast
import json
import logging
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

import rule_engine
from rule_engine import ast as rule_ast

from patients.facts import (
    BOOL,
    DATETIME,
    FACT_BY_NAME,
    FACTS,
    FLOAT,
    INT,
    NEVER_NULL,
    STR,
    number_problem,
    parse_datetime,
)

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

    statement: Any  # the parsed expression, as rule_engine.ast nodes

    def matches(self, thing: Mapping[str, Any]) -> bool: ...


@dataclass(frozen=True)
class NotEvaluated[R: RuleLike]:
    rule: R
    reason: str


@dataclass(frozen=True)
class Result[R: RuleLike]:
    fired: list[R]  # the rules that fired, critical first, then warning, then info
    not_evaluated: list[NotEvaluated[R]]


# Limits checked before rule-engine's parser sees a condition: the parser recurses once per
# operator (about 800 terms raised RecursionError) and evaluates operators on literals while
# parsing (a regular expression with catastrophic backtracking hung the save itself).
MAX_CONDITION_LENGTH = 2000
MAX_NESTING = 32
MAX_OPERATORS = 100  # and, or, not, in and comparisons: the longest default rule has 20


def _where(text: str, position: int | None) -> str:
    if position is None:
        return "at the end of the condition"
    return f"at character {position + 1} (“{text[position : position + 20].strip()}…”)"


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
    if isinstance(node, rule_ast.NullExpression):
        return "null"
    if isinstance(node, rule_ast.BooleanExpression):
        return "true" if node.value else "false"
    value = getattr(node, "value", None)
    return str(value) if value is not None else "an expression"


# The language a condition may use: the tokens and AST nodes below, nothing else.

_COMPARISON_TOKENS = frozenset({"EQ", "NE", "LT", "LE", "GT", "GE"})
_OPERATOR_TOKENS = _COMPARISON_TOKENS | {"AND", "OR", "NOT", "IN"}
_VALUE_TOKENS = frozenset({"SYMBOL", "FLOAT", "STRING", "TRUE", "FALSE", "NULL"})
_ALLOWED_TOKENS = (
    _OPERATOR_TOKENS | _VALUE_TOKENS | {"LPAREN", "RPAREN", "LBRACKET", "RBRACKET", "COMMA", "SUB"}
)
_OPERAND_END = _VALUE_TOKENS | {"RPAREN", "RBRACKET"}  # a token that can end an operand
_ARITHMETIC = (
    "Arithmetic ({op}) is not allowed in conditions: compare a fact with a number. "
    "Calculations the rules need are derived facts (crcl_ml_min, hours_since_last_dose)."
)
_BITWISE = "Bitwise operators ({op}) are not allowed in conditions: use and, or, not."
_REGEX = "Regular-expression matching ({op}) is not allowed in conditions: compare with == or in."
_REFUSED_TOKENS = {
    "EQ_FZM": _REGEX,
    "EQ_FZS": _REGEX,
    "NE_FZM": _REGEX,
    "NE_FZS": _REGEX,
    "ATTR": "Attribute access ({op}) is not allowed in conditions: name a fact of the fact table.",
    "ATTR_SAFE": "Attribute access ({op}) is not allowed in conditions: "
    "name a fact of the fact table.",
    "ADD": _ARITHMETIC,
    "SUB": _ARITHMETIC,
    "MUL": _ARITHMETIC,
    "TDIV": _ARITHMETIC,
    "FDIV": _ARITHMETIC,
    "MOD": _ARITHMETIC,
    "POW": _ARITHMETIC,
    "BWAND": _BITWISE,
    "BWOR": _BITWISE,
    "BWXOR": _BITWISE,
    "BWLSH": _BITWISE,
    "BWRSH": _BITWISE,
    "COALESCE": "The ?? operator is not allowed in conditions: say what an empty fact means, "
    "e.g. tsat_percent == null or tsat_percent >= 20.",
    "QMARK": "The ? : operator is not allowed in conditions: use and, or, not.",
    "COLON": "The ? : operator and slices are not allowed in conditions: use and, or, not.",
    "FOR": "Comprehensions (for … in …) are not allowed in conditions.",
    "IF": "Comprehensions (… if …) are not allowed in conditions: use and, or, not.",
    "LBRACE": "Sets and mappings ({{…}}) are not allowed in conditions: "
    "use a list, e.g. kratom_product in ['extract', 'seven_oh'].",
    "RBRACE": "Sets and mappings ({{…}}) are not allowed in conditions: "
    "use a list, e.g. kratom_product in ['extract', 'seven_oh'].",
    "DATETIME": "Date literals ({op}) are not allowed in conditions: "
    "compare hours_since_last_dose with a number of hours.",
    "TIMEDELTA": "Time-span literals ({op}) are not allowed in conditions: "
    "compare hours_since_last_dose with a number of hours.",
    "BYTES": "Bytes literals ({op}) are not allowed in conditions: use text in quotes.",
    "FLOAT_NAN": "nan is not allowed in conditions: use a finite number.",
    "FLOAT_INF": "inf is not allowed in conditions: use a finite number.",
    "COMMENT": "Comments (#) are not allowed in conditions: say why in the change note.",
}
_INDEXING = (
    "Indexing and slicing ([…]) are not allowed in conditions: square brackets only make a "
    "list after in, e.g. kratom_product in ['extract', 'seven_oh']."
)


def _check_tokens(text: str) -> None:
    """Refuse, before parsing, what rule-engine's parser would evaluate or recurse on."""
    lexer = rule_engine.Rule.parser._lexer.clone()  # rule-engine's own lexer: no recursion
    lexer.input(text)
    try:
        tokens = list(iter(lexer.token, None))
    except rule_engine.RuleSyntaxError as error:
        position = error.token.lexpos if error.token is not None else None
        raise ConditionError(f"Syntax error {_where(text, position)}.") from None
    depth = deepest = operators = 0
    in_list = False
    for index, token in enumerate(tokens):
        kind: str = token.type
        value: str = str(token.value)
        previous = tokens[index - 1].type if index else None
        following = tokens[index + 1].type if index + 1 < len(tokens) else None
        where = _where(text, token.lexpos)
        if kind == "SUB" and following == "FLOAT" and previous not in _OPERAND_END:
            pass  # a negative number, e.g. irls_change <= -5
        elif kind in _REFUSED_TOKENS:
            raise ConditionError(f"{_REFUSED_TOKENS[kind].format(op=value)} Found {where}.")
        elif kind not in _ALLOWED_TOKENS:
            raise ConditionError(f"{value!r} is not allowed in conditions. Found {where}.")
        elif kind == "SYMBOL" and value.startswith("$"):
            raise ConditionError(
                f"Built-in symbols ({value}) are not allowed in conditions: rules may use "
                f"only the facts of the fact table. Found {where}."
            )
        elif kind == "LPAREN" and previous in _OPERAND_END:
            raise ConditionError(f"Function calls are not allowed in conditions. Found {where}.")
        elif kind == "LBRACKET":
            if value != "[" or previous != "IN" or in_list:
                raise ConditionError(f"{_INDEXING} Found {where}.")
            in_list = True
        elif kind == "RBRACKET":
            in_list = False
        if kind in ("LPAREN", "LBRACKET"):
            depth += 1
            deepest = max(deepest, depth)
        elif kind in ("RPAREN", "RBRACKET"):
            depth -= 1
        operators += kind in _OPERATOR_TOKENS
    if deepest > MAX_NESTING:
        raise ConditionError(
            f"The condition is nested {deepest} levels deep; at most {MAX_NESTING} are allowed. "
            "Remove parentheses or split it into several rules."
        )
    if operators > MAX_OPERATORS:
        raise ConditionError(
            f"The condition has {operators} operators (and, or, not, in, comparisons); at most "
            f"{MAX_OPERATORS} are allowed. Split it into several rules."
        )


_OPERATOR_TEXT = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_LITERALS = (
    rule_ast.FloatExpression,
    rule_ast.StringExpression,
    rule_ast.BooleanExpression,
    rule_ast.NullExpression,
)
_OPERANDS = (rule_ast.SymbolExpression, *_LITERALS)
_NOT_ALLOWED = {
    rule_ast.FuzzyComparisonExpression: "Regular-expression matching (=~)",
    rule_ast.GetAttributeExpression: "Attribute access (.)",
    rule_ast.FunctionCallExpression: "A function call",
    rule_ast.ComprehensionExpression: "A comprehension",
    rule_ast.GetItemExpression: "Indexing ([…])",
    rule_ast.GetSliceExpression: "Slicing ([…:…])",
}


def _fact_type(node: Any) -> str | None:
    if type(node) is rule_ast.SymbolExpression:
        return FACT_BY_NAME[node.name].type
    return None


def _is_number(node: Any) -> bool:
    return type(node) is rule_ast.FloatExpression or _fact_type(node) in (INT, FLOAT)


def _check_term(node: Any) -> None:
    """Refuse anything but the allowed node types (an allow-list: exact types, since the
    refused FuzzyComparisonExpression is a subclass of ComparisonExpression). A term is
    and, or, not, a comparison, `in` over a list, true, false or a yes/no fact."""
    kind = type(node)
    if kind is rule_ast.LogicExpression and node.type in ("and", "or"):
        _check_term(node.left)
        _check_term(node.right)
    elif kind is rule_ast.UnaryExpression and node.type == "not":
        _check_term(node.right)
    elif kind in (rule_ast.ComparisonExpression, rule_ast.ArithmeticComparisonExpression):
        _check_comparison(node)
    elif kind is rule_ast.ContainsExpression:
        _check_contains(node)
    elif kind is rule_ast.BooleanExpression or _fact_type(node) == BOOL:
        pass
    elif kind in _OPERANDS:
        raise ConditionError(
            f"{_describe(node)} gives {_type_word(node.result_type)}, not true or false: "
            "compare it with a value (==, !=, <, <=, >, >=)."
        )
    else:
        what = _NOT_ALLOWED.get(kind, f"{kind.__name__.removesuffix('Expression')} expression")
        raise ConditionError(
            f"{what} is not allowed in conditions: use comparisons, and, or, not, "
            "and in over a list."
        )


def _check_comparison(node: Any) -> None:
    """rule-engine lets `==` compare anything with anything (always false across types).
    Such a comparison is a mistake in a rule, so refuse it, and refuse string values a
    fact never takes (`irls_band == "sever"`)."""
    left, right = node.left, node.right
    operator = _OPERATOR_TEXT[node.type]
    for side in (left, right):
        if type(side) not in _OPERANDS:
            raise ConditionError(
                f"{operator} compares a fact with a value or with another fact, "
                f"not with {_describe(side)}."
            )
    untyped = {rule_engine.DataType.NULL, rule_engine.DataType.UNDEFINED}
    lt, rt = left.result_type, right.result_type
    if lt not in untyped and rt not in untyped and lt != rt:
        raise ConditionError(
            f"Type mismatch: {_describe(left)} is {_type_word(lt)} but is compared with "
            f"{_describe(right)}, which is {_type_word(rt)}."
        )
    for symbol, literal in ((left, right), (right, left)):
        if type(symbol) is rule_ast.SymbolExpression and type(literal) is rule_ast.StringExpression:
            fact = FACT_BY_NAME[symbol.name]
            if fact.choices and literal.value not in fact.choices:
                raise ConditionError(
                    f"{literal.value!r} is never a value of {fact.name}; "
                    f"it takes {', '.join(fact.choices)}."
                )
    if operator in ("==", "!="):
        return
    for side in (left, right):
        if type(side) is rule_ast.NullExpression:
            raise ConditionError(
                f"null can only be compared with == or !=, not {operator}: "
                f"e.g. {_describe(right if side is left else left)} == null."
            )
        if not _is_number(side):
            raise ConditionError(
                f"{operator} compares numbers only; {_describe(side)} is "
                f"{_type_word(side.result_type)}."
            )


def _check_contains(node: Any) -> None:
    member, container = node.member, node.container
    fact_type = _fact_type(member)
    if fact_type is None or type(container) is not rule_ast.ArrayExpression:
        raise ConditionError(
            "in needs a fact on its left and a list on its right, "
            "e.g. kratom_product in ['extract', 'seven_oh']."
        )
    items = list(container.value)
    if fact_type not in (INT, FLOAT, STR):
        raise ConditionError(
            f"in checks a number or text fact against a list of values; "
            f"compare {member.name} with == instead."
        )
    if not items:
        raise ConditionError(f"The list after {member.name} in is empty: it would never match.")
    wanted = rule_ast.StringExpression if fact_type == STR else rule_ast.FloatExpression
    fact = FACT_BY_NAME[member.name]
    for item in items:
        if type(item) is not wanted:
            word = "text" if fact_type == STR else "numbers"
            raise ConditionError(
                f"The list after {member.name} in must hold {word} only, not {_describe(item)}."
            )
        if fact.choices and item.value not in fact.choices:
            raise ConditionError(
                f"{item.value!r} is never a value of {fact.name}; "
                f"it takes {', '.join(fact.choices)}."
            )


# Null safety (product.md section 5): an ordering comparison (<, <=, >, >=) on an empty
# fact raises in rule-engine, so a condition must only reach one when the fact is known
# not to be null. `==`, `!=` and `in` never raise on null (null == 10 is false, null != 10
# is true, null in [...] is false), so they need no guard.

_EMPTY: frozenset[str] = frozenset()


def _nullable(node: Any) -> str | None:
    if type(node) is rule_ast.SymbolExpression and node.name not in NEVER_NULL:
        name: str = node.name
        return name
    return None


def _not_null_when(node: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The facts certainly not null when `node` is true, and when it is false.

    `A and B` is true when both are; it is false when A is, or when A is true and B false.
    `A or B` is true when A is, or when A is false and B true; it is false when both are.
    rule-engine evaluates and/or left to right and stops early, as Python does.
    """
    kind = type(node)
    if kind is rule_ast.LogicExpression:
        left_true, left_false = _not_null_when(node.left)
        right_true, right_false = _not_null_when(node.right)
        if node.type == "and":
            return left_true | right_true, left_false & (left_true | right_false)
        return left_true & (left_false | right_true), left_false | right_false
    if kind is rule_ast.UnaryExpression:  # not
        when_true, when_false = _not_null_when(node.right)
        return when_false, when_true
    if kind is rule_ast.ArithmeticComparisonExpression:
        # Once it has run, true or false, its facts were not null (it raises on null).
        facts = frozenset(name for side in (node.left, node.right) if (name := _nullable(side)))
        return facts, facts
    if kind is rule_ast.ComparisonExpression:
        for symbol, other in ((node.left, node.right), (node.right, node.left)):
            name = _nullable(symbol)
            if name is None or type(other) not in _LITERALS:
                continue
            # X == null is false, X != null true, X == 10 true, X != 10 false: X is not null.
            not_null = frozenset({name})
            null_test = type(other) is rule_ast.NullExpression
            if (node.type == "ne") == null_test:
                return not_null, _EMPTY
            return _EMPTY, not_null
        return _EMPTY, _EMPTY
    if kind is rule_ast.ContainsExpression and (name := _nullable(node.member)):
        return frozenset({name}), _EMPTY  # the list holds no null
    return _EMPTY, _EMPTY


def _check_null_safe(node: Any, known: frozenset[str] = _EMPTY) -> None:
    """Refuse an ordering comparison on a fact that can be null unless `known` (the facts
    the enclosing and/or have shown not to be null) holds it. The right side of `A and B`
    runs only when A is true; the right side of `A or B` only when A is false; `not`
    changes nothing about what has run before it."""
    kind = type(node)
    if kind is rule_ast.LogicExpression:
        _check_null_safe(node.left, known)
        when_true, when_false = _not_null_when(node.left)
        _check_null_safe(node.right, known | (when_true if node.type == "and" else when_false))
    elif kind is rule_ast.UnaryExpression:
        _check_null_safe(node.right, known)
    elif kind is rule_ast.ArithmeticComparisonExpression:
        for side in (node.left, node.right):
            name = _nullable(side)
            if name is not None and name not in known:
                comparison = (
                    f"{_describe(node.left)} {_OPERATOR_TEXT[node.type]} {_describe(node.right)}"
                )
                raise ConditionError(
                    f"{name} can be empty (null): guard the comparison, e.g. "
                    f"{name} != null and {comparison}"
                )


@lru_cache(maxsize=2048)
def compile_condition(text: str) -> Condition:
    """Parse and check a condition: only the allowed language, type-checked against the
    fact table, null-safe. Cached: a rule version's condition never changes, so each is
    compiled once per process.

    Raises ConditionError with a message that says where and why.
    """
    if not text.strip():
        raise ConditionError("The condition is empty.")
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionError(
            f"The condition is {len(text):,} characters long; at most "
            f"{MAX_CONDITION_LENGTH:,} are allowed. Split it into several rules."
        )
    _check_tokens(text)
    try:
        compiled = rule_engine.Rule(text, context=CONTEXT)
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
            "such as < on text. Check each fact's type in the fact table."
        ) from None
    except RecursionError:  # the limits above should make this unreachable
        raise ConditionError("The condition is too complex: split it into several rules.") from None
    expression = compiled.statement.expression
    _check_term(expression)
    _check_null_safe(expression)
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
# guidance.preview's tests check it against `evaluate` on every default rule.

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
        if all(symbols) and _fact_type(left) in (INT, FLOAT):  # a number fact with another
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


def _value_problem(name: str, value: Any) -> str | None:
    """What is wrong with `value` as fact `name` in a test case, or None: the values a real
    assessment could give, nothing else (no NaN, no NUL, nothing out of range)."""
    fact = FACT_BY_NAME.get(name)
    if fact is None:
        return f"unknown fact {name[:40]!r}"
    if value is None:
        return f"{name} is never empty (null) on an assessment" if name in NEVER_NULL else None
    if fact.type == BOOL:
        return None if isinstance(value, bool) else f"{name} must be true/false"
    if fact.type == STR:
        if isinstance(value, str) and value in fact.choices:
            return None
        shown = repr(value)[:40] if isinstance(value, str) else "not text"
        return f"{name}: {shown} is not allowed; allowed: {', '.join(fact.choices)} or null"
    if fact.type == DATETIME:
        try:
            parse_datetime(value)
        except ValueError as error:
            return f"{name}: {str(error)[:120]}"
        return None
    problem = number_problem(fact, value)
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
        fact = FACT_BY_NAME[name]
        if value is not None and fact.type == DATETIME:
            value = parse_datetime(value)
        elif value is not None and fact.type in (INT, FLOAT):
            value = int(value) if fact.type == INT else float(value)
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
