"""Counts about patients as they may be shown: no total, complement or difference of two
counts may reveal a group of 1 to 4 people (issue 23).

Hiding counts of 1 to 4 is not enough on its own. With an exact total beside it, the
complement of a condition gives its count away ("Checked 8", `not (condition)` 7: one
match); and where 0 is shown as 0, a condition that one patient alone can meet, tried at
one threshold after another, reads that patient's value.

Method: cell-key perturbation, as the Australian Bureau of Statistics (TableBuilder) and
the UK's Office for National Statistics publish tables. Every record has a fixed
pseudo-random key: a keyed hash of its primary key, the key derived from SECRET_KEY, so
that it needs no column and nobody can compute it. A count's cell key is the sum of its
records' keys (modulo 2**32), and the noise added to the count (-2 to +2) is read from the
cell key; the result is then rounded to a multiple of 5. The same group of records always
gets the same noise, however its condition is written, so asking again or rewording gains
nothing; two groups one record apart get unrelated noise, and are shown the same about 70%
of the time (DIFFERENCE_HIDDEN), so their difference cannot tell 0 from 1 or 3. A count
under 5 is shown as "fewer than 5" (in the preview, 0 too: a condition that only one
patient can meet must read the same whether or not she meets it), and no exact total is
ever shown.

Where the records of a count are not at hand (the governance page counts in SQL), its
cell key is the keyed hash of what the count is (the figure, the rule version, the period)
and its exact value: the same count asked again gets the same noise. Those counts are of a
rule's cards, which no admin can aim at one patient without activating a rule; there a
true 0 is shown as 0 ("never fired" is what governance needs to see).

What the method does not stop: a patient's membership can still be read from many
different pairs of groups (each pair shows the one-record difference about 30% of the
time). That takes dozens of previews, each recorded with the admin who asked
(guidance.models.Job).
"""

import hashlib
import math
from dataclasses import dataclass
from functools import cache

from django.conf import settings

SMALLEST_SHOWN = 5
FEWER_THAN_SMALLEST = f"fewer than {SMALLEST_SHOWN}"
ROUNDED_TO = 5
KEY_RANGE = 2**32
# How often two groups one record apart show the same count (worked out over the noise
# table and every position of the count between multiples of 5; tests/guidance/
# test_disclosure.py measures it).
DIFFERENCE_HIDDEN = 0.708

# The noise read from a cell key, by where the key falls in [0, 2**32): mean 0, variance
# 1.2, at most 2 either way. (Cumulative share of the range, noise.)
NOISE_TABLE = ((0.1, -2), (0.3, -1), (0.7, 0), (0.9, 1), (1.0, 2))


@cache
def _hash_key(secret: str) -> bytes:
    return hashlib.blake2b(f"cell-key:{secret}".encode(), digest_size=32).digest()


def _keyed_hash(data: bytes) -> int:
    digest = hashlib.blake2b(data, key=_hash_key(settings.SECRET_KEY), digest_size=4)
    return int.from_bytes(digest.digest(), "big")


def record_key(pk: int) -> int:
    """A record's fixed key in [0, 2**32)."""
    return _keyed_hash(pk.to_bytes(8, "big", signed=True))


def definition_key(definition: str, count: int) -> int:
    """The cell key of a count whose records are not at hand: from what it counts."""
    return _keyed_hash(f"{definition}|{count}".encode())


def noise(cell_key: int) -> int:
    share = cell_key / KEY_RANGE
    return next(value for bound, value in NOISE_TABLE if share < bound)


@dataclass(frozen=True)
class Shown:
    """A count as shown: its perturbed value, or None for "fewer than 5"."""

    value: int | None

    def __str__(self) -> str:
        return FEWER_THAN_SMALLEST if self.value is None else f"{self.value:,}"

    @property
    def known(self) -> bool:
        return self.value is not None


def shown(count: int, cell_key: int, *, zero_shown: bool = False) -> Shown:
    """The count perturbed and rounded to a multiple of 5, or "fewer than 5" (None) when
    it is under 5. A true 0 is shown as 0 only where the caller says that an empty group
    reveals nobody (`zero_shown`)."""
    if count == 0 and zero_shown:
        return Shown(0)
    if count < SMALLEST_SHOWN:
        return Shown(None)
    perturbed = count + noise(cell_key)
    rounded = ROUNDED_TO * math.floor(perturbed / ROUNDED_TO + 0.5)
    return Shown(max(SMALLEST_SHOWN, rounded))


class Cell:
    """A count being made, record by record, with its cell key."""

    __slots__ = ("count", "key")

    def __init__(self) -> None:
        self.count = 0
        self.key = 0

    def add(self, key: int) -> None:
        self.count += 1
        self.key = (self.key + key) % KEY_RANGE

    def shown(self) -> Shown:
        return shown(self.count, self.key)
