"""Three-way edit conflicts: what the editor opened, what is saved now, what they typed.

When a save is refused because someone else saved the record after the editor opened it
(patients.models.EditConflict), nothing typed is lost and nothing the other person did is
undone: for each field of the form,

- changed only by the other person: their value is taken;
- changed only by the editor: the editor's value is kept;
- changed by both, differently: marked, and the editor's value is kept until they choose.

The form comes back on the record as saved now, with these merged values and the current
version, so that saving it again keeps both people's changes. The base (the version the
editor opened) comes from the record's history; without it (records loaded in bulk have
none) every field where the two differ counts as changed by both.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.forms import ModelForm

from clinic.pages.history import shown_value
from patients.models import Versioned


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    base: str
    theirs: str
    yours: str
    kept: str  # "theirs", "yours" or "both" (the same change on both sides)
    needs_choice: bool  # changed by both, differently: the editor's value is kept for now


@dataclass
class Conflict[F: "ModelForm[Any]", R: Versioned]:
    form: F  # unbound, on the merged record
    merged: R
    by: User | None
    at: datetime | None
    base_known: bool
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def choices(self) -> list[FieldChange]:
        return [change for change in self.changes if change.needs_choice]


def kept_side(theirs: Any, mine: Any, *, they_changed: bool, you_changed: bool) -> str | None:
    """Which value a field keeps when two edits are merged: None when neither side changed
    it; "both" when both made the same change; "theirs" when only they changed it; else
    "yours" (to be chosen by the editor when they changed it too)."""
    if not they_changed and not you_changed:
        return None
    if theirs == mine:
        return "both"
    return "yours" if you_changed else "theirs"


def merge[F: "ModelForm[Any]", R: Versioned](
    form: F, current: R, expected_version: int | None, **form_kwargs: Any
) -> Conflict[F, R]:
    """Merge the editor's valid, refused form with the record as saved now (`current`)."""
    yours = form.instance  # the form has set the submitted values on it
    opened = (
        current.history.filter(version=expected_version).order_by("-history_id").first()
        if expected_version
        else None
    )
    base = opened.instance if opened is not None else None
    last = current.history.select_related("history_user").first()
    changes = []
    for name in form._meta.fields or []:
        theirs, mine = getattr(current, name), getattr(yours, name)
        if base is not None:
            before = getattr(base, name)
            they_changed, you_changed = theirs != before, mine != before
        else:
            before = None
            they_changed = you_changed = theirs != mine
        kept = kept_side(theirs, mine, they_changed=they_changed, you_changed=you_changed)
        if kept is None:
            continue
        if kept == "yours":
            setattr(current, name, mine)
        changes.append(
            FieldChange(
                name=name,
                label=str(form.fields[name].label),
                base=shown_value(current, name, before) if base is not None else "(not known)",
                theirs=shown_value(current, name, theirs),
                yours=shown_value(current, name, mine),
                kept=kept,
                needs_choice=kept == "yours" and they_changed,
            )
        )
    fresh = type(form)(instance=current, **form_kwargs)
    for name, value in form.cleaned_data.items():  # what the form asks beyond the record
        if name not in (form._meta.fields or []) and name != "expected_version":
            fresh.initial[name] = value
    for change in changes:
        if change.needs_choice:
            widget = fresh.fields[change.name].widget
            widget.attrs["aria-invalid"] = "true"
            fresh.fields[change.name].help_text = (
                f"Also changed by someone else, to “{change.theirs}”. Yours, “{change.yours}”, "
                "is kept here: change it if theirs is right."
            )
    return Conflict(
        form=fresh,
        merged=current,
        by=last.history_user if last else None,
        at=last.history_date if last else None,
        base_known=base is not None,
        changes=changes,
    )
