"""The rule editor's form: a new version of a rule, with its test cases."""

import json
import math
import re
from typing import Any, cast

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from guidance.engine import ConditionError, case_facts, compile_condition
from guidance.models import Kind, Rule
from patients.facts import BOOL, DATETIME, FACT_BY_NAME, FACTS, FLOAT, INT, NEVER_NULL, Fact

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


# Test cases as rows: one row a case (its name, whether the rule should fire, and its facts),
# each fact picked from the fact table with its value typed as text. The JSON above stays as
# the advanced view; the form says which of the two is saved (cases_from).

ROWS, JSON = "rows", "json"
CASES_PREFIX = "cases"
BLANK_ROWS = 2  # blank cases below the others, and blank facts under each case
MORE_ROWS = 5  # the same, after "More rows"
MAX_VALUE_LENGTH = 40
# Numbers as JSON writes them (ASCII digits only: int() would take "٣" and "1_000").
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_WORDS = {"true": True, "false": False, "yes": True, "no": False}


def value_hint(fact: Fact) -> str:
    """What a row's value may be for this fact, in the words the form uses."""
    if fact.type == BOOL:
        return "true or false"
    if fact.type == DATETIME:
        hint = "a date and time, e.g. 2026-11-20T21:30"
    elif fact.choices:
        hint = ", ".join(fact.choices)
    else:
        kind = "a whole number" if fact.type == INT else "a number"
        hint = f"{kind}, {fact.range_text()}" if fact.range_text() else kind
    return hint if fact.name in NEVER_NULL else f"{hint}, or null"


FACT_CHOICES = [("", "Pick a fact"), *((fact.name, fact.name) for fact in FACTS)]
# The fact table beside the form: each fact with what a row's value may be.
FACT_HINTS = [(fact, value_hint(fact)) for fact in FACTS]
# Suggestions for a row's value (an HTML datalist): the words any fact takes.
VALUE_WORDS = ["true", "false", "null", *dict.fromkeys(c for fact in FACTS for c in fact.choices)]


def value_text(value: Any) -> str:
    """A test case's value as a row shows it (null, true, 11, extract)."""
    return value if isinstance(value, str) else json.dumps(value)


def parse_value(fact: Fact, text: str) -> Any:
    """A row's value for `fact`, checked as the JSON's are (guidance.engine.case_facts):
    only what a real assessment could give. Raises ValidationError saying what is allowed."""
    word = text.strip()
    value: Any = word
    if word.lower() == "null":
        value = None
    elif fact.type == BOOL:
        if word.lower() not in _WORDS:
            raise forms.ValidationError(
                f"{word[:20]!r} is not a value of {fact.name}: give true or false."
            )
        value = _WORDS[word.lower()]
    elif fact.type in (INT, FLOAT):
        if not _NUMBER.fullmatch(word):
            raise forms.ValidationError(f"{word[:20]!r} is not a number: give {value_hint(fact)}.")
        value = int(word) if _WHOLE_NUMBER.fullmatch(word) else float(word)
    try:
        case_facts({fact.name: value})
    except ValueError as error:
        raise forms.ValidationError(f"{error}.") from None
    return value


