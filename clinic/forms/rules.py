"""The rule editor's form: a new version of a rule, with its test cases."""

import json
from typing import Any

from django import forms

from guidance.engine import ConditionError, case_facts, compile_condition
from guidance.models import Rule


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _storable(cases: Any) -> bool:
    """Whether a JSON column takes the value: PostgreSQL's jsonb refuses NUL and lone
    surrogates, and both databases refuse infinity (1e400 reads as one)."""
    try:
        text = json.dumps(cases, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return False
    return "\\u0000" not in text


class TestCasesField(forms.Field):
    """Test cases as JSON: [{"name": …, "facts": {…}, "fires": true}, …]."""

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
        try:
            cases = json.loads(value, parse_constant=_refuse_constant)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                f"Not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
            ) from None
        except RecursionError:
            raise forms.ValidationError("Not valid JSON: nested too deeply.") from None
        except ValueError:  # over 4,300 digits, or NaN or Infinity
            raise forms.ValidationError(
                "Not valid JSON: a number with too many digits, or NaN or Infinity."
            ) from None
        if not _storable(cases):
            raise forms.ValidationError(
                "The test cases hold what cannot be stored: a number too big, a NUL "
                "(\\u0000) or half a surrogate pair (\\ud800)."
            )
        if not isinstance(cases, list):
            raise forms.ValidationError("Give a list of test cases: [ {...}, {...} ].")
        for number, case in enumerate(cases, start=1):
            if not isinstance(case, dict) or not isinstance(case.get("facts", {}), dict):
                raise forms.ValidationError(
                    f"Case {number}: give "
                    '{"name": ..., "facts": {...}, "fires": true or false}.'
                )
            if not isinstance(case.get("fires"), bool):
                raise forms.ValidationError(f'Case {number}: "fires" must be true or false.')
            unknown = set(case) - {"name", "facts", "fires"}
            if unknown:
                raise forms.ValidationError(f"Case {number}: unknown key {sorted(unknown)[0]!r}.")
            try:
                case_facts(case.get("facts", {}))
            except ValueError as error:
                raise forms.ValidationError(f"Case {number}: {error}.") from None
        return cases


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
