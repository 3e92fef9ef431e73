"""The guidance engine: facts and rules in, fired cards and not-evaluated rules out.

Pure Python over plain values, no database access, in four modules:

- language: the condition language, its checks and compile_condition (the one door);
- evaluation: evaluate (which rules fire) and because (why);
- matcher: compile_matcher, the same conditions as plain Python functions, for the preview;
- cases: a rule version's test cases.

The names other packages use are imported here, so that they say `guidance.engine`.
"""

from guidance.engine.cases import BLANK_CASE, CaseResult, case_facts, run_cases
from guidance.engine.evaluation import (
    INDICATOR_ORDER,
    NotEvaluated,
    Result,
    RuleLike,
    because,
    evaluate,
    named_facts,
)
from guidance.engine.language import (
    CONTEXT,
    MAX_CONDITION_LENGTH,
    MAX_NESTING,
    MAX_OPERATORS,
    Condition,
    ConditionError,
    compile_condition,
)
from guidance.engine.matcher import Matcher, compile_matcher

__all__ = [
    "BLANK_CASE",
    "CONTEXT",
    "INDICATOR_ORDER",
    "MAX_CONDITION_LENGTH",
    "MAX_NESTING",
    "MAX_OPERATORS",
    "CaseResult",
    "Condition",
    "ConditionError",
    "Matcher",
    "NotEvaluated",
    "Result",
    "RuleLike",
    "because",
    "case_facts",
    "compile_condition",
    "compile_matcher",
    "evaluate",
    "named_facts",
    "run_cases",
]
