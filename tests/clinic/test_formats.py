"""The app is English only and runs without Django's translation machinery (USE_I18N off,
which makes every page cheaper). Dates, times and numbers read as they did with it on:
Django takes the formats of LANGUAGE_CODE (en-gb) either way."""

from datetime import UTC, date, datetime

import pytest
from django import forms
from django.template import engines
from django.test import override_settings
from django.utils import translation
from django.utils.formats import date_format

# Every date format the templates use, Django's defaults for a bare date and datetime, and
# the number filters.
SHOWN = (
    '{{ day|date:"j M Y" }}|{{ day|date:"D j M" }}|{{ day|date:"l j M Y" }}|'
    '{{ at|date:"j M Y H:i" }}|{{ at|date:"j M H:i" }}|{{ at|date:"Y-m-d H:i" }}|'
    "{{ day }}|{{ at }}|{{ ratio|floatformat:1 }}|{{ ratio|floatformat:0 }}|"
    '{{ ratio|floatformat:"-1" }}|{{ big }}'
)
VALUES = {
    "day": date(1988, 3, 14),
    "at": datetime(2026, 11, 26, 21, 5, tzinfo=UTC),
    "ratio": 1234.56,
    "big": 1234567,
}


def with_translation(on: bool, work):
    """`work()` with USE_I18N as given. django.utils.translation keeps the functions of the
    setting it first saw; its docstring says to clear them when a test changes it."""
    with override_settings(USE_I18N=on):
        translation._trans.__dict__.clear()
        try:
            return work()
        finally:
            translation._trans.__dict__.clear()


def test_translation_is_off():
    from django.conf import settings

    assert settings.USE_I18N is False
    assert settings.LANGUAGE_CODE == "en-gb"


def test_dates_and_numbers_read_as_they_did_with_translation_on():
    template = engines["django"].from_string(SHOWN)
    off = with_translation(False, lambda: template.render(VALUES))
    on = with_translation(True, lambda: template.render(VALUES))
    assert off == on
    assert off.split("|") == [
        "14 Mar 1988",
        "Mon 14 Mar",
        "Monday 14 Mar 1988",
        "26 Nov 2026 21:05",
        "26 Nov 21:05",
        "2026-11-26 21:05",
        "14 Mar 1988",
        "26 Nov 2026, 9:05 p.m.",
        "1234.6",
        "1235",
        "1234.6",
        "1234567",
    ]


def test_messages_that_format_a_date_read_as_they_did_with_translation_on():
    day = date(2026, 11, 20)
    assert with_translation(False, lambda: date_format(day)) == "20 Nov 2026"
    assert with_translation(True, lambda: date_format(day)) == "20 Nov 2026"


@pytest.mark.parametrize("typed", ["14/03/1988", "1988-03-14", "14/03/88"])
def test_a_date_typed_the_british_way_is_read_as_before(typed):
    field = forms.DateField()
    assert with_translation(False, lambda: field.clean(typed)) == date(1988, 3, 14)
    assert with_translation(True, lambda: field.clean(typed)) == date(1988, 3, 14)
