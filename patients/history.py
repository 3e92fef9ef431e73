"""Readable change rows from django-simple-history records."""

from collections.abc import Callable, Sequence
from typing import Any


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
                changed = [labels[change.field] for change in delta.changes]
                summary = "Changed: " + ", ".join(changed) if changed else "Saved with no changes"
        rows.append({"user": newer.history_user, "at": newer.history_date, "summary": summary})
    return rows
