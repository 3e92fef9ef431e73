"""JSON from outside (an EHR's hook call or feedback, a FHIR file), read so that nothing
about a number or a string is lost before we check it.

- Numbers: decimals stay `Decimal` (1e-999999999 is not quietly 0.0, and 0.1 stays 0.1),
  and `-0` stays negative zero, so that a lab value can be refused for being one; NaN and
  Infinity are not JSON and are refused.
- Strings: JSON's escapes can spell a NUL (`\\u0000`) or half of a UTF-16 pair (`\\ud800`)
  alone. Neither is text: PostgreSQL refuses the first, and the second cannot be written
  as UTF-8 at all (a response or a database write raised on it). `bad_text` finds either,
  keys included, so that a caller refuses the input before anything is written.
"""

import json
import re
from decimal import Decimal
from typing import Any


def loads(text: str | bytes) -> Any:
    """The JSON value; ValueError (or RecursionError, for nesting too deep) when the text
    is not JSON."""
    return json.loads(text, parse_float=Decimal, parse_int=_integer, parse_constant=_refuse)


def _integer(literal: str) -> int | Decimal:
    if literal.startswith("-") and not literal.strip("-0"):
        return Decimal(literal)  # -0: as an int it would be 0, a real zero
    return int(literal)


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def bad_text(data: Any) -> str:
    """What is wrong with the first string (or key) that is not text, in words; "" when
    every string is text."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found = _NOT_TEXT.search(value)
            if found:
                return (
                    "a NUL character (\\u0000)"
                    if found.group() == "\x00"
                    else "half of a UTF-16 surrogate pair (\\ud800 to \\udfff) on its own"
                )
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return ""


# An outside value read defensively: anything of the wrong shape is passed over as empty.


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in as_list(value) if isinstance(item, dict)]