class FactSelect(forms.Select):
    """The fact table as a <select>, drawn in Python: Django draws each option through a
    template, which made a rule with eight cases take most of a second to show (over
    2,000 options); here each is one format_html."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        chosen = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, " selected" if key == chosen else "", label) for key, label in FACT_CHOICES),
        )
        attributes = flatatt(self.build_attrs(self.attrs, attrs))
        return format_html('<select name="{}"{}>{}</select>', name, attributes, options)


class FactValueForm(forms.Form):
    """One fact of a test case and its value; both blank is no fact."""

    fact = forms.ChoiceField(choices=FACT_CHOICES, required=False, widget=FactSelect)
    value = forms.CharField(required=False, max_length=MAX_VALUE_LENGTH)

    def __init__(self, *args: Any, label: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fact"].widget.attrs.update(
            {"aria-label": label, "class": "form-select form-select-sm"}
        )
        self.fields["value"].widget.attrs.update(
            {
                "aria-label": f"{label}, value",
                "class": "form-control form-control-sm",
                "list": "fact-values",
                "autocomplete": "off",
            }
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        name, text = cleaned.get("fact"), cleaned.get("value")
        if name is None or text is None or (not name and not text):
            return cleaned  # a field error already, or a blank row
        if not name:
            self.add_error("fact", "Pick the fact this value is for.")
        elif not text:
            self.add_error("value", f"Give a value: {value_hint(FACT_BY_NAME[name])}.")
        else:
            try:
                cleaned["parsed"] = parse_value(FACT_BY_NAME[name], text)
            except forms.ValidationError as error:
                self.add_error("value", error)
        return cleaned


def check_row_counts(formset: forms.BaseFormSet[Any]) -> None:
    """Refuse row counts the page never sends (Django's formsets take a negative count as
    no rows, which would drop every case or fact silently)."""
    counts = formset.management_form.cleaned_data
    if min(counts.get("TOTAL_FORMS") or 0, counts.get("INITIAL_FORMS") or 0) < 0:
        raise forms.ValidationError("The rows were not sent as the page shows them: reload it.")


class BaseFactFormSet(forms.BaseFormSet[FactValueForm]):
    def __init__(self, *args: Any, label: str = "", **kwargs: Any) -> None:
        self.label = label
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        number = "new" if index is None else index + 1
        return {**super().get_form_kwargs(index), "label": f"{self.label}, fact {number}"}

    def clean(self) -> None:
        check_row_counts(self)
        seen: set[str] = set()
        for form in self.forms:
            name = form.cleaned_data.get("fact")
            if name and name in seen:
                form.add_error("fact", f"{name} is given twice in this case.")
            seen.add(name or "")

    def facts(self) -> dict[str, Any]:
        """The facts given, in row order ({} when a row is in error)."""
        if not self.is_valid():
            return {}
        return {
            form.cleaned_data["fact"]: form.cleaned_data["parsed"]
            for form in self.forms
            if "parsed" in form.cleaned_data
        }


def fact_rows(
    data: Any = None, *, prefix: str, facts: dict[str, Any], blank: int, label: str
) -> BaseFactFormSet:
    formset = cast(
        type[BaseFactFormSet],
        forms.formset_factory(
            FactValueForm,
            formset=BaseFactFormSet,
            extra=blank,
            max_num=len(FACTS),
            absolute_max=len(FACTS),
        ),
    )
    initial = [{"fact": name, "value": value_text(value)} for name, value in facts.items()]
    return formset(data, prefix=prefix, initial=initial, label=label)


class CaseForm(forms.Form):
    """One test case: a name, whether the rule should fire, and its facts (a nested formset)."""

    name = forms.CharField(required=False, max_length=MAX_CASE_NAME_LENGTH)
    fires = forms.ChoiceField(
        choices=[("yes", "fires"), ("no", "does not fire")],
        widget=forms.RadioSelect,
        required=False,
    )

    def __init__(
        self, *args: Any, number: int | None = None, blank: int = BLANK_ROWS, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.label = f"Case {number}" if number else "New case"
        self.fields["name"].widget.attrs.update(
            {"aria-label": f"{self.label}: name", "class": "form-control form-control-sm"}
        )
        self.fields["fires"].widget.attrs["class"] = "form-check-input"
        given = self.initial.get("facts") or {}
        self.facts = fact_rows(
            self.data if self.is_bound else None,
            prefix=f"{self.prefix}-facts",
            facts=given if isinstance(given, dict) else {},
            blank=blank,
            label=self.label,
        )

    def has_changed(self) -> bool:
        return super().has_changed() or self.facts.has_changed()

    def is_valid(self) -> bool:
        return super().is_valid() and self.facts.is_valid()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        facts_valid = self.facts.is_valid()
        given = bool(cleaned.get("name")) or not facts_valid or bool(self.facts.facts())
        if given and not cleaned.get("fires") and "fires" not in self.errors:
            self.add_error("fires", "Say whether the rule should fire for this case.")
        return cleaned

    def case(self) -> dict[str, Any] | None:
        """The case as the JSON holds it; None for a blank row."""
        fires = self.cleaned_data.get("fires")
        if not fires:
            return None
        case: dict[str, Any] = {}
        if self.cleaned_data.get("name"):
            case["name"] = self.cleaned_data["name"]
        return {**case, "facts": self.facts.facts(), "fires": fires == "yes"}


class BaseCaseFormSet(forms.BaseFormSet[CaseForm]):
    def __init__(self, *args: Any, blank: int = BLANK_ROWS, **kwargs: Any) -> None:
        self.blank = blank
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        number = None if index is None else index + 1
        return {**super().get_form_kwargs(index), "number": number, "blank": self.blank}

    def add_fields(self, form: CaseForm, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields["DELETE"].widget.attrs["class"] = "form-check-input"

    def clean(self) -> None:
        check_row_counts(self)
        if any(self.errors):
            return
        count = len(self.cases())
        if count > MAX_TEST_CASES:
            raise forms.ValidationError(
                f"{count} test cases: at most {MAX_TEST_CASES} are allowed."
            )

    def cases(self) -> list[dict[str, Any]]:
        """The test cases of valid rows, as the JSON holds them."""
        kept = [form for form in self.forms if not form.cleaned_data.get("DELETE")]
        return [case for form in kept if (case := form.case()) is not None]


def case_rows(
    data: Any = None, *, cases: list[dict[str, Any]] | None = None, blank: int = BLANK_ROWS
) -> BaseCaseFormSet:
    """The test cases as rows: bound to posted data, or showing `cases` (JSON-shaped)."""
    formset = cast(
        type[BaseCaseFormSet],
        forms.formset_factory(
            CaseForm,
            formset=BaseCaseFormSet,
            extra=blank,
            can_delete=True,
            max_num=MAX_TEST_CASES + MORE_ROWS,
            absolute_max=MAX_TEST_CASES + MORE_ROWS,
        ),
    )
    initial = [
        {
            "name": case.get("name", ""),
            "fires": "yes" if case.get("fires") else "no",
            "facts": case.get("facts") or {},
        }
        for case in cases or []
        if isinstance(case, dict)
    ]
    return formset(data, prefix=CASES_PREFIX, initial=initial, blank=blank)


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
    JSON. Kind and qualified options not posted at all are kept from the version edited.
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

    class Meta:
        model = Rule
        fields = [
            "code",
            "title",
            "detail",
            "category",
            "indicator",
            "kind",
            "qualifies",
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

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("kind") == Kind.OPTION and cleaned.get("qualifies"):
            self.add_error("qualifies", "Only a caution qualifies options: leave this empty.")
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
