from playwright.sync_api import expect

from patients.scales import GAD7, IRLS
from tests.base import PASSWORD, make_patient


def answer(page, scale, values):
    for item, value in zip(scale.items, values, strict=False):  # the first len(values) items
        page.get_by_role("group", name=item.label).get_by_label(str(value), exact=True).check()


def test_a_clinician_fills_an_assessment_sees_live_totals_and_saves(page, sign_in, clinician):
    patient = make_patient(given_name="Ines", family_name="Vardy", date_of_birth="1985-03-02")
    sign_in(clinician, PASSWORD)
    page.goto(patient.get_absolute_url())
    page.get_by_role("link", name="Record an assessment").click()

    for criterion in ["E1", "E2", "E3", "E4", "E5"]:
        page.get_by_label(criterion, exact=False).check()

    irls = page.locator("#scores [data-scale=irls]")
    expect(irls).to_contain_text("not scored")
    answer(page, IRLS, [3, 3])
    expect(irls).to_contain_text("6 so far · 2 of 10 answered")
    answer(page, IRLS, [3, 3, 2, 3, 2, 3, 2, 2, 2, 2])
    expect(irls.locator("[data-total]")).to_have_text("24")
    expect(irls.locator("[data-band]")).to_have_text("severe")
    # Changing one answer moves the total across a band boundary, live.
    page.get_by_role("group", name=IRLS.items[0].label).get_by_label("0", exact=True).check()
    page.get_by_role("group", name=IRLS.items[1].label).get_by_label("0", exact=True).check()
    expect(irls.locator("[data-total]")).to_have_text("18")
    expect(irls.locator("[data-band]")).to_have_text("moderate")

    answer(page, GAD7, [2, 2, 2, 1, 2, 1, 1])
    expect(page.locator("#scores [data-scale=gad7] [data-band]")).to_have_text("moderate")

    page.get_by_role("spinbutton", name="Weight").fill("70")
    page.get_by_role("spinbutton", name="Serum creatinine").fill("0.8")
    page.get_by_role("spinbutton", name="Serum creatinine").press("Tab")
    # Saved once the live panel has caught up, as a person would read it first.
    expect(page.locator("#live-panel [data-fact=crcl_ml_min]")).not_to_contain_text(
        "needs weight and serum creatinine"
    )
    page.get_by_role("button", name="Save assessment").click()

    expect(page.get_by_text("Assessment saved.")).to_be_visible()
    expect(page.locator("[data-scale=irls] [data-total]")).to_have_text("18")
    expect(page.locator("[data-scale=irls] [data-band]")).to_have_text("moderate")
    expect(page.locator("[data-scale=gad7] [data-total]")).to_have_text("11")
    expect(page.locator("[data-scale=cows]")).to_contain_text("not scored")
    expect(page.locator("[data-fact=rls_criteria_met]")).to_have_text("all met")


def test_a_partial_scale_is_refused_in_the_browser_and_nothing_is_lost(page, sign_in, clinician):
    patient = make_patient()
    sign_in(clinician, PASSWORD)
    page.goto(f"/patients/{patient.uuid}/assessments/new/")
    page.get_by_label("Kratom per day").fill("15")
    answer(page, GAD7, [1, 1, 1])
    expect(page.locator("#scores [data-scale=gad7]")).to_contain_text("3 of 7 answered")
    page.get_by_role("button", name="Save assessment").click()
    expect(page.get_by_text("Nothing has been saved")).to_be_visible()
    expect(page.get_by_text("answer every GAD-7 item").first).to_be_visible()
    expect(page.get_by_label("Kratom per day")).to_have_value("15")
