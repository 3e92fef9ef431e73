"""The rule editor's form: a new version of a rule, with its test cases."""

import json
import math
from typing import Any

from django import forms

from guidance.engine import ConditionError, case_facts, compile_condition
from guidance.models import Rule

MAX_TEST_CASES = 50
MAX_TEST_CASES_LENGTH = 20_000
MAX_CASE_NAME_LENGTH = 200
MAX_NUMBER_DIGITS = 30  # far more than any fact needs; Python refuses ints over 4,300 digits


class _NotAFactValue(ValueError):
    """A JSON value that no fact takes (NaN, Infinity, a number with thousands of digits)."""


def _refuse_constant(name: str) -> Any:
    raise _NotAFactValue(f"{name} is not a value any fact takes; give a number or null")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _NotAFactValue(f"a number of {len(text):,} digits is not a value any fact takes")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_DIGITS + 10 else math.inf
    if not math.isfinite(value):
        shown = text if len(text) <= 20 else f"{text[:20]}…"
        raise _NotAFactValue(f"{shown} is not a value any fact takes")
    return value


class TestCasesField(forms.Field):
    """Test cases as JSON: [{"name": …, "facts": {…}, "fires": true}, …].

    Only values a real assessment could give get through: JSON allows NaN, Infinity,
    5,000-digit numbers, NUL characters and nesting deeper than Python's json can read,
    and each of those is a field error here, never a server error."""

    widget = forms.Textarea(attrs={"rows": 8, "class": "font-monospace", "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return json.dumps(value, indent=2)
        return value

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        if value in (None, ""):
            return []
        if isinstance(value, list):
            return value
        text = str(value)
        if len(text) > MAX_TEST_CASES_LENGTH:
            raise forms.ValidationError(
                f"The test cases are {len(text):,} characters long; at most "
                f"{MAX_TEST_CASES_LENGTH:,} are allowed."
            )
        try:
            cases = json.loads(
                text,
                parse_constant=_refuse_constant,
                parse_int=_parse_int,
                parse_float=_parse_float,
            )
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                f"Not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
            ) from None
        except _NotAFactValue as error:
            raise forms.ValidationError(f"Not a valid test case: {error}.") from None
        except RecursionError:
            raise forms.ValidationError(
                "The JSON is nested too deeply: give a list of test cases, each with flat facts."
            ) from None
        if not isinstance(cases, list):
            raise forms.ValidationError("Give a list of test cases: [ {...}, {...} ].")
        if len(cases) > MAX_TEST_CASES:
            raise forms.ValidationError(
                f"{len(cases)} test cases: at most {MAX_TEST_CASES} are allowed."
            )
        for number, case in enumerate(cases, start=1):
            self._check_case(number, case)
        return cases

    def _check_case(self, number: int, case: Any) -> None:
        if not isinstance(case, dict) or not isinstance(case.get("facts", {}), dict):
            raise forms.ValidationError(
                f'Case {number}: give {{"name": ..., "facts": {{...}}, "fires": true or false}}.'
            )
        unknown = set(case) - {"name", "facts", "fires"}
        if unknown:
            raise forms.ValidationError(f"Case {number}: unknown key {sorted(unknown)[0][:40]!r}.")
        if not isinstance(case.get("fires"), bool):
            raise forms.ValidationError(f'Case {number}: "fires" must be true or false.')
        name = case.get("name", "")
        if not isinstance(name, str) or len(name) > MAX_CASE_NAME_LENGTH or not storable(name):
            raise forms.ValidationError(
                f"Case {number}: the name must be text of at most {MAX_CASE_NAME_LENGTH} "
                "characters, without NUL characters."
            )
        try:
            case_facts(case.get("facts", {}))
        except ValueError as error:
            raise forms.ValidationError(f"Case {number}: {error}.") from None


class RuleForm(forms.ModelForm[Rule]):
    """Edits save a new version: the form is always bound to a new, unsaved Rule."""

    test_cases = TestCasesField(
        required=False,
        help_text='For example [{"name": "moderate RLS", "facts": {"rls_criteria_met": true, '
        '"irls_total": 11}, "fires": true}]. Facts left out are: age 40, sex unknown, '
        "yes/no facts false, everything else null.",
    )

    class Meta:
        model = Rule
        fields = [
            "code",
            "title",
            "detail",
            "category",
            "indicator",
            "condition",
            "source",
            "evidence",
            "test_cases",
            "change_note",
        ]
        widgets = {
            "condition": forms.Textarea(
                attrs={"rows": 3, "class": "font-monospace", "spellcheck": "false"}
            ),
            "detail": forms.Textarea(attrs={"rows": 4}),
            "source": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"change_note": "What changed, and why"}

    def __init__(self, *args: Any, code_fixed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if code_fixed:
            self.fields["code"].disabled = True
        self.fields["change_note"].required = True

    def clean_code(self) -> str:
        code = str(self.cleaned_data["code"]).strip().upper()
        if not code.replace("-", "").isalnum():
            raise forms.ValidationError(
                "Use capital letters, digits and dashes, e.g. IRON-STUDIES."
            )
        if not self.fields["code"].disabled and Rule.objects.filter(code=code).exists():
            raise forms.ValidationError(
                "A rule with this code exists: edit it to make a new version."
            )
        return code

    def clean_condition(self) -> str:
        condition = str(self.cleaned_data["condition"]).strip()
        try:
            compile_condition(condition)
        except ConditionError as error:
            raise forms.ValidationError(str(error)) from None
        return condition


def storable(text: str) -> bool:
    """Text a database keeps as given: no NUL (PostgreSQL refuses it) and no lone
    surrogate, which JSON's \\ud800 escapes can make but UTF-8 cannot hold."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
