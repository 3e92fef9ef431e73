"""The scale registry: IRLS, COWS and GAD-7, defined once.

The assessment form, its validation, the scoring, the bands, the follow-up re-scores
and the `evaluate` command all read these definitions; nothing else states an item's
allowed values or a band's limits.

Item labels are our own short paraphrases. The IRLS's official wording is copyrighted
(clinical-reference.md section 2.4) and is never shown.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import SupportsInt, cast


class ScaleError(ValueError):
    """Answers that cannot be scored. `problems` maps an item key to what is wrong with it."""

    def __init__(self, scale: "Scale", problems: dict[str, str]) -> None:
        super().__init__(f"{scale.name}: " + "; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.scale = scale
        self.problems = problems


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    anchors: str  # what the values mean, in our words
    allowed: tuple[int, ...]


@dataclass(frozen=True)
class Band:
    name: str  # the fact value: lower case, spaces as underscores (product.md section 4)
    low: int
    high: int
    meaning: str  # what the band says about the patient, in a clinician's words

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def range_text(self) -> str:
        """ "5–12", or "0" for a one-value band."""
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"


@dataclass(frozen=True)
class Score:
    scale: "Scale"
    total: int
    band: Band

    @property
    def level(self) -> int:
        """The band's rank within its scale, 0 for the lowest (for colour coding)."""
        return self.scale.bands.index(self.band)

    @property
    def is_flagged(self) -> bool:
        """Whether the worklist flags this score: its band is one of the scale's flagged bands."""
        return self.band.name in self.scale.flagged_bands


@dataclass(frozen=True)
class Scale:
    code: str
    name: str
    title: str
    recall: str
    source: str
    items: tuple[Item, ...]
    bands: tuple[Band, ...]
    flagged_bands: tuple[str, ...] = ()  # the bands the worklist flags, by name

    @property
    def keys(self) -> list[str]:
        return [item.key for item in self.items]

    @property
    def max_total(self) -> int:
        return sum(max(item.allowed) for item in self.items)

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.low <= total <= band.high:
                return band
        raise ValueError(f"{self.name} total {total} is outside 0-{self.max_total}")

    def score_of(self, total: int | None) -> Score | None:
        """The score of a stored total (None stays None)."""
        return None if total is None else Score(self, total, self.band_for(total))

    def score(self, answers: Mapping[str, object]) -> Score | None:
        """Score a complete set of answers; None when the scale was left out entirely.

        A partly answered scale, or a value not allowed for its item, raises ScaleError.
        """
        given = {key: answers.get(key) for key in self.keys}
        if all(value is None for value in given.values()):
            return None
        problems = {}
        values: list[int] = []
        for item in self.items:
            value = given[item.key]
            if value is None:
                problems[item.key] = (
                    f"not answered: answer every {self.name} item or leave the whole scale blank"
                )
            elif isinstance(value, bool) or not isinstance(value, int) or value not in item.allowed:
                problems[item.key] = f"{value!r} is not allowed; allowed: {allowed_text(item)}"
            else:
                values.append(value)
        if problems:
            raise ScaleError(self, problems)
        return self.score_of(sum(int(value) for value in values))


@dataclass(frozen=True)
class Progress:
    """How far a scale has been answered, for the live totals while a form is filled."""

    scale: "Scale"
    answered: int
    subtotal: int
    score: Score | None  # once every item has an allowed answer

    @property
    def started(self) -> bool:
        return self.answered > 0


def progress(scale: Scale, answers: Mapping[str, object]) -> Progress:
    valid = {
        item.key: cast(SupportsInt, answers[item.key])  # it equals one of the allowed ints
        for item in scale.items
        if answers.get(item.key) in item.allowed and not isinstance(answers.get(item.key), bool)
    }
    subtotal = sum(int(value) for value in valid.values())
    complete = len(valid) == len(scale.items)
    score = scale.score_of(subtotal) if complete else None
    return Progress(scale, len(valid), subtotal, score)


def allowed_text(item: Item) -> str:
    return ", ".join(str(value) for value in item.allowed)


