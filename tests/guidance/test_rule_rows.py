"""The rule editor's test cases as rows: a fact picked from the table, a value checked
against the fact's type and range, fires or not; the JSON as the advanced view."""

import json

import pytest
from django.urls import reverse

from clinic.forms.rules import RuleForm
from guidance.default_rules import DEFAULT_RULES
from guidance.models import Rule
from tests.base import resubmit
from tests.robustness.test_hostile_replay import POST_CLASSES, value_for

pytestmark = pytest.mark.django_db


def edit_url(rule):
    return reverse("guidance:rule_edit", args=[rule.code, rule.version])


def shown(form) -> dict:
    """What a browser posts back from the rule form as shown: its fields, and every row
    of the test cases with the management forms of the rows and of each case's facts."""
    data = resubmit(form)
    rows = form.case_rows
    data |= {field.html_name: str(field.value()) for field in rows.management_form}
    for case in rows:
        data |= resubmit(case)
        data |= {field.html_name: str(field.value()) for field in case.facts.management_form}
        for pair in case.facts:
            data |= resubmit(pair)
    data["change_note"] = "Rows"
    return data


def page_form(client, rule):
    response = client.get(edit_url(rule))
    assert response.status_code == 200
    return response.context["form"]


@pytest.fixture
def respiratory(db):
    return Rule.objects.get(code="SAFE-GABA-RESPIRATORY", version=1)


@pytest.fixture
def cbt(db):
    return Rule.objects.get(code="CBT-ANXIETY", version=1)


def saved_versions(rule):
    return Rule.objects.filter(code=rule.code).count()


def test_an_existing_rules_test_cases_are_shown_as_rows(as_user, guidance_admin, respiratory):
    client = as_user(guidance_admin)
    response = client.get(edit_url(respiratory))
    rows = response.context["form"].case_rows
    cases = respiratory.test_cases
    assert rows.initial_form_count() == len(cases) == 8
    page = response.content.decode()
    first = cases[0]
    assert f'name="cases-0-name" value="{first["name"]}"' in page
    for number, (name, value) in enumerate(first["facts"].items()):
        assert f'<option value="{name}" selected>{name}</option>' in page
        assert f'name="cases-0-facts-{number}-value" value="{json.dumps(value)}"' in page
    assert 'name="cases-0-fires" value="yes"' in page
    assert 'id="id_cases-0-fires_0" checked' in page  # "fires"
    # Blank rows to add a case, and a fact to each case, without JavaScript.
    assert rows.total_form_count() == len(cases) + 2
    assert "More rows (nothing is saved)" in page


@pytest.mark.parametrize("code", [rule["code"] for rule in DEFAULT_RULES])
def test_every_default_rules_cases_come_back_the_same_through_the_rows_and_the_json(code):
    rule = Rule.objects.get(code=code, version=1)
    initial = {name: getattr(rule, name) for name in RuleForm.Meta.fields}
    shown_form = RuleForm(initial=initial, instance=Rule(code=code), code_fixed=True)
    as_rows = RuleForm(shown(shown_form) | {"cases_from": "rows"}, initial=initial, code_fixed=True)
    assert as_rows.is_valid(), as_rows.errors
    as_json = RuleForm(shown(shown_form) | {"cases_from": "json"}, initial=initial, code_fixed=True)
    assert as_json.is_valid(), as_json.errors
    assert as_rows.cleaned_data["test_cases"] == as_json.cleaned_data["test_cases"]
    assert as_rows.cleaned_data["test_cases"] == rule.test_cases


def test_cases_edited_as_rows_are_saved_as_the_test_cases(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt))
    data["condition"] = "gad7_total != null and gad7_total >= 12"
    # Case 1 ("GAD-7 10") becomes GAD-7 12; case 2 stays; a new case in the first blank row.
    data["cases-0-name"] = "GAD-7 12"
    data["cases-0-facts-0-value"] = "12"
    data["cases-2-name"] = "GAD-7 11, on an SSRI, no labs"
    data["cases-2-facts-0-fact"] = "gad7_total"
    data["cases-2-facts-0-value"] = " 11 "
    data["cases-2-facts-1-fact"] = "on_serotonergic_antidepressant"
    data["cases-2-facts-1-value"] = "true"
    data["cases-2-fires"] = "no"
    response = client.post(edit_url(cbt), data)
    assert response.status_code == 302
    v2 = Rule.objects.get(code="CBT-ANXIETY", version=2)
    assert v2.test_cases == [
        {"name": "GAD-7 12", "facts": {"gad7_total": 12}, "fires": True},
        {"name": "GAD-7 9", "facts": {"gad7_total": 9}, "fires": False},
        {
            "name": "GAD-7 11, on an SSRI, no labs",
            "facts": {"gad7_total": 11, "on_serotonergic_antidepressant": True},
            "fires": False,
        },
    ]
    assert all(case.passed for case in v2.run_cases())
    assert (
        client.post(reverse("guidance:rule_activate", args=["CBT-ANXIETY", 2])).status_code == 302
    )
    assert Rule.objects.active().get(code="CBT-ANXIETY").version == 2


