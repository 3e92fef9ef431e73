"""The rule editor's form: a new version of a rule, with its test cases."""

import json
import math
import re
from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from clinic.forms.case_rows import (
    BLANK_ROWS,
    CASES_PREFIX,
    JSON,
    MAX_CASE_NAME_LENGTH,
    MAX_TEST_CASES,
    MORE_ROWS,
    ROWS,
    case_rows,
)
from guidance.default_rules import REVIEW_CYCLE_DAYS
from guidance.engine import ConditionError, case_facts, compile_condition
from guidance.models import Kind, Rule

MAX_TEST_CASES_LENGTH = 20_000
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


class JSONShownNotRead(forms.Field):
    """The JSON view while the rows are saved: shown, never read (a hostile or stale JSON
    there is no error). Once the rows are valid, it shows them."""

    widget = TestCasesField.widget

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[dict[str, Any]] | None = None

    def bound_data(self, data: Any, initial: Any) -> Any:
        return self.rows if self.rows is not None else data

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value, indent=2) if isinstance(value, list) else value

    def clean(self, value: Any) -> None:
        return None


class QualifiesField(forms.Field):
    """Option codes, separated by commas or spaces."""

    widget = forms.TextInput(attrs={"class": "font-monospace", "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        if value in (None, ""):
            return []
        if isinstance(value, list):
            return value
        text = str(value)
        if len(text) > 1000:
            raise forms.ValidationError("At most 1,000 characters.")
        codes = [code.upper() for code in re.split(r"[\s,]+", text) if code]
        for code in codes:
            if not _CODE.fullmatch(code):
                raise forms.ValidationError(
                    f"{code[:40]!r} is not a rule code: give option codes such as "
                    "MED-GABAPENTINOID, separated by commas."
                )
        return list(dict.fromkeys(codes))


_CODE = re.compile(r"[A-Z0-9]+(-[A-Z0-9]+)*")


class RuleForm(forms.ModelForm[Rule]):
    """Edits save a new version: the form is always bound to a new, unsaved Rule.

    The test cases come from the rows (`case_rows`) or from the JSON (`test_cases`), as
    `cases_from` says; the other one is not read. A post without `cases_from` (a script, or
    a client that knows only the JSON) is read from the rows when it has them, else from the
    JSON. Kind, strength and qualified options not posted at all are kept from the version
    edited.
    """

    kind = forms.ChoiceField(
        choices=Kind.choices,
        required=False,
        help_text="An option is accepted, declined or deferred; a caution is acknowledged.",
    )
    qualifies = QualifiesField(
        required=False,
        label="Options it qualifies",
        help_text="For a caution: the codes of the options it is shown inside, separated by "
        "commas (e.g. MED-GABAPENTINOID). Empty: it stands alone.",
    )
    cases_from = forms.ChoiceField(
        label="Save the test cases from",
        choices=[(ROWS, "the rows"), (JSON, "the JSON (advanced)")],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        required=False,
        initial=ROWS,
    )
    test_cases = TestCasesField(
        required=False,
        label="Test cases as JSON",
        help_text='For example [{"name": "moderate RLS", "facts": {"rls_criteria_met": true, '
        '"irls_total": 11}, "fires": true}]. Facts left out are: age 40, sex unknown, '
        "yes/no facts false, everything else null.",
    )

    # The newest version of the code when the editor opened the form: a version saved
    # after it is shown before this one is saved (clinic.views.rules.rule_edit).
    latest_seen = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    class Meta:
        model = Rule
        fields = ["code", *Rule.CONTENT_FIELDS, "change_note"]
        widgets = {
            "condition": forms.Textarea(
                attrs={"rows": 3, "class": "font-monospace", "spellcheck": "false"}
            ),
            "detail": forms.Textarea(attrs={"rows": 4}),
            "source": forms.Textarea(attrs={"rows": 2}),
            "review_by": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {"change_note": "What changed, and why"}

    def __init__(
        self, *args: Any, code_fixed: bool = False, blank_rows: int = BLANK_ROWS, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.code_fixed = code_fixed
        if code_fixed:
            self.fields["code"].disabled = True
        self.fields["change_note"].required = True
        self.cases_source = self._cases_source()
        if self.is_bound and self.cases_source == ROWS:
            self.fields["test_cases"] = JSONShownNotRead(
                required=False,
                label=self.fields["test_cases"].label,
                help_text=self.fields["test_cases"].help_text,
            )
            self.case_rows = case_rows(self.data, blank=blank_rows)
        else:
            given = self.initial.get("test_cases")
            self.case_rows = case_rows(
                cases=given if isinstance(given, list) else [], blank=blank_rows
            )

    def _cases_source(self) -> str:
        if not self.is_bound:
            return ROWS
        posted = self.data.get(self.add_prefix("cases_from"))
        if posted in (ROWS, JSON):
            return str(posted)
        return ROWS if f"{CASES_PREFIX}-TOTAL_FORMS" in self.data else JSON

    def _posted(self, name: str) -> bool:
        return self.add_prefix(name) in self.data

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

    def clean_review_by(self) -> date:
        """A year from today if left empty; never in the past (it would be overdue at once)."""
        review_by: date | None = self.cleaned_data.get("review_by")
        if review_by is None:
            return timezone.localdate() + timedelta(days=REVIEW_CYCLE_DAYS)
        if review_by < timezone.localdate():
            raise forms.ValidationError("The next review cannot be in the past.")
        return review_by

    def clean_condition(self) -> str:
        condition = str(self.cleaned_data["condition"]).strip()
        try:
            compile_condition(condition)
        except ConditionError as error:
            raise forms.ValidationError(str(error)) from None
        return condition

    def clean_kind(self) -> str:
        kind = self.cleaned_data.get("kind")
        return str(kind or self.initial.get("kind") or Kind.OPTION)

    def clean_strength(self) -> str | None:
        if not self._posted("strength"):
            kept = self.initial.get("strength")
            if kept is None and self.cleaned_data.get("kind", Kind.OPTION) == Kind.OPTION:
                return "not_graded"  # a script that knows nothing of strengths: no grade
            return str(kept) if kept else None
        return str(self.cleaned_data.get("strength") or "") or None

    def clean_qualifies(self) -> list[str]:
        if not self._posted("qualifies"):
            kept = self.initial.get("qualifies")
            return list(kept) if isinstance(kept, list) else []
        codes: list[str] = self.cleaned_data.get("qualifies") or []
        options = set(
            Rule.objects.filter(code__in=codes, kind=Kind.OPTION).values_list("code", flat=True)
        )
        unknown = [code for code in codes if code not in options]
        if unknown:
            raise forms.ValidationError(f"Not the code of an option: {', '.join(unknown)}.")
        return codes

    def _check_strength(self, cleaned: dict[str, Any]) -> None:
        """An option has a strength (product.md 5.4: "Not graded" when it has none); a
        caution has none."""
        kind, strength = cleaned.get("kind"), cleaned.get("strength") or None
        if kind == Kind.OPTION and strength is None:
            self.add_error("strength", "Choose the option's strength (Not graded if it has none).")
        elif kind == Kind.CAUTION and strength is not None:
            self.add_error("strength", "A caution has no strength: leave this empty.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("kind") == Kind.OPTION and cleaned.get("qualifies"):
            self.add_error("qualifies", "Only a caution qualifies options: leave this empty.")
        self._check_strength(cleaned)
        if self.cases_source == ROWS:
            if self.case_rows.is_valid():
                cleaned["test_cases"] = self.case_rows.cases()
                field = self.fields["test_cases"]
                if isinstance(field, JSONShownNotRead):
                    field.rows = cleaned["test_cases"]
            else:
                self.add_error(None, "Correct the test cases marked in the rows.")
        elif "test_cases" in cleaned:  # the JSON, valid: the rows show it too
            self.case_rows = case_rows(cases=cleaned["test_cases"])
        return cleaned

    def posted_cases(self) -> list[dict[str, Any]] | None:
        """The posted test cases from the view that is saved; None when they have errors."""
        if self.cases_source == ROWS:
            return self.case_rows.cases() if self.case_rows.is_valid() else None
        try:
            cases: list[dict[str, Any]] = self.fields["test_cases"].clean(self["test_cases"].data)
        except forms.ValidationError:
            return None
        return cases

    def with_more_rows(self) -> "RuleForm":
        """ "More rows" (adding rows without JavaScript): the form again, nothing saved,
        with the posted test cases as rows and more blank rows below them. When the test
        cases have errors, this form, which shows them."""
        cases = self.posted_cases()
        if cases is None:
            return self
        posted = {name: self[name].value() for name in self.fields if self._posted(name)}
        initial = {**self.initial, **posted, "test_cases": cases, "cases_from": ROWS}
        return RuleForm(
            initial=initial,
            instance=self.instance,
            code_fixed=self.code_fixed,
            blank_rows=MORE_ROWS,
        )


class CompareForm(forms.Form):
    """Which two versions of a rule to show side by side (a GET form): `version` on the
    right, `against` on the left. Either left out, or not a version of the rule, gets
    its default (pages.default_counterpart), and the choice in error says so."""

    against = forms.TypedChoiceField(coerce=int, required=False, label="Compare")
    version = forms.TypedChoiceField(coerce=int, required=False, label="with")

    def __init__(self, data: Any = None, *, versions: list[Rule], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.versions = {rule.version: rule for rule in versions}
        choices = [
            (rule.version, f"v{rule.version} ({rule.get_status_display().lower()})")
            for rule in versions
        ]
        for name in ("against", "version"):
            field = self.fields[name]
            assert isinstance(field, forms.TypedChoiceField)
            field.choices = choices
            field.widget.attrs["class"] = "form-select form-select-sm w-auto"

    def chosen(self, name: str) -> Rule | None:
        """The version chosen for `name`; None when none was, or not a valid one."""
        if not self.is_bound:
            return None
        self.is_valid()  # cleaned_data then holds the valid fields, even when one is not
        number = self.cleaned_data.get(name)
        return self.versions.get(number) if isinstance(number, int) else None


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


class RetireForm(forms.Form):
    reason = forms.CharField(
        label="Why retire it",
        min_length=5,
        max_length=300,
        help_text="Kept with the version and in its history, with your name.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirm = forms.BooleanField(
        label="I understand: this rule stops running on new assessments (cards it made stay)",
        required=True,
    )