def _severity_item(n: int, label: str) -> Item:
    return Item(
        f"irls_{n}", label, "0 none, 1 mild, 2 moderate, 3 severe, 4 very severe", (0, 1, 2, 3, 4)
    )


# IRLS: 10 items scored 0-4, recall period the past week (clinical-reference.md 2.1-2.3, V).
IRLS = Scale(
    code="irls",
    name="IRLS",
    title="IRLS: RLS severity (IRLSSG rating scale)",
    recall="The patient rates the past week; the examiner may clarify but does not rate.",
    source="IRLSSG rating scale, Sleep Med 2003 (clinical-reference.md section 2)",
    items=(
        _severity_item(1, "Leg or arm discomfort from RLS, overall"),
        _severity_item(2, "Need to move because of RLS, overall"),
        Item(
            "irls_3",
            "Relief of RLS discomfort by moving",
            "Reverse-anchored: 0 no symptoms to relieve, 1 complete or almost complete relief, "
            "2 moderate relief, 3 mild relief, 4 no relief",
            (0, 1, 2, 3, 4),
        ),
        _severity_item(4, "Sleep disturbance from RLS"),
        _severity_item(5, "Daytime tiredness or sleepiness from RLS"),
        _severity_item(6, "RLS as a whole"),
        Item(
            "irls_7",
            "Days a week with RLS symptoms",
            "0 none, 1 about one day or less (anchor unverified), 2 two to three days, "
            "3 four to five days, 4 six to seven days",
            (0, 1, 2, 3, 4),
        ),
        Item(
            "irls_8",
            "Hours a day with symptoms, on symptom days",
            "0 none, 1 under 1 h, 2 1 to 3 h, 3 3 to 8 h, 4 8 h or more",
            (0, 1, 2, 3, 4),
        ),
        _severity_item(9, "Effect on daily affairs (family, home, social, school, work)"),
        _severity_item(10, "Mood disturbance from RLS"),
    ),
    # Severity of RLS over the past week: clinical-reference.md 2.3 (V) [S13][S14].
    bands=(
        Band("none", 0, 0, "no RLS symptoms in the past week"),
        Band("mild", 1, 10, "mild RLS symptoms"),
        Band("moderate", 11, 20, "moderate RLS symptoms"),
        Band("severe", 21, 30, "severe RLS symptoms"),
        Band("very_severe", 31, 40, "very severe RLS symptoms"),
    ),
    flagged_bands=("severe", "very_severe"),
)

