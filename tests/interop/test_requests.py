"""Malformed hook requests are refused with a 400 naming what is wrong, an unknown service
with a 404, a wrong method with a 405, a missing prefetch with a 412; a refused request
records nothing. A prefetch given as null means "no data": an answer with no cards."""

import json

import pytest

from interop.models import HookCall
from tests.interop.ehr import assert_outcome, hook_body, patient_resource

PATIENT_VIEW = "/cds-services/rls-patient-view"
ORDER_SELECT = "/cds-services/rls-order-select"


def without(data: dict, path: str) -> dict:
    """A copy of the body with the key at path ("context.userId") removed."""
    data = json.loads(json.dumps(data))
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    del target[last]
    return data


def changed(data: dict, path: str, value) -> dict:
    data = json.loads(json.dumps(data))
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    target[last] = value
    return data


VALID = hook_body(patient=patient_resource("RLS-0042"))

MALFORMED = {
    "not JSON": (b"{not json", "not JSON"),
    "NaN is not JSON": (b'{"hook": NaN}', "not JSON"),
    "not UTF-8": (b'{"hook": "\xff"}', "not JSON"),
    "a list, not an object": (b"[]", "JSON object"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    "another hook": (changed(VALID, "hook", "order-select"), "hook must be 'patient-view'"),
    "no hook": (without(VALID, "hook"), "hook must be"),
    "no hookInstance": (without(VALID, "hookInstance"), "hookInstance is required"),
    "hookInstance not a string": (changed(VALID, "hookInstance", 12345), "hookInstance"),
    "hookInstance not a UUID": (changed(VALID, "hookInstance", "abc"), "UUID"),
    "no context": (without(VALID, "context"), "context is required"),
    "context not an object": (changed(VALID, "context", "p1"), "context is required"),
    "no context.patientId": (without(VALID, "context.patientId"), "context.patientId"),
    "empty context.patientId": (changed(VALID, "context.patientId", " "), "context.patientId"),
    "no context.userId": (without(VALID, "context.userId"), "context.userId"),
    "context.userId not a string": (changed(VALID, "context.userId", 7), "context.userId"),
    "context.userId too long": (changed(VALID, "context.userId", "P" * 301), "longer"),
    "fhirAuthorization without fhirServer": (
        changed(without(VALID, "fhirServer"), "fhirAuthorization", {"access_token": "x"}),
        "without fhirServer",
    ),
    "fhirServer not a string": (changed(VALID, "fhirServer", 1), "fhirServer"),
    "fhirAuthorization not an object": (changed(VALID, "fhirAuthorization", "x"), "object"),
    "prefetch not an object": (changed(VALID, "prefetch", []), "prefetch must be"),
    "prefetch.patient a string": (changed(VALID, "prefetch.patient", "Patient/p1"), "patient"),
    # The finding: the prefetch's Patient won over context.patientId, unchecked.
    "prefetch.patient another patient's": (
        changed(VALID, "prefetch.patient.id", "p2"),
        "must be the Patient named by context.patientId",
    ),
    "prefetch.patient without an id": (
        without(VALID, "prefetch.patient.id"),
        "context.patientId",
    ),
    "prefetch.patient not a Patient": (
        changed(VALID, "prefetch.patient.resourceType", "Practitioner"),
        "context.patientId",
    ),
    "a lone surrogate": (
        json.dumps(VALID).replace("COREPRACTITIONER1", "\\ud800").encode(),
        "surrogate",
    ),
    "a lone low surrogate in a key": (
        json.dumps(VALID).replace('"context": {', '"context": {"\\udc00": 1, ').encode(),
        "surrogate",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_hook_request_is_a_400_and_records_nothing(client, ehr, case):
    body, says = MALFORMED[case]
    assert_outcome(ehr.post(client, PATIENT_VIEW, body), 400, says)
    assert not HookCall.objects.exists()


def test_a_prefetched_patient_that_is_not_the_contexts_is_logged_and_answered_with_nothing(
    client, ehr, seeded, caplog
):
    body = changed(VALID, "context.patientId", "p2")  # the prefetch still holds p1, ours
    assert_outcome(ehr.post(client, PATIENT_VIEW, body), 400, "context.patientId")
    assert not HookCall.objects.exists()
    (record,) = [r for r in caplog.records if r.name == "interop.hook_request"]
    assert record.levelname == "WARNING"
    assert body["hookInstance"] in record.getMessage()
    assert "RLS-0042" not in record.getMessage()


def test_a_body_over_a_megabyte_is_refused_unread(client, ehr):
    body = json.dumps({**VALID, "padding": "x" * 1_000_001})
    assert_outcome(ehr.post(client, PATIENT_VIEW, body), 400, "larger than")


@pytest.mark.parametrize(
    ("case", "body", "says"),
    [
        ("no draftOrders", hook_body("order-select", selections=[]), "draftOrders"),
        (
            "no selections",
            hook_body("order-select", draftOrders={"resourceType": "Bundle"}),
            "selections",
        ),
        (
            "selections not strings",
            hook_body("order-select", draftOrders={"resourceType": "Bundle"}, selections=[1]),
            "selections",
        ),
    ],
)
def test_order_select_needs_its_draft_orders_and_selections(client, ehr, case, body, says):
    assert_outcome(ehr.post(client, ORDER_SELECT, body), 400, says)


def test_an_unknown_service_is_a_404(client, ehr):
    path = "/cds-services/no-such-service"
    assert_outcome(ehr.post(client, path, VALID), 404, "no CDS service")
    assert_outcome(ehr.post(client, path + "/feedback", {"feedback": []}), 404)


def test_a_wrong_method_is_a_405_with_the_allowed_one(client, ehr):
    response = ehr.get(client, PATIENT_VIEW)
    assert_outcome(response, 405, "POST only")
    assert response["Allow"] == "POST"
    response = ehr.post(client, "/cds-services", {})
    assert_outcome(response, 405, "GET only")
    assert response["Allow"] == "GET"


def test_a_missing_patient_prefetch_is_a_412(client, ehr):
    body = without(VALID, "prefetch.patient")
    assert_outcome(ehr.post(client, PATIENT_VIEW, body), 412, "'patient' is missing")
    no_prefetch = without(VALID, "prefetch")
    assert_outcome(ehr.post(client, PATIENT_VIEW, no_prefetch), 412, "'patient'")
    assert not HookCall.objects.exists()


def test_a_missing_prefetch_with_fhir_access_is_answered_as_no_data_and_nothing_is_fetched(
    client, ehr, seeded, monkeypatch
):
    """FHIR access given: not a 412. The service never fetches from the request's
    fhirServer (no outgoing connection is opened), so the patient is unknown: no cards."""
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the service opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    body = changed(without(VALID, "prefetch.patient"), "fhirAuthorization", {"access_token": "t"})
    response = ehr.post(client, PATIENT_VIEW, body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    assert HookCall.objects.get().patient is None


def test_a_null_patient_prefetch_means_no_data_no_cards(client, ehr, seeded):
    response = ehr.post(client, PATIENT_VIEW, hook_body(patient=None))
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    call = HookCall.objects.get()
    assert (call.patient, call.ehr_patient, call.ehr_user) == (
        None,
        "p1",
        "Practitioner/COREPRACTITIONER1",
    )


def test_the_specifications_example_request_is_read_and_answered(client, ehr):
    """Binary-CDSHooksRequestPV.json, as published, is answered: it prefetches the Patient
    under its own key, patientToGreet, and that Patient has the context's id. Its patient
    has no MRN: no cards."""
    from tests.interop.ehr import spec_example

    example = spec_example("Binary-CDSHooksRequestPV")
    response = ehr.post(client, PATIENT_VIEW, example)
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    call = HookCall.objects.get()
    assert (call.ehr_user, call.ehr_patient) == ("Practitioner/example", "1288992")


def test_a_patient_under_another_key_is_matched_only_with_the_contexts_id(client, ehr, seeded):
    with_mrn = hook_body()
    del with_mrn["prefetch"]["patient"]
    with_mrn["prefetch"]["subject"] = patient_resource("RLS-0042")
    response = ehr.post(client, PATIENT_VIEW, with_mrn)
    assert response.status_code == 200
    assert response.json()["cards"]  # matched by its MRN, under the key "subject"

    someone_else = hook_body()
    del someone_else["prefetch"]["patient"]
    someone_else["prefetch"]["subject"] = {**patient_resource("RLS-0042"), "id": "another"}
    assert_outcome(ehr.post(client, PATIENT_VIEW, someone_else), 412, "'patient' is missing")
