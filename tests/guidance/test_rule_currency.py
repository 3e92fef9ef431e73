"""Knowledge currency (issue 23): each rule version has an owner and a next-review date;
overdue rules are flagged on the rules list and the rule's page."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from guidance.models import Rule
from tests.guidance.test_rule_editor import form_data

pytestmark = pytest.mark.django_db

CODE = "CBT-ANXIETY"


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """At the shared frozen time, 26 November 2026 (tests/conftest.py)."""


def test_every_default_rule_has_an_owner_and_a_next_review(db):
    rules = Rule.objects.active()
    assert rules.count() > 20
    assert not rules.filter(owner="").exists()
    assert not rules.filter(review_by__isnull=True).exists()


def test_an_overdue_review_is_flagged_on_the_list_and_the_rule_page(as_user, guidance_admin):
    Rule.objects.filter(code=CODE).update(review_by=date(2026, 11, 25))  # yesterday
    Rule.objects.filter(code="LIFE-SLEEP").update(review_by=date(2026, 11, 26))  # today: due
    client = as_user(guidance_admin)
    page = client.get(reverse("guidance:rules")).content.decode()
    cell = page.split(f'data-review="{CODE}">')[1].split("</td>")[0]
    assert "25 Nov 2026" in cell
    assert "Review overdue" in cell
    assert "Review overdue" not in page.split('data-review="LIFE-SLEEP">')[1].split("</td>")[0]
    rule = Rule.objects.active().get(code=CODE)
    assert "Review overdue" in client.get(rule.get_absolute_url()).content.decode()


def test_a_new_version_takes_its_owner_and_review_from_the_form_or_the_defaults(
    as_user, guidance_admin
):
    guidance_admin.first_name, guidance_admin.last_name = "Gwen", "Ardian"
    guidance_admin.save()
    v1 = Rule.objects.get(code=CODE, version=1)
    client = as_user(guidance_admin)
    client.post(
        reverse("guidance:rule_edit", args=[CODE, 1]), form_data(v1, owner="", review_by="")
    )
    v2 = Rule.objects.get(code=CODE, version=2)
    assert (v2.owner, v2.review_by) == ("Gwen Ardian", date(2026, 11, 26) + timedelta(days=365))
    client.post(
        reverse("guidance:rule_edit", args=[CODE, 2]),
        form_data(v2, owner="Dr Lee, addiction medicine", review_by="2027-06-01"),
    )
    v3 = Rule.objects.get(code=CODE, version=3)
    assert (v3.owner, v3.review_by) == ("Dr Lee, addiction medicine", date(2027, 6, 1))
    compare = client.get(
        reverse("guidance:rule_compare", args=[CODE]), {"version": 3, "against": 2}
    )
    assert set(compare.context["changes"]) == {"owner", "next review"}


def test_a_next_review_in_the_past_is_refused_and_nothing_is_saved(as_user, guidance_admin):
    v1 = Rule.objects.get(code=CODE, version=1)
    response = as_user(guidance_admin).post(
        reverse("guidance:rule_edit", args=[CODE, 1]), form_data(v1, review_by="2026-11-25")
    )
    assert response.context["form"].errors["review_by"] == [
        "The next review cannot be in the past."
    ]
    assert Rule.objects.filter(code=CODE).count() == 1
