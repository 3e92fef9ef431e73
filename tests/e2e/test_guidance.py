import json

from playwright.sync_api import expect

from guidance.models import Rule
from patients.scales import IRLS
from tests.base import PASSWORD, make_patient


def test_a_clinician_saves_an_assessment_sees_cards_declines_one_and_accepts_another(
    page, sign_in, clinician
):
    patient = make_patient(given_name="Tomas", family_name="Reyes", date_of_birth="1983-09-14")
    sign_in(clinician, PASSWORD)
    page.goto(f"/patients/{patient.uuid}/assessments/new/")
    for criterion in ["E1", "E2", "E3", "E4", "E5"]:
        page.get_by_label(criterion, exact=False).check()
    for item, value in zip(IRLS.items, [3, 3, 2, 3, 2, 3, 2, 2, 2, 2], strict=True):
        page.get_by_role("group", name=item.label).get_by_label(str(value), exact=True).check()
    page.get_by_role("spinbutton", name="Ferritin").fill("40")
    page.get_by_role("button", name="Save assessment").click()

    expect(page.get_by_text("Suggestions for clinician review")).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object"  # decisions update in place
    gabapentin = page.locator("[data-rule=MED-GABAPENTINOID]")
    agonist = page.locator("[data-rule=MED-DOPAMINE-AGONIST]")
    expect(gabapentin.locator("> summary [data-status]")).to_have_text("Awaiting review")
    # The breathing caution (last dose time unknown) sits inside the option it qualifies.
    breathing = gabapentin.locator("[data-rule=SAFE-GABA-RESPIRATORY]")
    expect(breathing).to_contain_text("last dose time unknown")
    expect(page.locator("[data-rule=IRON-SUPPLEMENT]")).to_be_visible()

    agonist.get_by_text("Decline…").click()
    agonist.get_by_role("button", name="Decline suggestion").click()  # no reason yet
    agonist = page.locator("[data-rule=MED-DOPAMINE-AGONIST]")
    expect(agonist.get_by_text("Say why the suggestion is declined.")).to_be_visible()
    # The card is open again at the field in error, and the top of the page says why.
    expect(agonist.get_by_label("Reason")).to_be_focused()
    expect(page.get_by_role("alert").filter(has_text="was not decided")).to_contain_text(
        "Say why the suggestion is declined."
    )
    agonist.get_by_label("Reason").select_option("contraindicated")
    agonist.get_by_label("Comment").fill("History of impulse-control problems")
    agonist.get_by_role("button", name="Decline suggestion").click()

    agonist = page.locator("[data-rule=MED-DOPAMINE-AGONIST]")
    expect(agonist.locator("> summary [data-status]")).to_have_text("Declined")
    expect(agonist).to_contain_text("(Contraindicated) by Cleo Nician")
    expect(agonist).to_contain_text("History of impulse-control problems")

    accept = "Accept, acknowledging the critical caution"
    gabapentin.get_by_role("button", name=accept).click()
    expect(gabapentin.locator("> summary [data-status]")).to_have_text("Accepted")
    expect(breathing.locator("> summary [data-status]")).to_have_text("Acknowledged")
    expect(breathing).to_contain_text("Acknowledged on accepting")
    page.reload()  # what was swapped in is what was saved
    expect(gabapentin.locator("> summary [data-status]")).to_have_text("Accepted")
    expect(breathing.locator("> summary [data-status]")).to_have_text("Acknowledged")


def test_a_guidance_admin_changes_a_threshold_is_refused_a_misspelling_and_activates_v2(
    page, sign_in, guidance_admin
):
    sign_in(guidance_admin, PASSWORD)
    page.get_by_role("link", name="Guidance rules").first.click()
    page.get_by_role("link", name="CBT-ANXIETY").click()
    page.get_by_role("link", name="Edit (new version)").click()

    page.get_by_label("Condition").fill("gad7_totl != null and gad7_totl >= 12")
    page.get_by_label("What changed, and why").fill("Raise the threshold to 12")
    page.get_by_role("button", name="Save as a new draft").click()
    expect(page.get_by_text("Unknown fact 'gad7_totl' at character 1")).to_be_visible()
    expect(page.get_by_text("Did you mean gad7_total?")).to_be_visible()

    page.get_by_label("Condition").fill("gad7_total != null and gad7_total >= 12")
    cases = [
        {"name": "GAD-7 12", "facts": {"gad7_total": 12}, "fires": True},
        {"name": "GAD-7 11", "facts": {"gad7_total": 11}, "fires": False},
    ]
    page.get_by_label("Test cases").fill(json.dumps(cases))
    page.get_by_role("button", name="Save as a new draft").click()
    expect(page.get_by_role("heading", name="CBT-ANXIETY version 2")).to_be_visible()
    expect(page.locator("[data-status]")).to_have_text("Draft")

    page.get_by_role("button", name="Activate").click()
    expect(page.locator("[data-status]")).to_have_text("Active")
    assert Rule.objects.get(code="CBT-ANXIETY", version=1).status == "retired"
    assert Rule.objects.get(code="CBT-ANXIETY", version=2).condition.endswith(">= 12")
