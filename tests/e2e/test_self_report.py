"""A patient answers the GAD-7 on a 390-px phone through their link, then a clinician
starts an assessment from the answers and saves it (issue 24)."""

from datetime import date

from playwright.sync_api import expect

from patients.invitations import Invitation
from patients.models import Assessment
from tests.base import PASSWORD, make_patient
from tests.e2e.test_accessibility import serious

PHONE = {"width": 390, "height": 844}
ANSWERS = [
    "More than half the days",
    "Several days",
    "Not at all",
    "Several days",
    "Nearly every day",
    "Not at all",
    "Several days",
]  # fmt: skip  (2+1+0+1+3+0+1 = 8)


def test_a_patient_answers_the_gad7_on_a_phone_and_a_clinician_confirms_it(
    browser, live_server, page, sign_in, staff, clinician
):
    patient = make_patient(
        given_name="Rosalind", family_name="Featherstonehaugh", date_of_birth=date(1979, 6, 2)
    )
    sign_in(staff, PASSWORD)
    page.goto(patient.get_absolute_url())
    page.get_by_role("link", name="Send a questionnaire link").click()
    page.get_by_label("Sleep and lifestyle").uncheck()
    page.get_by_label("When the last kratom dose was taken").uncheck()
    page.get_by_role("button", name="Make the link").click()
    link = page.locator("[data-invitation-link]").inner_text()
    expect(page.locator("[data-qr] svg")).to_be_visible()

    phone = browser.new_context(viewport=PHONE, base_url=live_server.url)
    answering = phone.new_page()
    answering.goto(link.replace("http://testserver", live_server.url))
    expect(answering.get_by_role("heading", name="Check it is you")).to_be_visible()
    assert serious(answering) == []
    answering.get_by_label("Your date of birth").fill("1979-06-02")
    answering.get_by_role("button", name="Continue").click()

    expect(answering.get_by_role("heading", name="GAD-7")).to_be_visible()
    questions = answering.locator("fieldset.self-report-question")
    expect(questions).to_have_count(7)
    for n, words in enumerate(ANSWERS[:6]):
        questions.nth(n).get_by_label(words, exact=True).check()
    answering.get_by_role("button", name="Save and continue").click()  # one left out
    expect(answering.locator("[data-refused]")).to_be_visible()
    expect(questions.nth(0).get_by_label(ANSWERS[0], exact=True)).to_be_checked()  # kept
    questions.nth(6).get_by_label(ANSWERS[6], exact=True).check()
    button = answering.get_by_role("button", name="Save and continue")
    assert button.bounding_box()["height"] >= 44  # a thumb's target
    assert answering.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert serious(answering) == []
    button.click()

    expect(answering.get_by_role("heading", name="Send your answers")).to_be_visible()
    assert serious(answering) == []
    answering.get_by_role("button", name="Send to").click()
    expect(answering.get_by_role("heading", name="your answers were sent")).to_be_visible()
    assert serious(answering) == []
    body = answering.content()
    assert "Featherstonehaugh" not in body
    assert "Rosalind" not in body
    phone.close()
    assert Invitation.objects.get().answers["gad7_5"] == 3
    assert not Assessment.objects.exists()

    page.context.clear_cookies()  # the staff member's session ends; a clinician signs in
    sign_in(clinician, PASSWORD)
    page.goto(patient.get_absolute_url())
    expect(page.locator('[data-status="submitted"]')).to_be_visible()
    page.get_by_role("link", name="Start an assessment from the answers").click()
    expect(page.locator("[data-patient-reported]")).to_be_visible()
    page.get_by_role("button", name="Save assessment").click()
    expect(page.get_by_text("Assessment saved")).to_be_visible()
    assessment = Assessment.objects.get()
    assert assessment.gad7_total == 8
    assert "gad7_5" in assessment.patient_reported
    assert Invitation.objects.get().assessment == assessment
