"""Derived facts: pure functions over plain values, no database access.

Ranges come from the fact table of product.md section 4.
"""

from datetime import date

AGE_MIN_YEARS = 12
AGE_MAX_YEARS = 120


def age_in_years(born: date, on: date) -> int:
    """Whole years completed on `on` (a birthday counts from that day)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
