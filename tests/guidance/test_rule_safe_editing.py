"""Safe rule editing (issue 23): a version made from an older one while a newer was saved
shows the three-way difference instead of losing the newer one's change; activating such
a version asks first; retiring takes a reason and a confirmation; activation says what
happened."""

import json

import pytest
from django.urls import reverse

from guidance.models import Rule
from tests.guidance.test_rule_editor import form_data

pytestmark = pytest.mark.django_db

CODE = "CBT-ANXIETY"


def edit_url(version):
    return reverse("guidance:rule_edit", args=[CODE, version])


@pytest.fixture
def v1(db):
    return Rule.objects.get(code=CODE, version=1)


def test_a_save_built_on_an_older_version_shows_the_newer_change_and_saves_nothing(
    as_user, guidance_admin, staff, v1
):
    # Two admins open version 1 (the newest then).
    first, second = as_user(guidance_admin), as_user(guidance_admin)
    opened = second.get(edit_url(1)).context["form"]["latest_seen"].value()
    assert opened == 1
    # The first saves version 2 with a new title.
    first.post(edit_url(1), form_data(v1, title="CBT for anxiety (new title)", latest_seen=1))
    assert Rule.objects.filter(code=CODE).count() == 2
    # The second saves from version 1 with a new note in the detail.
    response = second.post(
        edit_url(1), form_data(v1, detail="Detail changed by the second admin", latest_seen=1)
    )
    assert response.status_code == 200
    assert Rule.objects.filter(code=CODE).count() == 2  # nothing saved
    conflict = response.context["conflict"]
    changed = {change.name: change.kept for change in conflict.changes}
    assert changed == {"title": "theirs", "detail": "yours"}
    page = response.content.decode()
    assert "CBT for anxiety (new title)" in page
    assert 'id="edit-conflict"' in page
    # The form holds both changes, and saves as a version made from version 2.
    merged = response.context["form"]
    assert merged.initial["title"] == "CBT for anxiety (new title)"
    assert merged.initial["detail"] == "Detail changed by the second admin"
    assert response.context["action"] == edit_url(2)
    v2 = Rule.objects.get(code=CODE, version=2)
    second.post(
        edit_url(2),
        form_data(
            v2,
            title=merged.initial["title"],
            detail=merged.initial["detail"],
            latest_seen=merged.initial["latest_seen"],
        ),
    )
    v3 = Rule.objects.get(code=CODE, version=3)
    assert (v3.title, v3.detail, v3.based_on) == (
        "CBT for anxiety (new title)",
        "Detail changed by the second admin",
        v2,
    )
    assert v3.newer_than_base() is None  # nothing to warn of on activation


def test_activating_a_version_made_from_an_older_one_asks_first(as_user, guidance_admin, v1):
    client = as_user(guidance_admin)
    client.post(edit_url(1), form_data(v1, title="Title of version 2", latest_seen=1))
    v2 = Rule.objects.get(code=CODE, version=2)
    client.post(reverse("guidance:rule_activate", args=[CODE, 2]))
    # Version 3 is made deliberately from version 1, after version 2 was activated.
    page = client.get(edit_url(1)).content.decode()
    assert "data-older-base" in page
    client.post(edit_url(1), form_data(v1, detail="From version 1 again", latest_seen=2))
    v3 = Rule.objects.get(code=CODE, version=3)
    assert v3.based_on == v1
    asked = client.post(reverse("guidance:rule_activate", args=[CODE, 3]))
    assert asked.status_code == 200
    assert "Title of version 2" in asked.content.decode()  # what activating would undo
    v2.refresh_from_db()
    assert v2.status == "active"  # nothing activated yet
    done = client.post(
        reverse("guidance:rule_activate", args=[CODE, 3]), {"confirmed": "1"}, follow=True
    )
    assert f"{CODE} v3 is now active, for new assessments. {CODE} v2 retired." in (
        done.content.decode()
    )
    v2.refresh_from_db()
    assert (v2.status, v2.retire_reason) == ("retired", "replaced by version 3")


def test_retiring_needs_a_reason_and_a_confirmation_and_is_recorded(as_user, guidance_admin, v1):
    client = as_user(guidance_admin)
    url = reverse("guidance:rule_retire", args=[CODE, 1])
    page = client.get(url).content.decode()
    assert "This is the version in force" in page
    refused = client.post(url, {"reason": "", "confirm": ""})
    assert set(refused.context["form"].errors) == {"reason", "confirm"}
    v1.refresh_from_db()
    assert v1.status == "active"  # nothing changed
    client.post(url, {"reason": "Superseded by the clinic's CBT pathway", "confirm": "on"})
    v1.refresh_from_db()
    assert (v1.status, v1.retire_reason) == ("retired", "Superseded by the clinic's CBT pathway")
    last = v1.history.order_by("-history_id").first()
    assert (last.history_user, last.history_change_reason) == (
        guidance_admin,
        "retired: Superseded by the clinic's CBT pathway",
    )


def test_activating_when_no_version_was_active_says_so(as_user, guidance_admin, v1):
    client = as_user(guidance_admin)
    client.post(
        reverse("guidance:rule_retire", args=[CODE, 1]), {"reason": "Paused", "confirm": "on"}
    )
    done = client.post(reverse("guidance:rule_activate", args=[CODE, 1]), follow=True)
    assert f"{CODE} v1 is now active, for new assessments. No version was active before." in (
        done.content.decode()
    )


def test_a_case_that_leaves_empty_a_fact_the_condition_reads_is_flagged(
    as_user, guidance_admin, v1
):
    """A case that passes only because a fact the condition reads was left empty gets a
    warning beside it; a case that sets every fact it reads does not."""
    cases = [
        {"name": "GAD-7 12", "facts": {"gad7_total": 12}, "fires": True},
        {"name": "No GAD-7", "facts": {}, "fires": False},
    ]
    client = as_user(guidance_admin)
    client.post(
        edit_url(1),
        form_data(
            v1,
            condition="gad7_total != null and gad7_total >= 12",
            test_cases=json.dumps(cases),
            latest_seen=1,
        ),
    )
    v2 = Rule.objects.get(code=CODE, version=2)
    results = {case.name: case.left_empty for case in v2.run_cases()}
    assert results == {"GAD-7 12": (), "No GAD-7": ("gad7_total",)}
    page = client.get(v2.get_absolute_url()).content.decode()
    assert page.count("data-left-empty") == 1
    assert "Leaves empty gad7_total, which the condition reads" in page


def test_the_error_summary_lists_and_links_each_field_in_error(as_user, guidance_admin, v1):
    response = as_user(guidance_admin).post(
        edit_url(1),
        form_data(v1, condition="sex > 5", review_by="2020-01-01", title="", latest_seen=1),
    )
    page = response.content.decode()
    summary = page.split("data-error-summary")[1].split("</div>")[0]
    assert '<a href="#id_title">Title</a>: This field is required.' in summary
    assert '<a href="#id_condition">Condition</a>: Type mismatch at character 1' in summary
    assert '<a href="#id_review_by">Next review</a>: The next review cannot be in the past.' in (
        summary
    )
    assert Rule.objects.filter(code=CODE).count() == 1  # nothing saved
