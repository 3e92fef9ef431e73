"""Two sessions saving the same record at the same moment, on PostgreSQL: one wins, the
other is told, and nothing is lost silently."""

import threading

import pytest
from django.db import connection, connections

from guidance.default_rules import load_default_rules
from guidance.models import Recommendation, Rule
from guidance.services import evaluate_assessment
from patients.models import EditConflict, Patient
from tests.base import CRITERIA_MET, make_assessment, make_patient, make_user

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks and real concurrency: PostgreSQL"
    ),
]


def race(*actions):
    """Run the actions in threads released together; return what each returned or raised."""
    start = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        try:
            start.wait()
            outcomes[index] = action()
        except Exception as error:  # the point is to see what each side got
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_people_saving_the_same_patient_one_wins_and_the_other_is_told():
    patient = make_patient(phone="", notes="")

    def edit(**changes):
        def action():
            mine = Patient.objects.get(pk=patient.pk)  # both loaded version 1
            for name, value in changes.items():
                setattr(mine, name, value)
            mine.save_edit(expected_version=1)
            return "saved"

        return action

    outcomes = race(edit(phone="0100 000001"), edit(notes="second editor"))
    assert sorted(map(type, outcomes), key=str) == sorted([str, EditConflict], key=str)
    patient.refresh_from_db()
    assert patient.version == 2
    winner = outcomes.index("saved")
    assert (patient.phone, patient.notes) == [("0100 000001", ""), ("", "second editor")][winner]


def test_two_clinicians_deciding_the_same_card_one_wins_and_the_other_is_told():
    load_default_rules(Rule)  # transactional tests start from a flushed database
    clinician = make_user("c1", "Clinicians")
    other = make_user("c2", "Clinicians")
    assessment = make_assessment(make_patient(), clinician, **CRITERIA_MET)
    evaluate_assessment(assessment=assessment)
    card = Recommendation.objects.filter(assessment=assessment).first()

    def decide(status, by):
        def action():
            mine = Recommendation.objects.get(pk=card.pk)
            return mine.decide(status=status, by=by, expected_version=1)

        return action

    outcomes = race(decide("accepted", clinician), decide("deferred", other))
    assert sum(isinstance(o, EditConflict) for o in outcomes) == 1, outcomes
    card.refresh_from_db()
    assert card.version == 2
    assert card.decisions.count() == 1
    assert card.status == card.decisions.get().status


def test_two_versions_of_a_rule_activated_at_the_same_moment_leave_exactly_one_active():
    """Rule.activate used to lock only the active row: the second activation waited for
    it, then found no active row left to retire and broke the one-active-version
    constraint (16 of 16 trials). It now locks every version of the code first."""
    admin = make_user("g1", "Guidance admins")
    for trial in range(4):
        code = f"RACE-{trial}"
        versions = [
            Rule.objects.create(
                code=code,
                version=number,
                status="active" if number == 1 else "draft",
                title="Race",
                detail="Two admins activate at once.",
                category="diagnosis",
                indicator="info",
                condition="rls_criteria_met",
                source="test",
                evidence="U",
                test_cases=[{"name": "met", "facts": {"rls_criteria_met": True}, "fires": True}],
            )
            for number in (1, 2, 3)
        ]

        def activate(rule):
            def action():
                Rule.objects.get(pk=rule.pk).activate(by=admin)
                return rule.version

            return action

        outcomes = race(activate(versions[1]), activate(versions[2]))
        assert set(outcomes) == {2, 3}, outcomes  # both activations went through
        active = Rule.objects.of(code).active()
        assert active.count() == 1
        assert Rule.objects.of(code).get(version=1).status == "retired"
        loser = ({2, 3} - {active.get().version}).pop()
        assert Rule.objects.of(code).get(version=loser).status == "retired"