@pytest.mark.parametrize(
    ("fact", "text", "value"),
    [
        ("pregnant", "false", False),
        ("pregnant", "Yes", True),
        ("ferritin_ng_ml", "null", None),
        ("ferritin_ng_ml", "75.5", 75.5),
        ("age_years", "65", 65),
        ("irls_change", "-5", -5),
        ("sex", "male", "male"),
        ("kratom_product", "seven_oh", "seven_oh"),
        ("withdrawal_window", "null", None),
        ("last_dose_at", "2026-11-20T21:30", "2026-11-20T21:30"),
        ("irls_total", "11.0", 11.0),
    ],
)
def test_each_kind_of_value_a_fact_takes_is_saved_as_json_holds_it(
    as_user, guidance_admin, cbt, fact, text, value
):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {
        "cases-2-name": "new",
        "cases-2-facts-0-fact": fact,
        "cases-2-facts-0-value": text,
        "cases-2-fires": "no",
    }
    assert client.post(edit_url(cbt), data).status_code == 302
    saved = Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases[2]
    assert saved == {"name": "new", "facts": {fact: value}, "fires": False}


BAD_VALUES = [
    ("irls_total", "41", "value", "41 is out of range; allowed: 0 to 40"),
    ("irls_total", "11.5", "value", "must be a whole number"),
    ("irls_total", "eleven", "value", "&#x27;eleven&#x27; is not a number"),
    ("tsat_percent", "-1", "value", "-1 is out of range; allowed: 0 to 100 %"),
    ("tsat_percent", "NaN", "value", "is not a number"),
    ("tsat_percent", "inf", "value", "is not a number"),
    ("tsat_percent", "1e999", "value", "must be a finite number"),
    ("tsat_percent", "1_000", "value", "is not a number"),
    ("tsat_percent", "0x10", "value", "is not a number"),
    ("tsat_percent", "٣", "value", "is not a number"),  # an Arabic-Indic 3
    ("tsat_percent", "1" * 41, "value", "at most 40 characters"),
    ("tsat_percent", "1\x00", "value", "Null characters are not allowed"),
    ("age_years", "11", "value", "11 is out of range; allowed: 12 to 120 years"),
    ("age_years", "null", "value", "age_years: is never empty (null)"),
    ("pregnant", "null", "value", "pregnant: is never empty (null)"),
    ("pregnant", "maybe", "value", "give true or false"),
    ("pregnant", "1", "value", "give true or false"),
    ("sex", "f", "value", "sex: &#x27;f&#x27; is not allowed"),
    ("kratom_product", "Extract", "value", "allowed: leaf_powder, capsules, extract"),
    ("withdrawal_window", "subsided", "value", "is not allowed"),
    ("last_dose_at", "yesterday", "value", "is not an ISO 8601 date and time"),
    ("ferritin_ng_ml", "", "value", "Give a value: a number, 0 to 5000 ng/mL, or null."),
    ("", "12", "fact", "Pick the fact this value is for."),
    ("gad7_totl", "12", "fact", "Select a valid choice. gad7_totl is not one of"),
    ("<script>", "12", "fact", "Select a valid choice. &lt;script&gt;"),
]


