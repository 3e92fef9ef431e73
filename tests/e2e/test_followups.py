from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from patients.models import FollowUp, FollowUpKind
from patients.scales import COWS
from tests.base import COMPLETE_IRLS, PASSWORD, make_assessment, make_patient

COWS_ANSWERS = [2, 2, 3, 2, 2, 2, 3, 1, 2, 2, 3]  # total 24: moderate


def test_staff_record_a_due_follow_up_with_a_cows_re_score_and_see_it_on_the_chart(
    page, sign_in, staff, clinician
):
    patient = make_patient(given_name="Wren", family_name="Halloway")
    make_assessment(
        patient,
        clinician,
        assessed_at=timezone.now() - timedelta(days=3),
        cows_pulse=1, cows_sweating=1, cows_restlessness=3, cows_pupils=1, cows_aches=2,
        cows_runny_nose=1, cows_gi_upset=2, cows_tremor=1, cows_yawning=1, cows_anxiety=1,
        cows_gooseflesh=0, **COMPLETE_IRLS,
    )  # fmt: skip
    FollowUp.objects.create(
        patient=patient,
        due_date=timezone.localdate(),
        scheduled_by=clinician,
        assigned_to=staff,
        kind=FollowUpKind.VISIT,  # the COWS needs the patient in the room
    )

    sign_in(staff, PASSWORD)
    page.get_by_role("link", name="Worklist").first.click()
    today = page.locator("[data-bucket=today]")
    expect(today).to_contain_text("Halloway, Wren")
    today.get_by_role("link", name="Record this follow-up").click()

    for item, value in zip(COWS.items, COWS_ANSWERS, strict=True):
        page.get_by_role("group", name=item.label).get_by_label(str(value), exact=True).check()
    expect(page.locator("#scores [data-scale=cows] [data-total]")).to_have_text("24")
    page.get_by_role("textbox", name="Notes").fill("Restless evenings, sleeping 5 hours")
    page.get_by_role("button", name="Save the follow-up").click()

    # Back on the worklist, the follow-up is done.
    expect(page.get_by_text("Follow-up recorded as completed.")).to_be_visible()
    expect(page.locator("[data-bucket=today]")).not_to_contain_text("Halloway")

    page.goto(patient.get_absolute_url())
    cows_chart = page.locator("[data-chart=cows]")
    expect(cows_chart.locator("circle")).to_have_count(2)
    expect(cows_chart.locator("circle").last).to_have_attribute("data-total", "24")
    expect(page.locator("[data-event=followup]")).to_contain_text("COWS 24 (moderate)")