# COWS: 11 clinician-rated signs, each with its own allowed values; total 0-48
# (clinical-reference.md 3.1, V; allowed values and bands also product.md section 3).
COWS = Scale(
    code="cows",
    name="COWS",
    title="COWS: opioid (and kratom) withdrawal signs",
    recall="The clinician rates what is seen now; score only what withdrawal explains.",
    source="Wesson & Ling, J Psychoactive Drugs 2003 (clinical-reference.md section 3.1)",
    items=(
        Item(
            "cows_pulse",
            "Resting pulse after 1 minute sitting or lying",
            "0 80 or below, 1 81-100, 2 101-120, 4 over 120 beats a minute",
            (0, 1, 2, 4),
        ),
        Item(
            "cows_sweating",
            "Sweating in the past 30 minutes, not from heat or activity",
            "0 none, 1 reports chills or flushing, 2 flushed or moist face, "
            "3 beads of sweat on brow or face, 4 sweat streaming",
            (0, 1, 2, 3, 4),
        ),
        Item(
            "cows_restlessness",
            "Restlessness, observed (RLS can inflate it)",
            "0 sits still, 1 reports difficulty sitting still but manages, "
            "3 frequent shifting or extra limb movement, 5 cannot sit still for more than seconds",
            (0, 1, 3, 5),
        ),
        Item(
            "cows_pupils",
            "Pupil size",
            "0 pinned or normal for the light, 1 possibly larger than normal, "
            "2 moderately dilated, 5 only a rim of iris visible",
            (0, 1, 2, 5),
        ),
        Item(
            "cows_aches",
            "New bone or joint aches",
            "0 none, 1 mild diffuse discomfort, 2 reports severe diffuse aching, "
            "4 rubbing joints or muscles, cannot sit still",
            (0, 1, 2, 4),
        ),
        Item(
            "cows_runny_nose",
            "Runny nose or tearing, not from a cold or allergy",
            "0 none, 1 stuffy nose or moist eyes, 2 running nose or tearing, "
            "4 constant running or tears streaming",
            (0, 1, 2, 4),
        ),
        Item(
            "cows_gi_upset",
            "GI upset in the past 30 minutes",
            "0 none, 1 stomach cramps, 2 nausea or loose stool, 3 vomiting or diarrhoea, "
            "5 several episodes",
            (0, 1, 2, 3, 5),
        ),
        Item(
            "cows_tremor",
            "Tremor of outstretched hands (RLS twitching can inflate it)",
            "0 none, 1 felt but not seen, 2 slight visible tremor, 4 gross tremor or twitching",
            (0, 1, 2, 4),
        ),
        Item(
            "cows_yawning",
            "Yawning, observed",
            "0 none, 1 once or twice, 2 three times or more, 4 several times a minute",
            (0, 1, 2, 4),
        ),
        Item(
            "cows_anxiety",
            "Anxiety or irritability",
            "0 none, 1 reports growing anxiety, 2 obviously anxious or irritable, "
            "4 so anxious or irritable that assessment is hard",
            (0, 1, 2, 4),
        ),
        Item(
            "cows_gooseflesh",
            "Gooseflesh",
            "0 smooth skin, 3 gooseflesh felt or arm hair standing up, 5 prominent gooseflesh",
            (0, 3, 5),
        ),
    ),
    # Withdrawal severity: clinical-reference.md 3.1 (V) [S19][S20][S21]; "a score under 5
    # does not indicate meaningful withdrawal" [S19].
    bands=(
        Band("none", 0, 4, "no meaningful withdrawal"),
        Band("mild", 5, 12, "mild withdrawal"),
        Band("moderate", 13, 24, "moderate withdrawal"),
        Band("moderately_severe", 25, 36, "moderately severe withdrawal"),
        Band("severe", 37, 48, "severe withdrawal"),
    ),
    flagged_bands=("moderately_severe", "severe"),
)

_GAD7_ANCHORS = "0 not at all, 1 several days, 2 more than half the days, 3 nearly every day"

# GAD-7: 7 items scored 0-3 over the past two weeks; bands from product.md section 3.
GAD7 = Scale(
    code="gad7",
    name="GAD-7",
    title="GAD-7: anxiety",
    recall="The patient rates the past two weeks.",
    source="GAD-7 (Spitzer et al. 2006); items and bands as product.md section 3",
    items=tuple(
        Item(f"gad7_{n}", label, _GAD7_ANCHORS, (0, 1, 2, 3))
        for n, label in enumerate(
            [
                "Feeling nervous or on edge",
                "Cannot stop or control worry",
                "Worrying too much about many things",
                "Hard to relax",
                "Too restless to sit still",
                "Easily annoyed or irritable",
                "Fear that something awful will happen",
            ],
            start=1,
        )
    ),
    # Anxiety over the past two weeks: product.md section 3 (Spitzer et al. 2006).
    bands=(
        Band("minimal", 0, 4, "minimal anxiety"),
        Band("mild", 5, 9, "mild anxiety"),
        Band("moderate", 10, 14, "moderate anxiety"),
        Band("severe", 15, 21, "severe anxiety"),
    ),
)

SCALES: dict[str, Scale] = {scale.code: scale for scale in (IRLS, COWS, GAD7)}
ITEMS: dict[str, Item] = {item.key: item for scale in SCALES.values() for item in scale.items}


def score_all(answers: Mapping[str, object]) -> tuple[dict[str, Score | None], dict[str, str]]:
    """Score every scale. Returns the scores (None for a scale left out) and, keyed by
    item, the problems of any scale that could not be scored."""
    scores: dict[str, Score | None] = {}
    problems: dict[str, str] = {}
    for code, scale in SCALES.items():
        try:
            scores[code] = scale.score(answers)
        except ScaleError as error:
            scores[code] = None
            problems.update(error.problems)
    return scores, problems