@pytest.mark.parametrize(("fact", "text", "field", "message"), BAD_VALUES)
def test_a_value_the_fact_cannot_take_is_refused_on_its_field_and_nothing_is_saved(
    as_user, guidance_admin, cbt, fact, text, field, message
):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {
        "cases-0-facts-1-fact": fact,
        "cases-0-facts-1-value": text,
    }
    response = client.post(edit_url(cbt), data)
    assert response.status_code == 200
    pair = response.context["form"].case_rows[0].facts[1]
    assert any(message in error for error in [str(e) for e in pair.errors[field]]) or (
        message in response.content.decode()
    )
    assert message in response.content.decode()
    assert "Nothing has been saved" in response.content.decode()
    assert saved_versions(cbt) == 1


def test_a_fact_given_twice_in_a_case_is_refused_on_the_second(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {
        "cases-0-facts-1-fact": "gad7_total",
        "cases-0-facts-1-value": "11",
    }
    response = client.post(edit_url(cbt), data)
    facts = response.context["form"].case_rows[0].facts
    assert facts[1].errors["fact"] == ["gad7_total is given twice in this case."]
    assert not facts[0].errors
    assert saved_versions(cbt) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"cases-2-name": "no answer", "cases-2-facts-0-fact": "pregnant",
          "cases-2-facts-0-value": "true"}, "fires", "Say whether the rule should fire"),
        ({"cases-2-facts-0-fact": "pregnant", "cases-2-facts-0-value": "true"},
         "fires", "Say whether the rule should fire"),
        ({"cases-0-fires": "maybe"}, "fires", "Select a valid choice"),
        ({"cases-0-name": "x" * 201}, "name", "at most 200 characters"),
        ({"cases-0-name": "a\x00b"}, "name", "Null characters are not allowed"),
    ],
)  # fmt: skip
def test_a_case_without_its_answer_or_with_a_bad_name_is_refused(
    as_user, guidance_admin, cbt, changes, field, message
):
    client = as_user(guidance_admin)
    response = client.post(edit_url(cbt), shown(page_form(client, cbt)) | changes)
    assert response.status_code == 200
    case = response.context["form"].case_rows[int(next(iter(changes)).split("-")[1])]
    assert any(message in error for error in case.errors[field])
    assert saved_versions(cbt) == 1


def test_a_case_ticked_remove_is_left_out(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {"cases-1-DELETE": "on", "cases-1-facts-0-value": "x"}
    assert client.post(edit_url(cbt), data).status_code == 302
    assert Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases == cbt.test_cases[:1]


def test_a_fact_row_left_empty_is_no_fact(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {
        "cases-0-facts-0-fact": "",
        "cases-0-facts-0-value": "",
    }
    assert client.post(edit_url(cbt), data).status_code == 302
    assert Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases[0]["facts"] == {}


def test_at_most_50_cases_are_taken_as_rows(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    cases = [{"name": f"c{n}", "facts": {}, "fires": False} for n in range(50)]
    cbt_like = RuleForm(
        initial={**{n: getattr(cbt, n) for n in RuleForm.Meta.fields}, "test_cases": cases},
        code_fixed=True,
    )
    data = shown(cbt_like) | {"cases-50-name": "one more", "cases-50-fires": "no"}
    data |= {"cases-50-facts-TOTAL_FORMS": "0", "cases-50-facts-INITIAL_FORMS": "0"}
    data["cases-TOTAL_FORMS"] = "51"
    response = client.post(edit_url(cbt), data)
    assert "51 test cases: at most 50 are allowed." in response.content.decode()
    assert saved_versions(cbt) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"cases-TOTAL_FORMS": "99999999999999999999"},
        {"cases-TOTAL_FORMS": "100000"},
        {"cases-TOTAL_FORMS": "-1"},
        {"cases-0-facts-TOTAL_FORMS": "1000000"},
        {"cases-0-facts-INITIAL_FORMS": "x"},
        {"cases-0-facts-TOTAL_FORMS": None},
        {"cases-TOTAL_FORMS": None, "cases_from": "rows"},
    ],
)
def test_tampered_row_counts_are_refused_not_a_server_error(as_user, guidance_admin, cbt, changes):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | changes
    data = {key: value for key, value in data.items() if value is not None}
    response = client.post(edit_url(cbt), data)
    assert response.status_code == 200
    assert "Nothing has been saved" in response.content.decode()
    assert saved_versions(cbt) == 1


# Which view is saved


