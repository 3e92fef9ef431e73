"""The scale registry: bands at every boundary, allowed values, complete-or-absent."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.scales import COWS, GAD7, IRLS, SCALES, ScaleError

BOUNDARIES = [
    (IRLS, 0, "none"),
    (IRLS, 1, "mild"),
    (IRLS, 10, "mild"),
    (IRLS, 11, "moderate"),
    (IRLS, 20, "moderate"),
    (IRLS, 21, "severe"),
    (IRLS, 30, "severe"),
    (IRLS, 31, "very_severe"),
    (IRLS, 40, "very_severe"),
    (COWS, 0, "none"),
    (COWS, 4, "none"),
    (COWS, 5, "mild"),
    (COWS, 12, "mild"),
    (COWS, 13, "moderate"),
    (COWS, 24, "moderate"),
    (COWS, 25, "moderately_severe"),
    (COWS, 36, "moderately_severe"),
    (COWS, 37, "severe"),
    (COWS, 48, "severe"),
    (GAD7, 0, "minimal"),
    (GAD7, 4, "minimal"),
    (GAD7, 5, "mild"),
    (GAD7, 9, "mild"),
    (GAD7, 10, "moderate"),
    (GAD7, 14, "moderate"),
    (GAD7, 15, "severe"),
    (GAD7, 21, "severe"),
]

COWS_ALLOWED = {
    "cows_pulse": (0, 1, 2, 4),
    "cows_sweating": (0, 1, 2, 3, 4),
    "cows_restlessness": (0, 1, 3, 5),
    "cows_pupils": (0, 1, 2, 5),
    "cows_aches": (0, 1, 2, 4),
    "cows_runny_nose": (0, 1, 2, 4),
    "cows_gi_upset": (0, 1, 2, 3, 5),
    "cows_tremor": (0, 1, 2, 4),
    "cows_yawning": (0, 1, 2, 4),
    "cows_anxiety": (0, 1, 2, 4),
    "cows_gooseflesh": (0, 3, 5),
}


def answers_totalling(scale, total):
    """A complete, allowed set of answers with the given total (greedy from the top)."""
    answers, left = {}, total
    for item in scale.items:
        value = max((v for v in item.allowed if v <= left), default=0)
        answers[item.key] = value
        left -= value
    if left:  # greedy missed; fix up with the smallest allowed steps
        for item in scale.items:
            for v in sorted(item.allowed, reverse=True):
                gain = v - answers[item.key]
                if 0 < gain <= left:
                    answers[item.key] = v
                    left -= gain
    assert left == 0, (scale.name, total)
    return answers


@pytest.mark.parametrize(("scale", "total", "band"), BOUNDARIES)
def test_every_band_boundary(scale, total, band):
    score = scale.score(answers_totalling(scale, total))
    assert (score.total, score.band.name) == (total, band)


def test_the_totals_range_as_product_md_says():
    assert (IRLS.max_total, COWS.max_total, GAD7.max_total) == (40, 48, 21)


def test_the_registry_holds_the_cows_allowed_values_of_product_md():
    assert {item.key: item.allowed for item in COWS.items} == COWS_ALLOWED


@pytest.mark.parametrize(
    ("scale", "flagged"),
    [(IRLS, ["severe", "very_severe"]), (COWS, ["moderately_severe", "severe"]), (GAD7, [])],
    ids=["irls", "cows", "gad7"],
)
def test_the_worklist_flags_severe_irls_moderately_severe_or_severe_cows_and_no_gad7(
    scale, flagged
):
    for total in range(scale.max_total + 1):
        score = scale.score_of(total)
        assert score.is_flagged == (score.band.name in flagged), (scale.name, total)
    assert list(scale.flagged_bands) == flagged


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (key, value)
        for key, allowed in COWS_ALLOWED.items()
        for value in range(-1, 7)
        if value not in allowed
    ],
)
def test_every_disallowed_cows_value_is_rejected(key, value):
    answers = {item.key: 0 for item in COWS.items} | {key: value}
    with pytest.raises(ScaleError) as error:
        COWS.score(answers)
    assert list(error.value.problems) == [key]
    assert "allowed" in error.value.problems[key]


@pytest.mark.parametrize("scale", SCALES.values(), ids=lambda s: s.code)
def test_a_scale_left_out_entirely_scores_none(scale):
    assert scale.score({}) is None


@pytest.mark.parametrize("scale", SCALES.values(), ids=lambda s: s.code)
def test_a_partly_answered_scale_is_an_error_naming_each_missing_item(scale):
    answers = {scale.items[0].key: scale.items[0].allowed[0]}
    with pytest.raises(ScaleError) as error:
        scale.score(answers)
    assert set(error.value.problems) == set(scale.keys[1:])


def test_a_boolean_is_not_a_score():
    answers = {item.key: 0 for item in GAD7.items} | {"gad7_1": True}
    with pytest.raises(ScaleError):
        GAD7.score(answers)


def valid_answers(scale):
    return st.fixed_dictionaries({item.key: st.sampled_from(item.allowed) for item in scale.items})


@pytest.mark.parametrize("scale", SCALES.values(), ids=lambda s: s.code)
@given(data=st.data())
def test_any_valid_set_scores_to_its_sum(scale, data):
    answers = data.draw(valid_answers(scale))
    score = scale.score(answers)
    assert score.total == sum(answers.values())
    assert score.band.low <= score.total <= score.band.high


@pytest.mark.parametrize("scale", SCALES.values(), ids=lambda s: s.code)
@given(data=st.data())
def test_the_band_never_decreases_as_the_total_rises(scale, data):
    low = data.draw(st.integers(0, scale.max_total))
    high = data.draw(st.integers(low, scale.max_total))
    assert scale.bands.index(scale.band_for(low)) <= scale.bands.index(scale.band_for(high))


@pytest.mark.parametrize("scale", SCALES.values(), ids=lambda s: s.code)
@given(data=st.data())
def test_any_value_outside_an_items_allowed_set_is_rejected(scale, data):
    answers = data.draw(valid_answers(scale))
    item = data.draw(st.sampled_from(scale.items))
    bad = data.draw(
        st.one_of(
            st.integers().filter(lambda v: v not in item.allowed),
            st.floats(allow_nan=True),
            st.text(max_size=3),
        )
    )
    with pytest.raises(ScaleError) as error:
        scale.score(answers | {item.key: bad})
    assert item.key in error.value.problems


# What each band means, in words (clinical-reference.md 2.3 and 3.1; product.md section 3).
BAND_MEANINGS = {
    "irls": [
        ("0", "no RLS symptoms in the past week"),
        ("1–10", "mild RLS symptoms"),
        ("11–20", "moderate RLS symptoms"),
        ("21–30", "severe RLS symptoms"),
        ("31–40", "very severe RLS symptoms"),
    ],
    "cows": [
        ("0–4", "no meaningful withdrawal"),
        ("5–12", "mild withdrawal"),
        ("13–24", "moderate withdrawal"),
        ("25–36", "moderately severe withdrawal"),
        ("37–48", "severe withdrawal"),
    ],
    "gad7": [
        ("0–4", "minimal anxiety"),
        ("5–9", "mild anxiety"),
        ("10–14", "moderate anxiety"),
        ("15–21", "severe anxiety"),
    ],
}


@pytest.mark.parametrize("code", sorted(BAND_MEANINGS))
def test_every_band_says_what_it_means_and_its_range(code):
    bands = SCALES[code].bands
    assert [(band.range_text, band.meaning) for band in bands] == BAND_MEANINGS[code]
