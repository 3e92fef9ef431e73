"""The rule editor's test cases as rows: one row a case (its name, whether the rule should
fire, and its facts), each fact picked from the fact table with its value typed as text
and checked against the fact's type and range. The JSON field (clinic.forms.rules) stays
as the advanced view; the rule form says which of the two is saved (cases_from)."""

import json
import re
from typing import Any, cast

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from guidance.engine import case_facts
from patients.facts import BOOL, DATETIME, FACT_BY_NAME, FACTS, FLOAT, INT, NEVER_NULL, Fact

# Test cases as rows: one row a case (its name, whether the rule should fire, and its facts),
# each fact picked from the fact table with its value typed as text. The JSON above stays as
# the advanced view; the form says which of the two is saved (cases_from).

MAX_TEST_CASES = 50
MAX_CASE_NAME_LENGTH = 200
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
