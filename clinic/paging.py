"""Pages of long lists, with a count that stops early."""

import math
from typing import Any

from django.db.models import QuerySet


def page_number(value: str | None) -> int:
    """The page asked for: a whole number from 1, or 1 for anything else (text, a negative
    number, a number too long to convert)."""
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


class CappedPage:
    """A page of rows, with a count that stops at COUNT_CAP. Counting 100,000 patients or
    60,000 due follow-ups exactly costs more than the page itself (20 ms on PostgreSQL),
    and "more than 1,000" says enough: people search rather than page that far.

    A number past the end shows the last page, as Django's Paginator.get_page does; the
    database is never asked for an offset it cannot hold (99999999999999999999 overflows
    SQLite's and PostgreSQL's 64-bit integers). Only a page past the first COUNT_CAP rows
    of a longer list needs the exact count to know where the end is.
    """

    COUNT_CAP = 1000

    def __init__(self, rows: QuerySet[Any], number: str | None, size: int) -> None:
        self.count = count_up_to(rows, self.COUNT_CAP)
        self.capped = self.count > self.COUNT_CAP
        requested = page_number(number)
        total = self.count
        if self.capped and (requested - 1) * size >= self.COUNT_CAP:
            total = rows.count()
        self.number = min(requested, max(1, math.ceil(total / size)))
        start = (self.number - 1) * size
        fetched = list(rows[start : start + size + 1])
        self.rows = fetched[:size]
        self.has_next = len(fetched) > size
        self.has_previous = self.number > 1
        self.start_index = start + 1 if self.rows else 0
        self.end_index = start + len(self.rows)


def count_up_to(rows: QuerySet[Any], cap: int = CappedPage.COUNT_CAP) -> int:
    """How many rows, counting no further than one past `cap` (shown as "more than").

    Without the list's order: which rows are counted does not change how many there are,
    and the database then need not sort up to `cap` rows, nor Django compile the order."""
    return rows.order_by()[: cap + 1].count()
