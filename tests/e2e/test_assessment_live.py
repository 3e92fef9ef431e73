"""The assessment form's live panel in the browser: derived facts and totals update as a
clinician types, without saving, and stay in view on a 768-px tablet."""

from datetime import date, timedelta

from django.utils import timezone
from playwright.sync_api import expect

from patients.facts import WINDOW_LABELS, age_in_years
from patients.models import Assessment
from patients.scales import COWS, IRLS
from tests.base import PASSWORD, make_assessment, make_patient
from tests.e2e.test_accessibility import serious

TABLET = {"width": 768, "height": 1024}
IRLS_18 = {f"irls_{n}": v for n, v in enumerate([2, 2, 2, 2, 2, 2, 2, 2, 1, 1], start=1)}


def answer(page, scale, values):
    for item, value in zip(scale.items, values, strict=False):
        page.get_by_role("group", name=item.label).get_by_label(str(value), exact=True).check()


def assert_in_view(page, locator):
    box = locator.bounding_box()
    assert box is not None
    assert box["y"] >= 0, box
    assert box["y"] + box["height"] <= TABLET["height"], box
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= TABLET["width"], box


def test_the_derived_facts_update_as_a_clinician_types_and_stay_in_view_on_a_tablet(
    page, sign_in, clinician
):
    born = date(1958, 3, 1)
    patient = make_patient(given_name="Rosa", family_name="Lindqvist", date_of_birth=born)
    ten_days_ago = timezone.now() - timedelta(days=10)
    make_assessment(patient, clinician, assessed_at=ten_days_ago, **IRLS_18)
    page.set_viewport_size(TABLET)
    sign_in(clinician, PASSWORD)
    page.goto(patient.get_absolute_url())
    page.get_by_role("link", name="Record an assessment").click()

    panel = page.locator("#live-panel")
    age = age_in_years(born, timezone.localdate())
    expect(panel.locator("[data-fact=age_years]")).to_contain_text(f"{age} years")
    crcl = panel.locator("[data-fact=crcl_ml_min]")
    expect(crcl).to_contain_text("needs weight and serum creatinine")
    expect(panel.locator("[data-fact=hours_since_last_dose]")).to_contain_text(
        "last dose time unknown"
    )

    # 30 hours before the assessment time the form shows (now, in the clinic's zone: UTC).
    shown = page.get_by_label("Assessed at").input_value()
    last_dose = timezone.datetime.fromisoformat(shown) - timedelta(hours=30)
    page.get_by_label("Last kratom dose").fill(last_dose.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Last kratom dose").press("Tab")
    expect(panel.locator("[data-fact=hours_since_last_dose]")).to_contain_text("30 h ago")
    expect(panel.locator("[data-fact=withdrawal_window]")).to_have_text(WINDOW_LABELS["onset"])

    page.get_by_role("spinbutton", name="Weight").fill("70")
    page.get_by_role("spinbutton", name="Weight").press("Tab")
    expect(crcl).to_contain_text("needs serum creatinine")
    page.get_by_role("spinbutton", name="Serum creatinine").fill("1.2")
    page.get_by_role("spinbutton", name="Serum creatinine").press("Tab")
    # Cockcroft-Gault for a woman: (140 - age) x 70 / (72 x 1.2) x 0.85
    expect(crcl).to_contain_text(f"{(140 - age) * 70 / (72 * 1.2) * 0.85:.0f} mL/min")

    irls = panel.locator("[data-scale=irls]")
    change = panel.locator("[data-fact=irls_change]")
    expect(change).to_contain_text("previous IRLS 18 (moderate)")
    answer(page, IRLS, [3, 3])
    expect(irls).to_contain_text("6 so far · 2 of 10 answered")
    expect(change).to_contain_text("complete the IRLS to compare")
    assert_in_view(page, panel)  # scrolled down to the IRLS, the panel came along
    answer(page, IRLS, [3, 3, 2, 3, 2, 3, 2, 2, 2, 2])
    expect(irls.locator("[data-total]")).to_have_text("24")
    expect(irls.locator("[data-band]")).to_have_text("severe")
    expect(irls.locator("[data-band-meaning]")).to_have_text("severe RLS symptoms (21–30)")
    expect(change).to_contain_text("IRLS 6 points worse than last time")
    # Screen readers hear what the last change changed, not the whole panel.
    expect(page.locator("#panel-status")).to_contain_text("IRLS 24 of 40, severe")
    expect(page.locator("#panel-status")).not_to_contain_text("Creatinine clearance")

    answer(page, COWS, [1, 1, 3, 1, 2, 1, 2, 1, 1, 1, 0])
    cows = panel.locator("[data-scale=cows]")
    expect(cows.locator("[data-band-meaning]")).to_have_text("moderate withdrawal (13–24)")
    page.get_by_role("heading", name="Sleep and lifestyle").scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 2000  # far down the form
    expect(panel).to_be_in_viewport()
    assert_in_view(page, panel)
    assert Assessment.objects.count() == 1  # nothing saved: the earlier one only
    assert serious(page) == []  # the updated panel, at the tablet's width
