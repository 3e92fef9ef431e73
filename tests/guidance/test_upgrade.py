"""A database that holds version 1 or version 2 of the default rules is brought to version 3
by the migrations: new versions of the changed codes, history kept, cards keep their
version, an admin's edits kept."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from guidance.default_rules import DEFAULT_RULES

BEFORE = [("guidance", "0003_historicaladherence_adherence")]
BEFORE_STRENGTH = [("guidance", "0007_dismissal")]
AFTER = [("guidance", "0009_default_rules_version_3")]
V1_RESPIRATORY = (
    "rls_criteria_met and irls_total != null and irls_total >= 11 and "
    "(on_opioid_agonist_treatment or uses_other_opioids or on_cns_depressant or "
    "respiratory_disease or age_years >= 65 or "
    "(hours_since_last_dose != null and hours_since_last_dose < 24))"
)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def every_app_migrated_afterwards():
    """Going back to guidance 0003 also unapplies the apps that depend on guidance
    (interop); the tests after this one need the whole schema back."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_a_version_1_database_gets_the_version_3_rules_as_new_versions():
    from guidance.default_rules import load_default_rules
    from guidance.models import Rule as CurrentRule

    load_default_rules(CurrentRule)  # an earlier transactional test may have flushed them
    # Version 1 as it was installed: without the monitoring rules (a category it did not
    # have), with the old breathing rule, and with one rule a guidance admin has reworded.
    CurrentRule.objects.filter(category="monitoring").delete()
    old = migrate(BEFORE)
    Rule = old.get_model("guidance", "Rule")
    Rule.objects.filter(code="SAFE-GABA-RESPIRATORY").update(
        condition=V1_RESPIRATORY, title="v1 title"
    )
    Rule.objects.filter(code="LIFE-DIET").update(
        title="Our clinic's wording", change_note="Reworded for our leaflets"
    )
    User = old.get_model("auth", "User")
    Patient = old.get_model("patients", "Patient")
    Assessment = old.get_model("patients", "Assessment")
    Recommendation = old.get_model("guidance", "Recommendation")
    clinician = User.objects.create(username="c")
    patient = Patient.objects.create(
        mrn="M1", given_name="A", family_name="B", date_of_birth="1980-01-01", sex="female"
    )
    assessment = Assessment.objects.create(patient=patient, assessed_by=clinician)
    v1 = Rule.objects.get(code="SAFE-GABA-RESPIRATORY")
    card = Recommendation.objects.create(assessment=assessment, rule=v1, rule_code=v1.code)

    new = migrate(AFTER)
    Rule = new.get_model("guidance", "Rule")
    active = {rule.code: rule for rule in Rule.objects.filter(status="active")}
    assert set(active) == {spec["code"] for spec in DEFAULT_RULES}

    respiratory = active["SAFE-GABA-RESPIRATORY"]
    assert respiratory.version == 2
    assert "hours_since_last_dose == null" in respiratory.condition
    assert (respiratory.kind, respiratory.qualifies) == ("caution", ["MED-GABAPENTINOID"])
    old_version = Rule.objects.get(code="SAFE-GABA-RESPIRATORY", version=1)
    assert (old_version.status, old_version.condition) == ("retired", V1_RESPIRATORY)
    assert new.get_model("guidance", "Recommendation").objects.get(pk=card.pk).rule_id == v1.pk

    assert active["TREND-IRLS-WORSE"].version == 1  # new codes start at version 1
    assert active["LIFE-DIET"].title == "Our clinic's wording"  # an admin's edit is kept
    assert active["LIFE-DIET"].strength == "not_graded"  # an option without a grade
    assert Rule.objects.filter(code="LIFE-DIET").count() == 1
    unchanged = active["LIFE-EXERCISE"]
    assert (unchanged.version, Rule.objects.filter(code="LIFE-EXERCISE").count()) == (1, 1)

    # Running it again changes nothing.
    from guidance.default_rules import load_default_rules

    assert load_default_rules(Rule) == 0


def v2_spec(spec: dict) -> dict:
    """A default rule as product.md version 2 had it: no strength, the aggravating-medicines
    caution standing alone, and neither SAFE-DA-RENAL nor WD-FIRST."""
    fields = {name: value for name, value in spec.items() if name != "strength"}
    if spec["code"] == "SAFE-AGGRAVATING-MEDS":
        fields["qualifies"] = []
    return fields


@pytest.mark.django_db(transaction=True)
def test_a_version_2_database_gets_the_version_3_rules_and_keeps_an_admins_edit():
    from guidance.models import Rule as CurrentRule

    CurrentRule.objects.all().delete()  # the version 2 set is written below, as it was
    old = migrate(BEFORE_STRENGTH)
    Rule = old.get_model("guidance", "Rule")
    for spec in DEFAULT_RULES:
        if spec["code"] not in ("SAFE-DA-RENAL", "WD-FIRST"):
            Rule.objects.create(
                version=1, status="active", change_note="Default rule", **v2_spec(spec)
            )
    Rule.objects.filter(code="MED-DOPAMINE-AGONIST").update(
        title="Our clinic's dopamine agonist wording", change_note="Reworded for our leaflets"
    )
    User = old.get_model("auth", "User")
    Patient = old.get_model("patients", "Patient")
    Assessment = old.get_model("patients", "Assessment")
    Recommendation = old.get_model("guidance", "Recommendation")
    patient = Patient.objects.create(
        mrn="M2", given_name="A", family_name="B", date_of_birth="1980-01-01", sex="female"
    )
    assessment = Assessment.objects.create(
        patient=patient, assessed_by=User.objects.create(username="c2")
    )
    v2_gabapentinoid = Rule.objects.get(code="MED-GABAPENTINOID")
    card = Recommendation.objects.create(
        assessment=assessment, rule=v2_gabapentinoid, rule_code="MED-GABAPENTINOID"
    )

    new = migrate(AFTER)
    Rule = new.get_model("guidance", "Rule")
    active = {rule.code: rule for rule in Rule.objects.filter(status="active")}
    assert set(active) == {spec["code"] for spec in DEFAULT_RULES}
    # New codes at version 1; changed ones as version 2, the old version retired and kept.
    assert (active["SAFE-DA-RENAL"].version, active["WD-FIRST"].version) == (1, 1)
    assert active["WD-FIRST"].qualifies == ["MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST"]
    aggravating = active["SAFE-AGGRAVATING-MEDS"]
    assert (aggravating.version, aggravating.strength) == (2, None)
    assert aggravating.qualifies == ["MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST"]
    gabapentinoid = active["MED-GABAPENTINOID"]
    assert (gabapentinoid.version, gabapentinoid.strength) == (2, "strong")
    assert Rule.objects.get(code="MED-GABAPENTINOID", version=1).status == "retired"
    assert new.get_model("guidance", "Recommendation").objects.get(pk=card.pk).rule_id == (
        v2_gabapentinoid.pk
    )
    # An option whose only change is its grade, now said: no new version.
    assert (active["LIFE-EXERCISE"].version, active["LIFE-EXERCISE"].strength) == (1, "not_graded")
    # An admin's wording is theirs: kept, not graded, not made "against standard use".
    agonist = active["MED-DOPAMINE-AGONIST"]
    assert (agonist.version, agonist.title) == (1, "Our clinic's dopamine agonist wording")
    assert agonist.strength == "not_graded"

    from guidance.default_rules import load_default_rules

    assert load_default_rules(Rule) == 0  # running it again changes nothing
