"""How a draft rule would have fired on every past assessment, against the active version:
counts only, no identities, each protected as guidance.disclosure says (perturbed by its
cell key, "fewer than 5" below 5, zero included, and no exact total): an admin who knows
one patient's values could otherwise write a condition that only that patient meets and
read the answer from a count, its complement or a threshold tried again and again.

Every assessment is read, 100,000 in a few seconds, so nothing is loaded as a model instance
and nothing is queried per assessment: one query reads only the columns that the facts the
two conditions name are derived from (SOURCES), the facts are computed from them with the
pure functions of patients.facts, and each condition is turned once into a Python function
(guidance.engine.compile_matcher). The stored totals (irls_total, cows_total, gad7_total)
are read as they are: the model derives them on every save from the same items that
Assessment.facts() scores; irls_previous_total is stored at save for the same reason.
"""

import operator
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from django.utils import timezone

from guidance.disclosure import Cell, Shown, record_key
from guidance.engine import ConditionError, Matcher, compile_matcher, named_facts
from guidance.models import Rule
from patients.facts import (
    CRITERIA,
    ENTERED_FACTS,
    STR,
    age_in_years,
    creatinine_clearance,
    hours_between,
    withdrawal_window,
)
from patients.models import Assessment
from patients.scales import SCALES

CHUNK_SIZE = 5000  # rows fetched at a time: memory stays flat however many assessments

Facts = dict[str, Any]


# Where each fact of the table comes from, as Assessment.facts() computes it. A row is read
# into one dict keyed by column name, and the derived facts are added to it: most facts are
# their column as stored, under the same name.

Zone = tzinfo  # the clinic's time zone, in which ages are counted


@dataclass(frozen=True)
class Source:
    columns: tuple[str, ...]  # the Assessment columns it is read from
    needs: tuple[str, ...] = ()  # the facts it is derived from
    # How, from the row and the facts so far; None: the fact is its column, as stored.
    compute: Callable[[Facts, Zone], Any] | None = None


def _blank_is_null(name: str) -> Source:
    """A choice left blank is stored as "" and is null as a fact (derive_facts)."""
    return Source((name,), (), lambda facts, zone: facts[name] or None)


def _age(facts: Facts, zone: Zone) -> int:
    local_day = facts["assessed_at"].astimezone(zone).date()  # as timezone.localdate
    return age_in_years(facts["patient__date_of_birth"], local_day)


def _hours(facts: Facts, zone: Zone) -> float | None:
    last_dose_at = facts["last_dose_at"]
    return None if last_dose_at is None else hours_between(last_dose_at, facts["assessed_at"])


def _band(code: str) -> Source:
    scale, total = SCALES[code], f"{code}_total"

    def band(facts: Facts, zone: Zone) -> str | None:
        return None if facts[total] is None else scale.band_for(facts[total]).name

    return Source((), (total,), band)


def _crcl(facts: Facts, zone: Zone) -> float | None:
    return creatinine_clearance(
        age_years=facts["age_years"],
        weight_kg=facts["weight_kg"],
        creatinine_mg_dl=facts["serum_creatinine_mg_dl"],
        sex=facts["sex"],
    )


def _irls_change(facts: Facts, zone: Zone) -> int | None:
    total, previous = facts["irls_total"], facts["irls_previous_total"]
    return None if total is None or previous is None else total - previous


_criteria = operator.itemgetter(*CRITERIA)

# Yes/no columns are read as True/False (never null), like the facts; numbers, times and
# the stored totals as they are.
SOURCES: dict[str, Source] = {
    **{
        fact.name: _blank_is_null(fact.name) if fact.type == STR else Source((fact.name,))
        for fact in ENTERED_FACTS
    },
    "age_years": Source(("patient__date_of_birth", "assessed_at"), (), _age),
    "sex": Source(("patient__sex",), (), lambda facts, zone: facts["patient__sex"]),
    "hours_since_last_dose": Source(("last_dose_at", "assessed_at"), (), _hours),
    "withdrawal_window": Source(
        (),
        ("hours_since_last_dose",),
        lambda facts, zone: withdrawal_window(facts["hours_since_last_dose"]),
    ),
    "rls_criteria_met": Source((), CRITERIA, lambda facts, zone: all(_criteria(facts))),
    **{f"{code}_total": Source((f"{code}_total",)) for code in SCALES},
    **{f"{code}_band": _band(code) for code in SCALES},
    "crcl_ml_min": Source((), ("age_years", "weight_kg", "serum_creatinine_mg_dl", "sex"), _crcl),
    "irls_previous_total": Source(("irls_previous_total",)),
    "irls_change": Source((), ("irls_total", "irls_previous_total"), _irls_change),
}


def _plan(names: Iterable[str]) -> list[str]:
    """The facts to compute for `names`, each after those it is derived from."""
    order: list[str] = []

    def add(name: str) -> None:
        if name not in order:
            for need in SOURCES[name].needs:
                add(need)
            order.append(name)

    for name in names:
        add(name)
    return order


