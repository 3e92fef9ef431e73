"""Two versions of a rule side by side, for guidance admins and superusers only."""

import pytest
from django.urls import reverse

from guidance.models import Rule

pytestmark = pytest.mark.django_db

URL = reverse("guidance:rule_compare", args=["SAFE-GABA-RESPIRATORY"])


def new_version(rule, by, **changes):
    fields = ("title", "detail", "category", "indicator", "kind", "qualifies", "condition")
    fields += ("source", "evidence", "test_cases", "owner", "review_by")
    version = Rule(code=rule.code, **{name: getattr(rule, name) for name in fields})
    for name, value in changes.items():
        setattr(version, name, value)
    version.change_note = "Changed " + ", ".join(changes)
    version.save_as_new_version(by=by)
    return version


@pytest.fixture
def v1(db):
    return Rule.objects.get(code="SAFE-GABA-RESPIRATORY", version=1)


@pytest.fixture
def v2(v1, guidance_admin):
    """A draft: the age threshold lowered, a case for it, and a further option qualified."""
    return new_version(
        v1,
        guidance_admin,
        condition=v1.condition.replace("age_years >= 65", "age_years >= 60"),
        qualifies=["MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST"],
        test_cases=[
            *v1.test_cases,
            {"name": "aged 60", "facts": {"rls_criteria_met": True, "irls_total": 11,
             "age_years": 60, "hours_since_last_dose": 48}, "fires": True},
        ],
    )  # fmt: skip


def rows(response):
    """The compared fields, by label: (changed, left cell text, right cell text)."""
    return {field.label: field for field in response.context["fields"]}


def test_the_newest_version_is_shown_beside_the_active_one_with_its_changes_marked(
    as_user, guidance_admin, v1, v2
):
    response = as_user(guidance_admin).get(URL)
    assert response.status_code == 200
    assert (response.context["left"], response.context["right"]) == (v1, v2)
    fields = rows(response)
    changed = {label for label, field in fields.items() if field.changed}
    assert changed == {"condition", "qualified options", "test cases"}
    page = response.content.decode()
    # Both versions' content, side by side.
    assert page.count(v1.title) >= 2
    assert page.count(v1.source) == 2
    assert (
        'age_years &gt;= <del class="diff-removed"><span class="visually-hidden">removed: ' in page
    )
    assert '<ins class="diff-added"><span class="visually-hidden">added: </span>60</ins>' in page
    assert "MED-GABAPENTINOID<ins" in page
    assert "MED-DOPAMINE-AGONIST</ins>" in page
    assert "aged 60: age_years = 60, hours_since_last_dose = 48, irls_total = 11" in page
    # Changed rows are marked in words (and a sign), not by colour alone.
    assert page.count('<span aria-hidden="true">≠</span> changed</span>') == 3 + 1  # + legend
    assert "Changed between v1 and v2: qualified options, condition, test cases." in page
    assert 'data-field="category"' in page
    assert 'data-changed data-field="category"' not in page


def test_a_version_is_compared_with_the_active_one_by_default(as_user, guidance_admin, v1, v2):
    v3 = new_version(v1, guidance_admin, title="Breathing: weigh it")
    response = as_user(guidance_admin).get(URL, {"version": 3})
    assert (response.context["left"], response.context["right"]) == (v1, v3)
    assert {label for label, field in rows(response).items() if field.changed} == {"title"}


def test_the_active_version_is_compared_with_the_one_before_it(as_user, guidance_admin, v1, v2):
    as_user(guidance_admin).post(reverse("guidance:rule_activate", args=[v1.code, 2]))
    response = as_user(guidance_admin).get(URL, {"version": 2})
    assert (response.context["left"], response.context["right"]) == (v1, Rule.objects.get(pk=v2.pk))


def test_the_first_version_when_active_is_compared_with_the_next(as_user, guidance_admin, v1, v2):
    response = as_user(guidance_admin).get(URL, {"version": 1})
    assert (response.context["left"].version, response.context["right"].version) == (2, 1)


def test_any_two_versions_can_be_compared(as_user, guidance_admin, v1, v2):
    v3 = new_version(v2, guidance_admin, indicator="warning")
    response = as_user(guidance_admin).get(URL, {"version": 3, "against": 2})
    assert (response.context["left"], response.context["right"]) == (v2, v3)
    assert {label for label, field in rows(response).items() if field.changed} == {"indicator"}
    assert "Critical" in response.content.decode()
    assert "Warning" in response.content.decode()


def test_a_version_against_itself_shows_no_change(as_user, guidance_admin, v1, v2):
    response = as_user(guidance_admin).get(URL, {"version": 2, "against": 2})
    assert not any(field.changed for field in response.context["fields"])
    assert "say the same" in response.content.decode()


def test_a_rule_with_one_version_has_nothing_to_compare(as_user, guidance_admin, v1):
    response = as_user(guidance_admin).get(URL)
    assert response.status_code == 200
    assert "the only version" in response.content.decode()


@pytest.mark.parametrize("value", ["99", "0", "-1", "x", "99999999999999999999", "1" * 5000])
def test_a_version_that_does_not_exist_is_a_field_error_and_the_default_is_shown(
    as_user, guidance_admin, v1, v2, value
):
    response = as_user(guidance_admin).get(URL, {"version": value, "against": value})
    assert response.status_code == 200
    assert response.context["form"].errors["version"]
    assert (response.context["left"], response.context["right"]) == (v1, v2)
    assert "The default is shown." in response.content.decode()


def test_an_unknown_rule_code_is_not_found(as_user, guidance_admin):
    url = reverse("guidance:rule_compare", args=["NO-SUCH-RULE"])
    assert as_user(guidance_admin).get(url).status_code == 404


def test_a_superuser_compares_versions(as_user, superuser, v1, v2):
    assert as_user(superuser).get(URL).status_code == 200


@pytest.mark.parametrize("role", ["clinician", "staff", "outsider"])
def test_other_roles_are_refused_and_see_nothing_of_the_rule(request, as_user, v1, v2, role):
    response = as_user(request.getfixturevalue(role)).get(URL, {"version": 2, "against": 1})
    assert response.status_code == 403
    page = response.content.decode()
    assert v1.title not in page
    assert "age_years" not in page
    assert "MED-DOPAMINE-AGONIST" not in page


def test_someone_not_signed_in_is_sent_to_sign_in(client, v1, v2):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert v1.title not in response.content.decode()


def test_the_comparison_runs_a_pinned_number_of_queries(
    as_user, guidance_admin, v1, v2, django_assert_num_queries
):
    for n in range(3, 9):  # more versions than shown: still one query for them
        new_version(v1, guidance_admin, title=f"Title {n}")
    client = as_user(guidance_admin)
    client.get(URL)  # the session and the permissions, cached after the first request
    with django_assert_num_queries(3):  # session, user, every version of the rule
        response = client.get(URL, {"version": 8, "against": 2})
    assert response.status_code == 200


def test_the_rule_page_links_to_the_comparison(as_user, guidance_admin, v1, v2):
    page = as_user(guidance_admin).get(v2.get_absolute_url()).content.decode()
    assert f'href="{URL}?version=2">Compare versions</a>' in page
    assert f'href="{URL}?version=2&amp;against=1">Compare v2 with v1, side by side</a>' in page