def test_the_json_is_saved_when_it_is_chosen_and_the_rows_are_not_read(
    as_user, guidance_admin, cbt
):
    client = as_user(guidance_admin)
    cases = [{"name": "GAD-7 21", "facts": {"gad7_total": 21}, "fires": True}]
    data = shown(page_form(client, cbt)) | {
        "cases_from": "json",
        "test_cases": json.dumps(cases),
        "cases-0-facts-0-value": "not a number",  # a bad row, not read
    }
    assert client.post(edit_url(cbt), data).status_code == 302
    assert Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases == cases


def test_the_rows_are_saved_when_they_are_chosen_and_the_json_is_not_read(
    as_user, guidance_admin, cbt
):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {
        "cases_from": "rows",
        "test_cases": '[{"facts": {"tsat_percent": NaN}, "fires": true}]',  # not read
        "cases-1-fires": "yes",
    }
    assert client.post(edit_url(cbt), data).status_code == 302
    saved = Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases
    assert saved == [cbt.test_cases[0], {**cbt.test_cases[1], "fires": True}]


def test_a_post_with_rows_and_no_choice_is_read_from_the_rows(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt))
    del data["cases_from"]
    data["test_cases"] = "not json"
    data["cases-0-facts-0-value"] = "11"
    assert client.post(edit_url(cbt), data).status_code == 302
    assert Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases[0]["facts"] == {
        "gad7_total": 11
    }


