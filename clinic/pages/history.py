"""What changed between two versions of a record, in words: the patient's and the
assessment's history tables, and the conflict page (clinic.conflicts). No queries: the
history rows come loaded."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Model
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst

from clinic.forms.assessments import ASSESSMENT_FIELDS
from clinic.forms.patients import PatientForm
from patients.facts import FACT_BY_NAME
from patients.mimics import MIMIC_NAMES
from patients.models import Assessment


def field_label(model: type[Model], name: str) -> str:
    """A model field's label, as a sentence uses it ("changed: condition, test cases")."""
    return str(getattr(model._meta.get_field(name), "verbose_name", name))


def display_value(record: Model, name: str) -> object:
    """A field's value as shown: a choice's label, else the value."""
    get_display = getattr(record, f"get_{name}_display", None)
    return get_display() if get_display else getattr(record, name)


def change_rows(
    records: Sequence[Any],
    *,
    fields: Sequence[str],
    labels: dict[str, str],
    created: str,
    summarise: Callable[[Any, Any], str | None] = lambda newer, older: None,
) -> list[dict[str, Any]]:
    """Turn history records (newest first) into rows: who, when, what changed.

    Diffs are taken between neighbouring records already in memory, so a page needs one
    history query however many changes it shows. Fetch one record more than you show:
    the oldest only serves as the base of the one before it.
    """
    rows: list[dict[str, Any]] = []
    if not records:
        return rows  # records loaded in bulk (an import, the benchmark) have no history
    for newer, older in zip(records, [*records[1:], None], strict=True):
        changed: list[tuple[str, str, str]] = []  # label, old value, new value
        if older is None:
            if newer.history_type != "+":
                break  # the base record of a truncated list, not its creation
            summary = created
        else:
            special = summarise(newer, older)
            if special is not None:
                summary = special
            else:
                delta = newer.diff_against(older, included_fields=fields)
                changed = [
                    (
                        labels[change.field],
                        shown_value(newer, change.field, change.old),
                        shown_value(newer, change.field, change.new),
                    )
                    for change in delta.changes
                ]
                summary = (
                    "Changed: " + ", ".join(label for label, _, _ in changed)
                    if changed
                    else "Saved with no changes"
                )
        rows.append(
            {
                "user": newer.history_user,
                "at": newer.history_date,
                "summary": summary,
                "fields": changed,
                "reason": getattr(newer, "history_change_reason", None) or "",
            }
        )
    return rows


def measured(name: str, value: float) -> str:
    """A number with the unit of its fact ("Ferritin 40 ng/mL"); a number that is not a
    fact of the table (a scale item's score) is shown bare."""
    fact = FACT_BY_NAME.get(name)
    unit = f" {fact.unit}" if fact is not None and fact.unit else ""
    return f"{value:g}{unit}"


def shown_value(record: Model, name: str, value: object) -> str:
    """A stored value as a person reads it: choice labels, local times, numbers with their
    units, blanks as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return measured(name, value)
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "j M Y H:i")
    if name == "mimics" and isinstance(value, list):
        return ", ".join(str(MIMIC_NAMES.get(code, code)) for code in value)
    choices = dict(getattr(record._meta.get_field(name), "flatchoices", []) or [])
    return str(choices.get(value, value))


def patient_changes(records: Sequence[Any]) -> list[dict[str, Any]]:
    def archiving(newer: Any, older: Any) -> str | None:
        if newer.archive_reason and not older.archive_reason:
            return f"Archived: {newer.archive_reason}"
        if older.archive_reason and not newer.archive_reason:
            return "Restored"
        return None

    fields = PatientForm.Meta.fields
    labels = {name: str(PatientForm.base_fields[name].label) for name in fields}
    return change_rows(
        records, fields=fields, labels=labels, created="Registered", summarise=archiving
    )


def assessment_changes(records: Sequence[Any]) -> list[dict[str, Any]]:
    # As the form labels them, at the start of a line: "Notes", not "notes".
    labels = {name: capfirst(field_label(Assessment, name)) for name in ASSESSMENT_FIELDS}
    return change_rows(records, fields=ASSESSMENT_FIELDS, labels=labels, created="Recorded")
