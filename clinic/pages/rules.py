"""The rule pages: the list of codes, a rule's versions, and two versions side by side.
No queries: the versions come loaded."""

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.text import capfirst

from clinic.conflicts import FieldChange, kept_side
from clinic.pages.history import display_value, field_label
from guidance.models import (
    Rule,
)


@dataclass
class RuleCode:
    """One line of the rule list: a code's newest version and the one in force."""

    latest: Rule
    active: Rule | None = None
    versions: int = 0


def rule_codes(rules: Iterable[Rule]) -> list[RuleCode]:
    """Rules (by code, newest version first) as one line per code."""
    codes: dict[str, RuleCode] = {}
    for rule in rules:
        entry = codes.setdefault(rule.code, RuleCode(latest=rule))
        entry.versions += 1
        if rule.is_active:
            entry.active = rule
    return list(codes.values())


def rule_versions(versions: Sequence[Rule]) -> list[dict[str, Any]]:
    """Each version of a rule (newest first) with the fields it changed."""
    return [
        {"rule": version, "previous": older, "changes": changed_fields(version, older)}
        for version, older in zip(versions, [*versions[1:], None], strict=True)
    ]


def changed_fields(newer: Rule, older: Rule | None) -> list[str]:
    if older is None:
        return []
    return [
        field_label(Rule, name)
        for name in Rule.CONTENT_FIELDS
        if getattr(newer, name) != getattr(older, name)
    ]


# Two versions of a rule, side by side


@dataclass(frozen=True)
class Segment:
    text: str
    change: str = ""  # "removed" (only on the left), "added" (only on the right), or ""


@dataclass(frozen=True)
class ComparedField:
    label: str
    left: list[Segment]
    right: list[Segment]
    changed: bool


# What the comparison shows, in the rule page's order; the test cases one line a case.
COMPARED_FIELDS = Rule.CONTENT_FIELDS
_LABELS = {"qualifies": "qualified options"}
_LINES = re.compile(r"[^\n]*\n|[^\n]+")
_WORDS = re.compile(r"\s+|\w+(?:[.'-]\w+)*|[^\w\s]")  # spaces, words (0.5, MED-IRON), marks


def compared_text(rule: Rule, name: str) -> str:
    """A field of a rule version as the comparison shows it."""
    if name == "qualifies":
        return ", ".join(rule.qualifies) or "—"
    if name == "test_cases":
        return "\n".join(case_line(case) for case in rule.test_cases) or "—"
    return str(display_value(rule, name)) or "—"


def case_line(case: Any) -> str:
    """A test case on one line: its name, its facts, and whether the rule should fire."""
    if not isinstance(case, dict):
        return json.dumps(case)
    facts = case.get("facts") or {}
    given = ", ".join(f"{name} = {json.dumps(value)}" for name, value in sorted(facts.items()))
    fires = "fires" if case.get("fires") else "does not fire"
    return f"{case.get('name') or '(no name)'}: {given or 'blank case'} → {fires}"


def compare_rules(left: Rule, right: Rule) -> list[ComparedField]:
    """Each field of two versions side by side, with what differs marked in each: words
    for texts, whole lines for the test cases (difflib)."""
    fields = []
    for name in COMPARED_FIELDS:
        label = _LABELS.get(name) or field_label(Rule, name)
        old, new = compared_text(left, name), compared_text(right, name)
        if old == new:
            fields.append(ComparedField(label, [Segment(old)], [Segment(new)], False))
            continue
        pattern = _LINES if name == "test_cases" else _WORDS
        old_parts, new_parts = pattern.findall(old), pattern.findall(new)
        removed: list[Segment] = []
        added: list[Segment] = []
        matcher = difflib.SequenceMatcher(a=old_parts, b=new_parts, autojunk=False)
        for operation, i1, i2, j1, j2 in matcher.get_opcodes():
            if operation == "equal":
                removed.append(Segment("".join(old_parts[i1:i2])))
                added.append(Segment("".join(new_parts[j1:j2])))
                continue
            if i2 > i1:
                removed.append(Segment("".join(old_parts[i1:i2]), "removed"))
            if j2 > j1:
                added.append(Segment("".join(new_parts[j1:j2]), "added"))
        fields.append(ComparedField(label, removed, added, True))
    return fields


def default_counterpart(version: Rule, versions: Sequence[Rule]) -> Rule | None:
    """What a version is compared with unless the admin chooses: the active version, or
    else the one before it (the one after it for the first)."""
    others = [other for other in versions if other.pk != version.pk]
    active = next((other for other in others if other.is_active), None)
    earlier = [other for other in others if other.version < version.version]
    later = [other for other in others if other.version > version.version]
    if active is not None:
        return active
    if earlier:
        return max(earlier, key=lambda other: other.version)
    return min(later, key=lambda other: other.version) if later else None


@dataclass
class RuleConflict:
    """A version edited from `base` while `theirs` was saved: the three-way difference of
    clinic.conflicts, for rule versions (edit_conflict.html shows it). `merged` holds the
    form's values: theirs where only they changed a field, yours everywhere else."""

    by: Any
    at: Any
    changes: list[FieldChange]
    merged: dict[str, Any]
    base_known: bool = True

    @property
    def choices(self) -> list[FieldChange]:
        return [change for change in self.changes if change.needs_choice]


def rule_conflict(base: Rule, theirs: Rule, yours: Rule) -> RuleConflict:
    """Merge `yours` (made from `base`) with `theirs`, field by field, as patient edits
    are merged: nothing either side changed is lost without being shown."""
    changes: list[FieldChange] = []
    merged: dict[str, Any] = {}
    for name in Rule.CONTENT_FIELDS:
        before, other, mine = (getattr(rule, name) for rule in (base, theirs, yours))
        they_changed, you_changed = other != before, mine != before
        kept = kept_side(other, mine, they_changed=they_changed, you_changed=you_changed)
        merged[name] = other if kept == "theirs" else mine
        if kept is None:
            continue
        changes.append(
            FieldChange(
                name=name,
                label=capfirst(_LABELS.get(name, field_label(Rule, name))),
                base=compared_text(base, name),
                theirs=compared_text(theirs, name),
                yours=compared_text(yours, name),
                kept=kept,
                needs_choice=kept == "yours" and they_changed,
            )
        )
    return RuleConflict(by=theirs.created_by, at=theirs.created_at, changes=changes, merged=merged)
