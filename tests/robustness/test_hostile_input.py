"""Property-based fuzzing: hostile values through the real forms and the evaluate command.

Whatever arrives, the answer is a page with field errors (200) or a successful save
(302), never a server error, and a failed save leaves nothing behind.
"""

import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guidance.models import Recommendation
from patients.facts import FACTS
from patients.models import Assessment, FollowUp, Patient
from patients.scales import ITEMS
from tests.base import VALID, make_patient

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "1e309",
        "-1e309",
        "NaN",
        "nan",
        "inf",
        "-0",
        "99999999999999999999999999",
        "-99999999999999999999999999",
        "0x1F",
        "1_000",
        "٣",  # Arabic-Indic digit three
        "½",
        "<script>alert(1)</script>",
        "'; DROP TABLE patients_patient; --",
        '" OR 1=1 --',
        "Ω≈ç√∫˜µ≤≥÷",
        "😀" * 50,
        "a" * 5000,
        "\u202egnp.exe",
        "2026-02-30",
        "2026-11-26T25:00",
        "9999-12-31",
        "0001-01-01",
        "true",
        "on",
        "null",
    ]
) | st.text(max_size=40)

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PATIENT_FIELDS = [
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "notes",
]
ASSESSMENT_FIELDS = [
    "assessed_at",
    "last_dose_at",
    *[fact.name for fact in FACTS if fact.name in VALID or fact.type == "bool"],
    *ITEMS,
    "mimics",
    "notes",
]
FOLLOWUP_FIELDS = [
    "outcome",
    "happened_on",
    "missed_reason",
    "next_due_date",
    "next_kind",
    *[k for k in ITEMS if not k.startswith("gad7")],
    "notes",
    "side_effects",
]


def hostile_changes(fields):
    return st.dictionaries(
        st.sampled_from(fields), HOSTILE_TEXT | st.lists(HOSTILE_TEXT, max_size=3), max_size=6
    )


def post(client, url, data):
    response = client.post(url, data)
    assert response.status_code in (200, 302), response.status_code
    return response


@FUZZ
@given(changes=hostile_changes(PATIENT_FIELDS))
def test_the_patient_form_never_errors_and_never_half_saves(as_user, clinician, changes):
    client = as_user(clinician)
    before = Patient.objects.count()
    data = {
        "mrn": "FUZZ-1",
        "given_name": "Fuzz",
        "family_name": "Tester",
        "date_of_birth": "1980-01-01",
        "sex": "other",
    } | changes
    response = post(client, reverse("patients:create"), data)
    if response.status_code == 302:
        patient = Patient.objects.latest("pk")
        patient.full_clean(exclude=["mrn"])  # what was saved is valid
        patient.delete()  # keep the MRN free for the next example
    else:
        assert response.context["form"].errors
        assert Patient.objects.count() == before


@FUZZ
@given(changes=hostile_changes(ASSESSMENT_FIELDS))
def test_the_assessment_form_never_errors_and_never_half_saves(as_user, clinician, changes):
    client = as_user(clinician)
    patient = Patient.objects.filter(mrn="FUZZ-A").first() or make_patient(mrn="FUZZ-A")
    before = (Assessment.objects.count(), Recommendation.objects.count())
    response = post(
        client, reverse("patients:assessment_create", args=[patient.uuid]), VALID | changes
    )
    if response.status_code == 302:
        assessment = Assessment.objects.latest("pk")
        assert (
            assessment.scores()["irls"] is None
            or assessment.irls_total == assessment.scores()["irls"].total
        )
        assert (
            Recommendation.objects.filter(assessment=assessment).exists()
            or not assessment.facts()["rls_criteria_met"]
        )
    else:
        assert response.context["form"].errors
        assert (Assessment.objects.count(), Recommendation.objects.count()) == before


@FUZZ
@given(changes=hostile_changes(FOLLOWUP_FIELDS))
def test_the_follow_up_form_never_errors_and_never_half_saves(as_user, staff, changes):
    client = as_user(staff)
    patient = Patient.objects.filter(mrn="FUZZ-F").first() or make_patient(mrn="FUZZ-F")
    followup = FollowUp.objects.create(
        patient=patient, due_date=date(2026, 11, 26), scheduled_by=staff
    )
    before = FollowUp.objects.count()
    # Today: the contact cannot be before the follow-up was scheduled (just now).
    today = timezone.localdate().isoformat()
    data = {"outcome": "completed", "happened_on": today, "expected_version": 1} | changes
    response = post(client, reverse("patients:followup_record", args=[followup.uuid]), data)
    followup.refresh_from_db()
    if response.status_code == 302:
        assert followup.status in ("completed", "missed")
    else:
        assert followup.status == "scheduled"
        assert FollowUp.objects.count() == before


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | HOSTILE_TEXT,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
FACT_KEYS = [fact.name for fact in FACTS] + list(ITEMS) + ["assessed_at", "junk", ""]


@FUZZ
@given(payload=st.dictionaries(st.sampled_from(FACT_KEYS), JSON_VALUES, max_size=8))
def test_evaluate_answers_every_input_with_json_or_exit_2(db, tmp_path_factory, payload):
    path = tmp_path_factory.mktemp("fuzz") / "facts.json"
    path.write_text(
        json.dumps(
            payload | {"age_years": payload.get("age_years", 40), "sex": payload.get("sex", "male")}
        )
    )
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("evaluate", str(path), stdout=out, stderr=err)
    except SystemExit as exit_:
        assert exit_.code == 2
        assert out.getvalue() == ""
        assert err.getvalue().strip()
        assert all(":" in line for line in err.getvalue().splitlines())
    else:
        result = json.loads(out.getvalue())
        assert set(result) == {"scores", "facts", "recommendations", "not_evaluated"}


@pytest.mark.parametrize(
    "raw", ['{"age_years": 40, "sex": "male", "sex": "female"}', '{"a":' * 5000]
)
def test_evaluate_survives_duplicated_keys_and_deep_nesting(db, tmp_path, raw):
    path = tmp_path / "facts.json"
    path.write_text(raw)
    out = io.StringIO()
    try:
        call_command("evaluate", str(path), stdout=out, stderr=io.StringIO())
    except SystemExit as exit_:
        assert exit_.code == 2
    else:
        assert json.loads(out.getvalue())["facts"]["sex"] == "female"  # the last one wins


def test_duplicated_form_fields_take_one_value_and_never_error(as_user, clinician):
    client = as_user(clinician)
    response = client.post(
        reverse("patients:create"),
        {
            "mrn": ["DUP-1", "DUP-2"],
            "given_name": "Two",
            "family_name": "Values",
            "date_of_birth": ["1980-01-01", "2099-01-01"],
            "sex": ["female", "nonsense"],
        },
    )
    assert response.status_code == 200  # the last values are used, and are invalid
    assert not Patient.objects.filter(given_name="Two").exists()
