"""Two clinicians correct the same assessment at once, each in their own browser."""

from playwright.sync_api import expect

from patients.models import Assessment
from tests.base import PASSWORD, make_assessment, make_patient, make_user


def signed_in(browser, live_server, user):
    """A page in a browser context of its own: a second person at another computer."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/sign-in/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    return page


def test_the_second_clinicians_save_keeps_the_first_clinicians_change(
    browser, live_server, clinician
):
    other = make_user("second", "Clinicians", first_name="Ada", last_name="Second")
    patient = make_patient(date_of_birth="1960-05-01")
    assessment = make_assessment(patient, clinician, weight_kg=82, serum_creatinine_mg_dl=1.0)
    edit = f"/patients/assessments/{assessment.uuid}/edit/"

    first = signed_in(browser, live_server, clinician)
    second = signed_in(browser, live_server, other)
    try:
        both_save(first, second, edit)
    finally:
        first.context.close()
        second.context.close()
    saved = Assessment.objects.get()
    assert (saved.weight_kg, saved.notes, saved.version) == (80, "Sleeping 4 h a night", 3)


def both_save(first, second, edit):
    first.goto(edit)
    second.goto(edit)  # both have version 1 open

    first.get_by_role("spinbutton", name="Weight").fill("80")
    first.get_by_label("Why this correction").fill("Re-weighed")
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_text("Assessment corrected")).to_be_visible()

    second.get_by_role("textbox", name="Notes").fill("Sleeping 4 h a night")
    second.get_by_label("Why this correction").fill("Sleep history taken")
    second.get_by_role("button", name="Save").click()
    panel = second.locator("#edit-conflict")
    expect(panel).to_contain_text("saved this record")
    expect(panel.get_by_role("row", name="Weight")).to_contain_text("theirs")
    expect(second.get_by_role("spinbutton", name="Weight")).to_have_value("80.0")
    expect(second.get_by_role("textbox", name="Notes")).to_have_value("Sleeping 4 h a night")
    expect(second.get_by_label("Why this correction")).to_have_value("Sleep history taken")
    assert Assessment.objects.get().notes == ""  # nothing saved by the refused attempt

    second.get_by_role("button", name="Save").click()
    expect(second.get_by_text("Assessment corrected")).to_be_visible()