def fact_rows(names: Iterable[str]) -> Iterator[tuple[int, Facts]]:
    """Every assessment's id and its facts `names`, as Assessment.facts() gives them (with
    the facts and columns they are derived from), in one query that reads only the columns
    they need."""
    order = _plan(names)
    columns = ["pk", *dict.fromkeys(c for name in order for c in SOURCES[name].columns)]
    steps = [(name, compute) for name in order if (compute := SOURCES[name].compute)]
    zone = timezone.get_current_timezone()
    rows = (
        Assessment.objects.order_by()  # in any order: sorting them all would cost more
        .values_list(*columns)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for row in rows:
        facts = dict(zip(columns, row, strict=True))
        for name, compute in steps:
            facts[name] = compute(facts, zone)
        yield facts["pk"], facts


def _outcome(matcher: Matcher | None, facts: Facts) -> bool | None:
    """Whether a condition fires on these facts; None when it cannot be evaluated, which
    guidance.engine.evaluate reports as "not evaluated" (no card)."""
    if matcher is None:
        return None
    try:
        return matcher(facts)
    except Exception:  # as evaluate: a condition that raises is not evaluated
        return None


def outcomes(conditions: Sequence[str]) -> Iterator[tuple[int, tuple[bool | None, ...]]]:
    """For every assessment, its id and whether each condition fires on it (None: could
    not be evaluated, as for a condition that no longer compiles)."""
    matchers: list[Matcher | None] = []
    names: list[str] = []
    for condition in conditions:
        try:
            matchers.append(compile_matcher(condition))
            names += named_facts(condition)
        except ConditionError:
            matchers.append(None)
    for pk, facts in fact_rows(names):
        yield pk, tuple(_outcome(matcher, facts) for matcher in matchers)


@dataclass(frozen=True)
class Preview:
    """Counts as shown (guidance.disclosure): perturbed, "fewer than 5" below 5, no exact
    total. Only how long it took is exact, which says nothing about anyone."""

    assessments: Shown
    seconds: float
    draft_fires: Shown
    active_fires: Shown | None  # None when the code has no active version
    gain: Shown | None  # the draft fires, the active version does not; None: nothing to compare
    lose: Shown | None  # the active version fires, the draft does not
    not_evaluated: Shown  # the draft could not be evaluated
    active_not_evaluated: Shown | None

    @property
    def time_text(self) -> str:
        """How long it took, readable at any size: "4 ms", "1.8 s"."""
        if self.seconds < 1:
            return f"{max(1, round(self.seconds * 1000))} ms"
        return f"{self.seconds:.1f} s"

    def as_json(self) -> dict[str, Any]:
        """For a background job's result: the shown values only. A count is [value] (value
        null: fewer than 5); a comparison that does not apply is null."""
        return {
            name: value if name == "seconds" else None if value is None else [value.value]
            for name, value in vars(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Preview":
        def count(name: str) -> Shown | None:
            return None if data[name] is None else Shown(data[name][0])

        def present(name: str) -> Shown:
            return Shown(data[name][0])

        return cls(
            assessments=present("assessments"),
            seconds=data["seconds"],
            draft_fires=present("draft_fires"),
            active_fires=count("active_fires"),
            gain=count("gain"),
            lose=count("lose"),
            not_evaluated=present("not_evaluated"),
            active_not_evaluated=count("active_not_evaluated"),
        )


Progress = Callable[[int], None]  # told how many assessments are done so far


@dataclass(frozen=True)
class Tally:
    """The exact counts, each with its cell key. Never shown: preview_counts protects them."""

    checked: Cell
    draft_fires: Cell
    draft_failed: Cell  # could not be evaluated
    compared: bool  # whether an active version other than the draft was run too
    active_fires: Cell
    active_failed: Cell
    gain: Cell  # the draft fires, the active version does not
    lose: Cell  # the active version fires, the draft does not


def tally(draft: Rule, active: Rule | None, progress: Progress | None = None) -> Tally:
    """Run the draft (and the active version, when it is another) on every assessment."""
    compared = active is not None and active.pk != draft.pk
    conditions = [draft.condition, active.condition] if compared and active else [draft.condition]
    counts = Tally(
        checked=Cell(),
        draft_fires=Cell(),
        draft_failed=Cell(),
        compared=compared,
        active_fires=Cell(),
        active_failed=Cell(),
        gain=Cell(),
        lose=Cell(),
    )
    for pk, results in outcomes(conditions):
        key = record_key(pk)
        counts.checked.add(key)
        if progress is not None and counts.checked.count % CHUNK_SIZE == 0:
            progress(counts.checked.count)
        draft_result = results[0]
        if draft_result is True:
            counts.draft_fires.add(key)
        elif draft_result is None:
            counts.draft_failed.add(key)
        if not compared:
            continue
        active_result = results[1]
        if active_result is True:
            counts.active_fires.add(key)
        elif active_result is None:
            counts.active_failed.add(key)
        if draft_result is True and active_result is not True:
            counts.gain.add(key)
        if active_result is True and draft_result is not True:
            counts.lose.add(key)
    return counts


def preview_counts(draft: Rule, active: Rule | None, progress: Progress | None = None) -> Preview:
    """The draft's preview as it may be shown."""
    started = time.perf_counter()
    counts = tally(draft, active, progress)
    compared = counts.compared
    active_fires = counts.active_fires if compared else counts.draft_fires
    return Preview(
        assessments=counts.checked.shown(),
        seconds=time.perf_counter() - started,
        draft_fires=counts.draft_fires.shown(),
        active_fires=active_fires.shown() if active else None,
        gain=counts.gain.shown() if compared else None,
        lose=counts.lose.shown() if compared else None,
        not_evaluated=counts.draft_failed.shown(),
        active_not_evaluated=counts.active_failed.shown() if compared else None,
    )
