"""The condition language of guidance rules: a small part of the `rule-engine` package's
expression language (comparisons, and, or, not, `in` over a list of values), type-checked
against the fact table of product.md section 4 (patients.facts.FACTS) and checked to be
null-safe before a rule can be saved, so that a saved rule cannot hang, crash or fail to
evaluate on a real assessment. compile_condition is the one door: every other part of the
engine reads a condition through it.
"""

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Protocol

import rule_engine
from rule_engine import ast as rule_ast

from patients.facts import BOOL, DATETIME, FACT_BY_NAME, FACTS, FLOAT, INT, NEVER_NULL, STR

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


class Condition(Protocol):
    """A compiled condition: the part of rule_engine.Rule we use (rule-engine ships no
    type information, so mypy sees its objects as Any)."""

    statement: Any  # the parsed expression, as rule_engine.ast nodes

    def matches(self, thing: Mapping[str, Any]) -> bool: ...


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

# A fact compared with a value, as written: `sex > 5`, `irls_total >= "x"`.
_COMPARISON = re.compile(
    r"\b(?P<fact>[a-z_][a-z0-9_]*)\s*(?P<op>==|!=|<=|>=|<|>)\s*"
    r"(?P<value>\"[^\"]*\"|'[^']*'|-?\d+(?:\.\d+)?|true|false|null)"
)
_FACT_TYPE_WORDS = {
    BOOL: "true/false",
    INT: "a number",
    FLOAT: "a number",
    STR: "text",
    DATETIME: "a date",
}


def _value_type(value: str) -> str | None:
    if value == "null":
        return None
    if value in ("true", "false"):
        return BOOL
    if value[0] in "\"'":
        return STR
    return FLOAT


def _locate_mismatch(text: str) -> str | None:
    """rule-engine refuses `sex > 5` without saying where: find the comparison of a fact
    with a value that does not fit it, and name the fact, the operator and the position."""
    for match in _COMPARISON.finditer(text):
        fact = FACT_BY_NAME.get(match["fact"])
        value_type = _value_type(match["value"])
        if fact is None or value_type is None:
            continue
        numeric = fact.type in (INT, FLOAT)
        fits = (numeric and value_type == FLOAT) or fact.type == value_type
        ordered = match["op"] in ("<", "<=", ">", ">=")
        if fits and not (ordered and not numeric):
            continue
        what = _FACT_TYPE_WORDS[fact.type]
        if fact.choices:
            what += f" (one of {', '.join(fact.choices)})"
        problem = (
            f"{match['op']} compares numbers only"
            if ordered and not numeric
            else f"it is compared with {match['value']}, which is {_FACT_TYPE_WORDS[value_type]}"
        )
        return f"Type mismatch {_where(text, match.start())}: {fact.name} is {what}, and {problem}."
    return None


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
        previous = tokens[index - 1].type if index else None
        following = tokens[index + 1].type if index + 1 < len(tokens) else None
        in_list = _check_token(token, previous, following, in_list, text)
        if token.type in ("LPAREN", "LBRACKET"):
            depth += 1
            deepest = max(deepest, depth)
        elif token.type in ("RPAREN", "RBRACKET"):
            depth -= 1
        operators += token.type in _OPERATOR_TOKENS
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


def _check_token(
    token: Any, previous: str | None, following: str | None, in_list: bool, text: str
) -> bool:
    """Refuse a token the language does not allow where it stands; whether a list is open
    after it (a list may follow `in` only, and holds no other list)."""
    kind: str = token.type
    value: str = str(token.value)
    where = _where(text, token.lexpos)
    if kind == "SUB" and following == "FLOAT" and previous not in _OPERAND_END:
        return in_list  # a negative number, e.g. irls_change <= -5
    if kind in _REFUSED_TOKENS:
        raise ConditionError(f"{_REFUSED_TOKENS[kind].format(op=value)} Found {where}.")
    if kind not in _ALLOWED_TOKENS:
        raise ConditionError(f"{value!r} is not allowed in conditions. Found {where}.")
    if kind == "SYMBOL" and value.startswith("$"):
        raise ConditionError(
            f"Built-in symbols ({value}) are not allowed in conditions: rules may use "
            f"only the facts of the fact table. Found {where}."
        )
    if kind == "LPAREN" and previous in _OPERAND_END:
        raise ConditionError(f"Function calls are not allowed in conditions. Found {where}.")
    if kind == "LBRACKET":
        if value != "[" or previous != "IN" or in_list:
            raise ConditionError(f"{_INDEXING} Found {where}.")
        return True
    return in_list and kind != "RBRACKET"


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


def fact_type(node: Any) -> str | None:
    """The fact table's type of a fact in an expression; None for anything else."""
    if type(node) is rule_ast.SymbolExpression:
        return FACT_BY_NAME[node.name].type
    return None


def _is_number(node: Any) -> bool:
    return type(node) is rule_ast.FloatExpression or fact_type(node) in (INT, FLOAT)


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
    elif kind is rule_ast.BooleanExpression or fact_type(node) == BOOL:
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
    kind = fact_type(member)
    if kind is None or type(container) is not rule_ast.ArrayExpression:
        raise ConditionError(
            "in needs a fact on its left and a list on its right, "
            "e.g. kratom_product in ['extract', 'seven_oh']."
        )
    items = list(container.value)
    if kind not in (INT, FLOAT, STR):
        raise ConditionError(
            f"in checks a number or text fact against a list of values; "
            f"compare {member.name} with == instead."
        )
    if not items:
        raise ConditionError(f"The list after {member.name} in is empty: it would never match.")
    wanted = rule_ast.StringExpression if kind == STR else rule_ast.FloatExpression
    fact = FACT_BY_NAME[member.name]
    for item in items:
        if type(item) is not wanted:
            word = "text" if kind == STR else "numbers"
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
        located = _locate_mismatch(text)
        if located is not None:
            raise ConditionError(located) from None
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
