import json
import re

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
    page.get_by_role("spinbutton", name="Ferritin").fill("40")
    for criterion in ["E1", "E2", "E3", "E4", "E5"]:
        page.get_by_label(criterion, exact=False).check()
    for item, value in zip(IRLS.items, [3, 3, 2, 3, 2, 3, 2, 2, 2, 2], strict=True):
        page.get_by_role("group", name=item.label).get_by_label(str(value), exact=True).check()
    # The live panel has caught up with the last answer (it changes height as it updates:
    # a click while it still moves can land beside the button, as it once did in CI).
    expect(page.locator("#live-panel [data-scale=irls] [data-total]")).to_have_text("24")
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

    # The accept names every caution the option carries, warnings as well as the critical
    # one, and acknowledges them all with it.
    accept = gabapentin.get_by_role("button", name=re.compile(r"^Accept, acknowledging: "))
    expect(accept).to_contain_text("Breathing risk with gabapentinoids")
    expect(accept).to_contain_text("Gabapentinoid misuse")
    accept.click()
    expect(gabapentin.locator("> summary [data-status]")).to_have_text("Accepted")
    carried = gabapentin.locator(".card-cautions > details.card")
    assert carried.count() >= 3
    for n in range(carried.count()):
        expect(carried.nth(n).locator("> summary [data-status]")).to_have_text("Acknowledged")
    expect(breathing).to_contain_text("Acknowledged on accepting")
    page.reload()  # what was swapped in is what was saved
    expect(gabapentin.locator("> summary [data-status]")).to_have_text("Accepted")
    expect(breathing.locator("> summary [data-status]")).to_have_text("Acknowledged")
    # Folded, the option still names what it was accepted with, and nothing is undecided.
    named = gabapentin.locator("> summary [data-carries]")
    expect(named).to_contain_text("Accepted with: Breathing risk with gabapentinoids")
    expect(named).to_contain_text("Gabapentinoid misuse")
    expect(named).not_to_contain_text("Undecided")


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
    expect(page.get_by_text("Unknown fact 'gad7_totl' at character 1").first).to_be_visible()
    expect(page.locator("[data-error-summary]")).to_be_focused()  # the summary is read first
    summary = page.locator("[data-error-summary]")
    expect(summary.get_by_role("link", name="Condition")).to_have_attribute("href", "#id_condition")
    expect(page.get_by_text("Did you mean gad7_total?").first).to_be_visible()

    page.get_by_label("Condition").fill("gad7_total != null and gad7_total >= 12")
    cases = [
        {"name": "GAD-7 12", "facts": {"gad7_total": 12}, "fires": True},
        {"name": "GAD-7 11", "facts": {"gad7_total": 11}, "fires": False},
    ]
    page.get_by_text("Test cases as JSON (advanced)").click()  # the advanced view
    page.get_by_label("Test cases as JSON").fill(json.dumps(cases))
    expect(page.get_by_label("the JSON (advanced)")).to_be_checked()  # typing there chose it
    page.get_by_role("button", name="Save as a new draft").click()
    expect(page.get_by_role("heading", name="CBT-ANXIETY version 2")).to_be_visible()
    expect(page.locator("[data-status]")).to_have_text("Draft")

    page.get_by_role("button", name="Activate").click()
    expect(page.locator("[data-status]")).to_have_text("Active")
    assert Rule.objects.get(code="CBT-ANXIETY", version=1).status == "retired"
    assert Rule.objects.get(code="CBT-ANXIETY", version=2).condition.endswith(">= 12")


def test_a_guidance_admin_edits_test_cases_as_rows_and_sees_them_saved(
    page, sign_in, guidance_admin
):
    sign_in(guidance_admin, PASSWORD)
    page.goto("/guidance/rules/CBT-ANXIETY/v1/edit/")
    page.get_by_label("Condition").fill("gad7_total != null and gad7_total >= 12")
    first = page.locator("tr[data-case='1']")
    expect(first.get_by_label("Case 1: name")).to_have_value("GAD-7 10")
    expect(first.get_by_label("Case 1, fact 1", exact=True)).to_have_value("gad7_total")
    first.get_by_label("Case 1: name").fill("GAD-7 12")
    first.get_by_label("Case 1, fact 1, value").fill("12")

    # More rows without saving; what was typed stays.
    page.get_by_role("button", name="More rows (nothing is saved)").click()
    expect(page.get_by_label("Case 1: name")).to_have_value("GAD-7 12")
    new = page.locator("tr[data-case='3']")
    new.get_by_label("Case 3: name").fill("GAD-7 11")
    new.get_by_label("Case 3, fact 1", exact=True).select_option("gad7_total")
    expect(new.get_by_label("Case 3, fact 1, value")).to_have_attribute(
        "placeholder", "a whole number, 0 to 21, or null"
    )
    new.get_by_label("Case 3, fact 1, value").fill("41")  # GAD-7 goes to 21
    new.get_by_label("does not fire").check()
    page.get_by_label("What changed, and why").fill("Raise the threshold to 12")
    page.get_by_role("button", name="Save as a new draft").click()
    new = page.locator("tr[data-case='3']")
    expect(new).to_contain_text("41 is out of range; allowed: 0 to 21")
    assert Rule.objects.filter(code="CBT-ANXIETY").count() == 1

    new.get_by_label("Case 3, fact 1, value").fill("11")
    page.get_by_role("button", name="Save as a new draft").click()
    expect(page.get_by_role("heading", name="CBT-ANXIETY version 2")).to_be_visible()
    expect(page.get_by_role("heading", name="Test cases")).to_contain_text("all pass")
    assert Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases == [
        {"name": "GAD-7 12", "facts": {"gad7_total": 12}, "fires": True},
        {"name": "GAD-7 9", "facts": {"gad7_total": 9}, "fires": False},
        {"name": "GAD-7 11", "facts": {"gad7_total": 11}, "fires": False},
    ]


def test_a_case_takes_any_number_of_facts_in_place(page, sign_in, guidance_admin):
    """ "Add a fact" gives a case another fact row where it is, without reloading: five
    facts for one case, all saved."""
    sign_in(guidance_admin, PASSWORD)
    page.goto("/guidance/rules/CBT-ANXIETY/v1/edit/")
    first = page.locator("tr[data-case='1']")
    rows_before = first.locator("[data-fact-row]").count()  # its fact and 2 blank rows
    assert rows_before == 3
    add = first.get_by_role("button", name="Add a fact to Case 1")
    for _ in range(2):
        add.click()
    expect(first.locator("[data-fact-row]")).to_have_count(5)
    expect(first.get_by_label("Case 1, fact 5", exact=True)).to_be_focused()
    values = {
        "sleep_hours_per_night": "4.5",
        "caffeine_mg_per_day": "200",
        "alcohol_drinks_per_week": "3",
        "irls_total": "12",
    }
    for number, (fact, value) in enumerate(values.items(), start=2):
        first.get_by_label(f"Case 1, fact {number}", exact=True).select_option(fact)
        first.get_by_label(f"Case 1, fact {number}, value").fill(value)
    page.get_by_label("What changed, and why").fill("A fuller first case")
    page.get_by_role("button", name="Save as a new draft").click()
    expect(page.get_by_role("heading", name="CBT-ANXIETY version 2")).to_be_visible()
    case = Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases[0]
    assert case["facts"] == {
        "gad7_total": 10,
        "sleep_hours_per_night": 4.5,
        "caffeine_mg_per_day": 200,
        "alcohol_drinks_per_week": 3,
        "irls_total": 12,
    }
