"""The review queue in the browser: from the home page's count to the cards awaiting
review across patients, one decided, and the count down by one."""

from datetime import date

from playwright.sync_api import expect

from guidance.models import Recommendation
from guidance.services import save_assessment
from patients.models import Assessment
from tests.base import COMPLETE_IRLS, CRITERIA_MET, PASSWORD, make_patient


def test_a_clinician_follows_the_count_decides_the_first_card_and_it_leaves_the_queue(
    page, sign_in, clinician
):
    patients = [
        make_patient(given_name="Ada", family_name="Older", date_of_birth=date(1950, 1, 1)),
        make_patient(given_name="Ben", family_name="Younger", date_of_birth=date(1990, 1, 1)),
    ]
    for patient in patients:
        assessment = Assessment(
            patient=patient, assessed_by=clinician, **CRITERIA_MET, **COMPLETE_IRLS
        )
        save_assessment(assessment=assessment)
    waiting = Recommendation.objects.awaiting_review()
    count = waiting.count()
    first = waiting.select_related("rule").first()
    assert first.rule.indicator == "critical"
    assert count <= 50  # one page of the queue

    sign_in(clinician, PASSWORD)
    home_count = page.locator("[data-count=awaiting_review]")
    expect(home_count).to_contain_text(f"Awaiting review: {count}")
    home_count.get_by_role("link").click()

    expect(page.get_by_role("heading", name="Awaiting review")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(count)
    expect(rows.first).to_contain_text("Critical")
    expect(rows.first).to_contain_text(first.rule.title)
    queue = page.locator("tbody")
    expect(queue).to_contain_text("Older, Ada")
    expect(queue).to_contain_text("Younger, Ben")
    # Critical first: no critical row after the first non-critical one (then the options
    # by strength, then the other cautions: Rule.rank).
    indicators = [text.split()[0] for text in rows.locator("td:first-child").all_inner_texts()]
    critical = [n for n, indicator in enumerate(indicators) if indicator == "Critical"]
    assert critical == list(range(len(critical)))
    shown = rows.all_inner_texts()
    strong = next(n for n, row in enumerate(shown) if "alpha-2-delta" in row)
    against = next(n for n, row in enumerate(shown) if "Pramipexole" in row)
    assert strong < against

    rows.first.get_by_role("link").click()
    card = page.locator(f"#card-{first.uuid}")
    expect(card).to_be_visible()
    button = "Acknowledge" if first.rule.kind == "caution" else "Accept"
    card.get_by_role("button", name=button).first.click()
    expect(card.locator("> summary [data-status]")).not_to_have_text("Awaiting review")

    page.locator("nav").get_by_role("link", name="Awaiting review", exact=True).click()
    expect(rows).to_have_count(count - 1)
    expect(page.locator(f"a[href$='#card-{first.uuid}']")).to_have_count(0)
    page.locator("nav").get_by_role("link", name="Kratom RLS clinic").click()
    expect(home_count).to_contain_text(f"Awaiting review: {count - 1}")
    first.refresh_from_db()
    assert first.status != "pending"
