from playwright.sync_api import expect

from tests.base import PASSWORD, make_patient


def test_a_clinician_registers_a_patient_finds_them_and_opens_their_page(page, sign_in, clinician):
    make_patient(family_name="Someoneelse")
    sign_in(clinician, PASSWORD)

    page.get_by_role("link", name="Register patient").first.click()
    page.get_by_label("MRN").fill("e2e-0042")
    page.get_by_label("Given name").fill("Marlowe")
    page.get_by_label("Family name").fill("Quintero")
    page.get_by_label("Date of birth").fill("1979-04-12")
    page.get_by_label("Sex").select_option("male")
    page.get_by_label("Email").fill("marlowe@example.org")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_text("Patient registered.")).to_be_visible()

    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_label("Name, MRN or date of birth").fill("quin")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Someoneelse")).to_have_count(0)
    page.get_by_role("link", name="Quintero, Marlowe").click()

    expect(page.get_by_role("heading", name="Quintero, Marlowe")).to_be_visible()
    expect(page.get_by_text("MRN E2E-0042")).to_be_visible()
    expect(page.get_by_role("region", name="Record changes")).to_contain_text("by clinician")


def test_bad_input_in_the_browser_shows_the_message_and_keeps_what_was_typed(page, sign_in, staff):
    sign_in(staff, PASSWORD)
    page.goto("/patients/new/")
    page.get_by_label("MRN").fill("E2E-7")
    page.get_by_label("Given name").fill("Kept")
    page.get_by_label("Family name").fill("Typed")
    page.get_by_label("Date of birth").fill("2099-01-01")
    page.get_by_label("Sex").select_option("female")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_text("The date of birth cannot be in the future.")).to_be_visible()
    expect(page.get_by_label("Given name")).to_have_value("Kept")
