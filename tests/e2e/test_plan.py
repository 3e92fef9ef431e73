"""Issue 21's realistic patient in the browser: the plan fits one screen at 1280x800 and at
768x1024; accepting the first-line option acknowledges all five of its cautions, which the
folded card and the printable summary then name; the lifestyle advice is given at once."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from guidance.models import Recommendation
from tests.base import PASSWORD, realistic_assessment

CAUTIONS = [
    "Breathing risk with gabapentinoids",
    "Creatinine clearance under 60 mL/min",
    "Gabapentinoid misuse",
    "A current medicine can worsen RLS",
    "Moderate or worse withdrawal in its first 72 hours",
]


@pytest.fixture
def realistic(clinician):
    """Issue 21's patient (tests.base.realistic_assessment), assessed now."""
    return realistic_assessment(clinician, at=datetime.now(tz=UTC))


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (768, 1024)])
def test_the_plan_fits_one_screen(page, sign_in, clinician, realistic, width, height):
    page.set_viewport_size({"width": width, "height": height})
    sign_in(clinician, PASSWORD)
    page.goto(realistic.get_absolute_url())
    plan = page.locator("[data-plan]")
    plan.scroll_into_view_if_needed()
    box = plan.bounding_box()
    assert box is not None
    print(f"\nthe plan at {width}x{height}: {box['height']:.0f} px high")
    assert box["height"] <= height
    expect(plan.locator("li")).to_have_count(7)
    expect(plan).to_contain_text("Strong recommendation (AASM 2024) · 5 cautions")
    expect(plan).to_contain_text("Against standard use (AASM 2024, conditional)")


def test_accepting_the_first_line_option_acknowledges_and_names_its_five_cautions(
    page, sign_in, clinician, realistic
):
    sign_in(clinician, PASSWORD)
    page.goto(realistic.get_absolute_url())
    option = page.locator("[data-rule=MED-GABAPENTINOID]")
    accept = option.get_by_role("button", name=re.compile(r"^Accept, acknowledging: "))
    for caution in CAUTIONS:
        expect(accept).to_contain_text(caution)
    accept.click()
    expect(option.locator("> summary [data-status]")).to_have_text("Accepted")
    page.reload()
    named = option.locator("> summary [data-carries]")
    expect(named).to_contain_text("Accepted with:")
    for caution in CAUTIONS:
        expect(named).to_contain_text(caution)
    expect(named).not_to_contain_text("Undecided")
    carried = Recommendation.objects.get(
        assessment=realistic, rule_code="MED-GABAPENTINOID"
    ).carried_cautions()
    assert {card.status for card in carried} == {"acknowledged"}
    assert len(carried) == 5

    page.goto(f"/patients/{realistic.patient.uuid}/summary/")
    under = page.locator("[data-accepted-with]")
    for caution in CAUTIONS:
        expect(under).to_contain_text(caution)


def test_the_lifestyle_advice_is_given_at_once(page, sign_in, clinician, realistic):
    sign_in(clinician, PASSWORD)
    page.goto(realistic.get_absolute_url())
    block = page.locator("[data-lifestyle]")
    block.get_by_role("button", name=re.compile(r"^Give this advice")).click()
    expect(page.get_by_role("status").filter(has_text="lifestyle suggestion")).to_be_visible()
    lifestyle = Recommendation.objects.filter(assessment=realistic, rule__category="lifestyle")
    assert {card.status for card in lifestyle} == {"accepted"}
    expect(page.locator("[data-plan]")).to_contain_text("Lifestyle advice · decided")
