"""The assessment form on a 390-px phone: each scale item's choices stay on one line, and a
bar of running totals stays at the foot of the window while the items are scored; a phone
follow-up offers no COWS re-score."""

from datetime import date

from django.utils import timezone
from playwright.sync_api import expect

from patients.models import Assessment, FollowUp, FollowUpKind
from patients.scales import COWS, GAD7, IRLS, SCALES
from tests.base import PASSWORD, make_patient
from tests.e2e.test_accessibility import serious
from tests.e2e.test_assessment_live import answer

PHONE = {"width": 390, "height": 844}


def in_window(page, locator):
    box = locator.bounding_box()
    assert box is not None
    return (
        box["y"] >= 0
        and box["y"] + box["height"] <= PHONE["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= PHONE["width"]
    )


def choice_rows(page, key):
    """The distinct tops of a scale item's radio buttons: one line gives one top."""
    radios = page.locator(f"[data-item={key}] input[type=radio]")
    assert radios.count() >= 4
    return {round(radios.nth(i).bounding_box()["y"]) for i in range(radios.count())}


def test_scoring_on_a_phone_keeps_the_totals_in_view_and_each_item_on_one_line(
    page, sign_in, clinician
):
    patient = make_patient(date_of_birth=date(1970, 5, 1))
    page.set_viewport_size(PHONE)
    sign_in(clinician, PASSWORD)
    page.goto(f"{patient.get_absolute_url()}assessments/new/")
    bar = page.locator("[data-totals-bar]")
    expect(bar).to_be_visible()
    assert in_window(page, bar)
    expect(bar.locator("[data-bar-scale=irls]")).to_contain_text("not scored")

    for scale in SCALES.values():
        for item in scale.items:
            assert len(choice_rows(page, item.key)) == 1, item.key
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    answer(page, IRLS, [3, 3, 2])
    expect(bar.locator("[data-bar-scale=irls]")).to_contain_text("8 so far (3 of 10)")
    answer(page, IRLS, [3, 3, 2, 3, 2, 3, 2, 2, 2, 2])
    answer(page, COWS, [1, 1, 3, 1, 2, 1, 2, 1, 1, 1, 0])
    answer(page, GAD7, [1, 1, 1, 1, 1, 1, 1])
    # Scrolled far down the form, answering the last GAD-7 item: the bar came along.
    assert page.evaluate("window.scrollY") > 3000
    assert in_window(page, bar)
    expect(bar.locator("[data-bar-scale=irls] [data-bar-total]")).to_have_text("24")
    expect(bar.locator("[data-bar-scale=irls] [data-bar-band]")).to_have_text("severe")
    expect(bar.locator("[data-bar-scale=cows] [data-bar-total]")).to_have_text("14")
    expect(bar.locator("[data-bar-scale=cows] [data-bar-band]")).to_have_text("moderate")
    expect(bar.locator("[data-bar-scale=gad7] [data-bar-total]")).to_have_text("7")
    expect(bar.locator("[data-bar-scale=gad7] [data-bar-band]")).to_have_text("mild")

    # The bar does not hide the last of the form: scrolled to the end, Save is clear of it.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    save = page.get_by_role("button", name="Save assessment")
    save_box, bar_box = save.bounding_box(), bar.bounding_box()
    assert save_box["y"] + save_box["height"] <= bar_box["y"]
    assert serious(page) == []
    assert Assessment.objects.count() == 0  # nothing saved while scoring


def test_a_phone_follow_up_offers_the_irls_and_not_the_cows(page, sign_in, staff):
    patient = make_patient()
    call = FollowUp.objects.create(
        patient=patient, due_date=timezone.localdate(), scheduled_by=staff, kind=FollowUpKind.PHONE
    )
    page.set_viewport_size(PHONE)
    sign_in(staff, PASSWORD)
    page.goto(call.get_absolute_url())
    expect(page.get_by_role("heading", name="IRLS re-score (optional)")).to_be_visible()
    expect(page.get_by_role("heading", name="COWS re-score (optional)")).to_have_count(0)
    bar = page.locator("[data-totals-bar]")
    expect(bar.locator("[data-bar-scale]")).to_have_count(1)
    answer(page, IRLS, [3, 3, 2, 3, 2, 3, 2, 2, 2, 2])
    expect(bar.locator("[data-bar-scale=irls] [data-bar-total]")).to_have_text("24")
    assert in_window(page, bar)
    assert serious(page) == []