def test_a_json_error_shows_on_the_json_when_it_is_chosen(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {"cases_from": "json", "test_cases": "[{"}
    response = client.post(edit_url(cbt), data)
    assert "Not valid JSON" in str(response.context["form"].errors["test_cases"])
    assert '<details class="json-view" open>' in response.content.decode()
    assert saved_versions(cbt) == 1


def test_after_a_refusal_elsewhere_the_json_shows_what_the_rows_hold(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {"cases-0-facts-0-value": "15", "title": ""}
    data["test_cases"] = "stale"
    response = client.post(edit_url(cbt), data)
    assert response.context["form"].errors["title"]
    shown_json = json.loads(response.context["form"]["test_cases"].value())
    assert shown_json[0]["facts"] == {"gad7_total": 15}


def test_after_a_refusal_elsewhere_the_rows_show_what_the_json_holds(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    cases = [{"name": "only", "facts": {"gad7_total": 3}, "fires": False}]
    data = shown(page_form(client, cbt)) | {
        "cases_from": "json",
        "test_cases": json.dumps(cases),
        "title": "",
    }
    response = client.post(edit_url(cbt), data)
    rows = response.context["form"].case_rows
    assert [form.initial for form in rows.initial_forms] == [
        {"name": "only", "fires": "no", "facts": {"gad7_total": 3}}
    ]


# More rows, without JavaScript


def test_more_rows_adds_blank_rows_keeps_what_was_typed_and_saves_nothing(
    as_user, guidance_admin, cbt
):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {
        "more_rows": "1",
        "title": "A new title",
        "cases-2-name": "typed",
        "cases-2-facts-0-fact": "pregnant",
        "cases-2-facts-0-value": "true",
        "cases-2-fires": "yes",
    }
    response = client.post(edit_url(cbt), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert not form.is_bound
    assert not form.errors
    assert form["title"].value() == "A new title"
    assert form.case_rows.initial_form_count() == 3
    assert form.case_rows.total_form_count() == 3 + 5
    assert form.case_rows[2].facts.total_form_count() == 1 + 5
    assert json.loads(form["test_cases"].value())[2] == {
        "name": "typed",
        "facts": {"pregnant": True},
        "fires": True,
    }
    assert saved_versions(cbt) == 1


def test_more_rows_turns_the_json_into_rows(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    cases = [{"name": "from JSON", "facts": {"gad7_total": 3}, "fires": False}]
    data = shown(page_form(client, cbt)) | {
        "more_rows": "1",
        "cases_from": "json",
        "test_cases": json.dumps(cases),
    }
    form = client.post(edit_url(cbt), data).context["form"]
    assert form.case_rows.initial_form_count() == 1
    assert form.case_rows[0]["name"].value() == "from JSON"
    assert form["cases_from"].value() == "rows"
    assert saved_versions(cbt) == 1


def test_more_rows_with_a_bad_row_shows_the_error_and_saves_nothing(as_user, guidance_admin, cbt):
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt)) | {"more_rows": "1", "cases-0-facts-0-value": "99"}
    response = client.post(edit_url(cbt), data)
    assert "99 is out of range" in response.content.decode()
    assert saved_versions(cbt) == 1


def test_the_create_form_starts_with_blank_rows_and_saves_a_rule_from_them(as_user, guidance_admin):
    client = as_user(guidance_admin)
    form = client.get(reverse("guidance:rule_create")).context["form"]
    assert form.case_rows.total_form_count() == 2
    data = shown(form) | {
        "code": "iron-recheck",
        "title": "Recheck iron studies",
        "detail": "Recheck during therapy.",
        "category": "iron",
        "indicator": "info",
        "kind": "option",
        "condition": "rls_criteria_met and ferritin_ng_ml != null",
        "source": "clinical-reference.md 6.4",
        "evidence": "V2",
        "cases-0-name": "known",
        "cases-0-facts-0-fact": "rls_criteria_met",
        "cases-0-facts-0-value": "true",
        "cases-0-facts-1-fact": "ferritin_ng_ml",
        "cases-0-facts-1-value": "50",
        "cases-0-fires": "yes",
        "cases-1-facts-0-fact": "rls_criteria_met",
        "cases-1-facts-0-value": "true",
        "cases-1-fires": "no",
    }
    assert client.post(reverse("guidance:rule_create"), data).status_code == 302
    assert Rule.objects.get(code="IRON-RECHECK").test_cases == [
        {"name": "known", "facts": {"rls_criteria_met": True, "ferritin_ng_ml": 50}, "fires": True},
        {"facts": {"rls_criteria_met": True}, "fires": False},
    ]


# Kind and qualified options


def test_an_edit_that_does_not_post_the_kind_keeps_the_cautions_kind_and_options(
    as_user, guidance_admin, respiratory
):
    client = as_user(guidance_admin)
    data = shown(page_form(client, respiratory))
    del data["kind"], data["qualifies"]
    assert client.post(edit_url(respiratory), data).status_code == 302
    v2 = Rule.objects.get(code=respiratory.code, version=2)
    assert (v2.kind, v2.qualifies) == ("caution", ["MED-GABAPENTINOID"])


def test_the_options_a_caution_qualifies_are_edited_as_codes(as_user, guidance_admin, respiratory):
    client = as_user(guidance_admin)
    data = shown(page_form(client, respiratory)) | {
        "qualifies": "med-gabapentinoid, MED-DOPAMINE-AGONIST"
    }
    assert client.post(edit_url(respiratory), data).status_code == 302
    assert Rule.objects.get(code=respiratory.code, version=2).qualifies == [
        "MED-GABAPENTINOID",
        "MED-DOPAMINE-AGONIST",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"qualifies": "NO-SUCH-RULE"}, "Not the code of an option: NO-SUCH-RULE."),
        ({"qualifies": "SAFE-PREGNANCY"}, "Not the code of an option: SAFE-PREGNANCY."),
        ({"qualifies": "MED GABAPENTINOID; DROP"}, "is not a rule code"),
        ({"kind": "option"}, "Only a caution qualifies options"),
        ({"kind": "rule"}, "Select a valid choice"),
    ],
)
def test_bad_qualified_options_are_refused(as_user, guidance_admin, respiratory, changes, message):
    client = as_user(guidance_admin)
    response = client.post(edit_url(respiratory), shown(page_form(client, respiratory)) | changes)
    assert message in response.content.decode().replace("&#x27;", "'")
    assert saved_versions(respiratory) == 1


@pytest.mark.parametrize("value_class", list(POST_CLASSES))
def test_hostile_values_in_every_row_are_refused_not_a_server_error(
    as_user, guidance_admin, cbt, value_class
):
    """The hostile replay's value classes (tests/robustness), in every field of every row."""
    client = as_user(guidance_admin)
    data = shown(page_form(client, cbt))
    kinds = {"name": "text", "fact": "choice", "value": "text", "fires": "choice"}
    for key in list(data):
        kind = kinds.get(key.rsplit("-", 1)[-1])
        if key.startswith("cases-") and kind:
            data[key] = value_for(POST_CLASSES[value_class], kind)
    response = client.post(edit_url(cbt), data)
    if value_class == "empty":  # every row left blank: no test cases, a draft that cannot go live
        assert response.status_code == 302
        assert Rule.objects.get(code="CBT-ANXIETY", version=2).test_cases == []
    else:
        assert response.status_code == 200
        assert saved_versions(cbt) == 1
