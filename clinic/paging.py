"""Pages of long lists, with a count that stops early."""

from typing import Any

from django.db.models import QuerySet


class CappedPage:
    """A page of rows, with a count that stops at COUNT_CAP. Counting 100,000 patients or
    60,000 due follow-ups exactly costs more than the page itself (20 ms on PostgreSQL),
    and "more than 1,000" says enough: people search rather than page that far."""

    COUNT_CAP = 1000

    def __init__(self, rows: QuerySet[Any], number: str | None, size: int) -> None:
        try:
            self.number = max(1, int(number or 1))
        except ValueError:
            self.number = 1
        start = (self.number - 1) * size
        fetched = list(rows[start : start + size + 1])
        self.rows = fetched[:size]
        self.has_next = len(fetched) > size
        self.has_previous = self.number > 1
        self.count = rows[: self.COUNT_CAP + 1].count()
        self.capped = self.count > self.COUNT_CAP
        self.start_index = start + 1 if self.rows else 0
        self.end_index = start + len(self.rows)


def count_up_to(rows: QuerySet[Any], cap: int = CappedPage.COUNT_CAP) -> int:
    """How many rows, counting no further than one past `cap` (shown as "more than")."""
    return rows[: cap + 1].count()
