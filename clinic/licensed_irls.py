"""The IRLS in the clinic's licensed wording (product.md section 3; issue 24).

The IRLS's wording is copyrighted and this application never ships it: the clinician's
form shows our own short paraphrases (patients.scales). A clinic that holds a licence
points DJANGO_IRLS_LICENSED_WORDING at a JSON file with its copy:

    {"title": "...", "instructions": "...",
     "items": [{"text": "...", "answers": ["... (0)", "... (1)", "... (2)", "... (3)", "... (4)"]},
               ... ten items, in the registry's order, irls_1 to irls_10]}

Only then is the IRLS offered to patients answering at home, in that wording. A file that
cannot be read, or does not have that shape, stops `manage.py check` (and so the start).
"""

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from patients.scales import IRLS


@dataclass(frozen=True)
class LicensedItem:
    key: str
    text: str
    answers: tuple[str, ...]  # the words of the values 0 to 4


@dataclass(frozen=True)
class LicensedIrls:
    title: str
    instructions: str
    items: tuple[LicensedItem, ...]


class WordingError(ValueError):
    pass


@cache
def _load(path: str) -> LicensedIrls:
    try:
        with open(path, encoding="utf-8") as file:
            data: Any = json.load(file)
    except (OSError, ValueError) as error:
        raise WordingError(f"cannot read {path}: {error}") from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or len(items) != len(IRLS.items):
        raise WordingError(f"{path} must hold {len(IRLS.items)} items")
    loaded = []
    for item, (n, entry) in zip(IRLS.items, enumerate(items, start=1), strict=True):
        answers = entry.get("answers") if isinstance(entry, dict) else None
        text = entry.get("text") if isinstance(entry, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise WordingError(f"item {n} of {path} has no text")
        if not isinstance(answers, list) or len(answers) != len(item.allowed):
            raise WordingError(f"item {n} of {path} must have {len(item.allowed)} answers")
        if not all(isinstance(answer, str) and answer.strip() for answer in answers):
            raise WordingError(f"item {n} of {path} has an empty answer")
        loaded.append(LicensedItem(item.key, text.strip(), tuple(a.strip() for a in answers)))
    return LicensedIrls(
        title=str(data.get("title") or IRLS.name),
        instructions=str(data.get("instructions") or ""),
        items=tuple(loaded),
    )


def licensed_irls() -> LicensedIrls | None:
    """The clinic's wording, or None when it has not set one up."""
    path = settings.IRLS_LICENSED_WORDING
    return _load(path) if path else None


@register()
def wording_readable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        licensed_irls()
    except WordingError as error:
        return [
            Error(
                f"DJANGO_IRLS_LICENSED_WORDING: {error}.",
                hint="Fix the file, or unset the variable: the IRLS is then not offered "
                "to patients.",
                id="clinic.E010",
            )
        ]
    return []
