"""The admin shows clinical records and their history; nobody rewrites them there."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.test import Client
from django.urls import reverse

from guidance.models import Decision, Evaluation, Recommendation, Rule
from patients.models import Assessment, FollowUp, Patient
from tests.base import PASSWORD, make_patient, record


@pytest.fixture
def decided(as_user, clinician):
    """A patient with an assessment, its cards, and one accepted card."""
    patient = make_patient()
    client = as_user(clinician)
    record(client, patient)
    card = Recommendation.objects.get(rule_code="LIFE-SLEEP")
    client.post(
        reverse("guidance:decide", args=[card.uuid]),
        {"status": "accepted", "expected_version": card.version},
    )
    return patient


def history_form(model, obj):
    record = obj.history.order_by("history_id").first()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_simple_history"
    return reverse(name, args=[obj.pk, record.history_id])


def test_a_superuser_cannot_revert_a_rule_from_its_history_page(as_user, superuser, decided):
    old = Rule.objects.active().get(code="LIFE-SLEEP")
    rule = Rule(code=old.code, test_cases=old.test_cases, condition=old.condition)
    for name in ["title", "detail", "category", "indicator", "source", "evidence"]:
        setattr(rule, name, getattr(old, name))
    rule.save_as_new_version(by=superuser)
    rule.activate(by=superuser)
    client = as_user(superuser)
    url = history_form(Rule, rule)
    page = client.get(url)
    assert page.status_code == 200
    assert "Revert" not in page.content.decode()
    response = client.post(url, {"condition": "true", "title": "Rewritten", "status": "active"})
    assert response.status_code == 403
    rule.refresh_from_db()
    assert (rule.condition, rule.title) != ("true", "Rewritten")
    assert rule.history.count() == 2  # created, activated: nothing from the admin


def test_a_superuser_cannot_accept_a_card_from_its_history_page(as_user, superuser, decided):
    card = Recommendation.objects.get(rule_code="LIFE-EXERCISE")
    response = as_user(superuser).post(
        history_form(Recommendation, card), {"status": "accepted", "still_fires": "on"}
    )
    assert response.status_code == 403
    card.refresh_from_db()
    assert card.status == "pending"
    assert not card.decisions.exists()


@pytest.mark.parametrize("model", [Patient, Assessment, Recommendation, Rule, FollowUp])
def test_clinical_records_cannot_be_changed_in_the_admin(as_user, superuser, decided, model):
    if model is FollowUp:
        FollowUp.objects.create(patient=decided, due_date="2030-01-01", scheduled_by=superuser)
    obj = model.objects.first()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    client = as_user(superuser)
    before = model.objects.filter(pk=obj.pk).values().get()
    assert client.get(reverse(f"{name}_changelist")).status_code == 200
    assert client.get(reverse(f"{name}_add")).status_code == 403
    assert client.post(reverse(f"{name}_change", args=[obj.pk]), {}).status_code == 403
    assert client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).values().get() == before


@pytest.mark.parametrize("model", [Decision, Evaluation, Recommendation, Assessment, Patient])
def test_history_pages_of_the_audit_trail_open(as_user, superuser, decided, model):
    obj = model.objects.first()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_history"
    assert as_user(superuser).get(reverse(name, args=[obj.pk])).status_code == 200


@pytest.mark.parametrize("model", [AccessAttempt, AccessLog, AccessFailureLog])
def test_sign_in_records_cannot_be_changed_or_deleted_in_the_admin(
    as_user, superuser, clinician, model
):
    """django-axes' records are evidence of guessing: read-only like the other audit."""
    client = as_user(superuser)
    Client().post(reverse("login"), {"username": "clinician", "password": PASSWORD})  # a log
    for _ in range(2):  # an attempt
        Client().post(reverse("login"), {"username": "clinician", "password": "wrong"})
    if model is AccessFailureLog:
        model.objects.create(username="clinician", ip_address="192.0.2.1", locked_out=False)
    obj = model.objects.first()
    assert obj is not None
    before = list(model.objects.values())
    name = f"admin:axes_{model._meta.model_name}"
    changelist = client.get(reverse(f"{name}_changelist"))
    assert changelist.status_code == 200
    assert "action-select" not in changelist.content.decode()  # no bulk delete or clean-up
    assert client.get(reverse(f"{name}_add")).status_code == 403
    assert client.post(reverse(f"{name}_change", args=[obj.pk]), {}).status_code == 403
    assert client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    client.post(reverse(f"{name}_changelist"), bulk)
    assert list(model.objects.values()) == before
