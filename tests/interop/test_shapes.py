"""Our responses have the shapes of the specification's examples (discovery and cards),
keep the specification's card invariants, and hold no null or empty value anywhere."""

from typing import Any

from interop.responses import compact
from tests.interop.ehr import hook_body, observation, patient_resource, searchset, spec_example

PATIENT_VIEW = "/cds-services/rls-patient-view"
ORDER_SELECT = "/cds-services/rls-order-select"


def assert_same_shape(ours: Any, example: Any, where: str = "") -> None:
    """Every key that ours shares with the example holds a value of the same JSON type,
    down through objects and the first item of lists."""
    assert type(ours) is type(example) or {type(ours), type(example)} <= {int, float}, where
    if isinstance(example, dict):
        for key in example.keys() & ours.keys():
            assert_same_shape(ours[key], example[key], f"{where}.{key}")
    elif isinstance(example, list) and example and ours:
        for item in ours:
            assert_same_shape(item, example[0], f"{where}[]")


def assert_card_invariants(card: dict[str, Any]) -> None:
    """CDS Hooks 2.0's rules for a card, and this service's own (a uuid on every card)."""
    assert isinstance(card["uuid"], str)
    assert card["uuid"]
    assert isinstance(card["summary"], str)
    assert 0 < len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"]
    assert "systemActions" not in card
    if card.get("suggestions"):
        assert card["selectionBehavior"] in ("at-most-one", "any")
        for suggestion in card["suggestions"]:
            assert suggestion["uuid"]
            assert suggestion["label"]
            for action in suggestion.get("actions", []):
                assert action["description"]
    for reason in card.get("overrideReasons", []):
        assert reason["code"]
        assert reason["system"]
        assert reason["display"]
    for link in card.get("links", []):
        assert link["label"]
        assert link["url"]
        assert link["type"] in ("absolute", "smart")


def empty_values(value: Any, where: str = "$") -> list[str]:
    """Where a null, an empty string, an empty list or an empty object is (the body itself
    may be {}: the answer to feedback, which carries nothing)."""
    if where != "$" and (value is None or (isinstance(value, str | list | dict) and not value)):
        return [where]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in empty_values(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [p for n, item in enumerate(value) for p in empty_values(item, f"{where}[{n}]")]
    return []


def test_discovery_has_the_shape_of_the_specifications_example(client, ehr):
    services = ehr.get(client, "/cds-services").json()
    assert_same_shape(services, spec_example("Binary-CDSHookServices"))
    by_id = {service["id"]: service for service in services["services"]}
    assert {s["hook"] for s in by_id.values()} == {"patient-view", "order-select"}
    view = by_id["rls-patient-view"]
    assert view["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert view["prefetch"]["ferritin"] == (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|2276-4"
        "&_sort=-date&_count=1"
    )
    loincs = {
        template.split("|")[1].split("&")[0] for template in list(view["prefetch"].values())[1:]
    }
    assert loincs == {"2276-4", "2502-3", "2160-0", "29463-7"}
    for service in services["services"]:
        assert service["title"]
        assert service["description"]
        assert service["id"]
        assert service["hook"]


def test_cards_have_the_shape_of_the_specifications_example_and_its_invariants(client, ehr, seeded):
    response = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient_resource("RLS-0042")))
    ours = response.json()
    assert len(ours["cards"]) > 5
    assert_same_shape(ours, spec_example("Binary-CDSHooksResponse"))
    example_keys = set().union(*spec_example("Binary-CDSHooksResponse")["cards"])
    for card in ours["cards"]:
        assert_card_invariants(card)
        assert set(card) <= example_keys | {"suggestions", "selectionBehavior"}


def test_no_response_holds_a_null_or_empty_value(client, ehr, seeded):
    """Every kind of answer the service gives: discovery, both services' cards, feedback,
    and refusals. An empty card list is the one empty value allowed: "no advice"."""
    gabapentin = {
        "resourceType": "MedicationRequest",
        "id": "d1",
        "medicationCodeableConcept": {"text": "gabapentin 300 MG Oral Capsule"},
    }
    labs = searchset(observation("2160-0", 1.2, "mg/dL"))
    view = ehr.post(client, PATIENT_VIEW, hook_body(patient=patient_resource("RLS-0042")))
    option = next(card for card in view.json()["cards"] if "suggestions" in card)
    responses = [
        ehr.get(client, "/cds-services"),
        view,
        ehr.post(
            client,
            ORDER_SELECT,
            hook_body(
                "order-select",
                patient=patient_resource("RLS-0042"),
                prefetch={"creatinine": labs},
                draftOrders={"resourceType": "Bundle", "entry": [{"resource": gabapentin}]},
                selections=["MedicationRequest/d1"],
            ),
        ),
        ehr.post(
            client,
            PATIENT_VIEW + "/feedback",
            {
                "feedback": [
                    {
                        "card": option["uuid"],
                        "outcome": "accepted",
                        "acceptedSuggestions": [{"id": option["suggestions"][0]["uuid"]}],
                        "outcomeTimestamp": "2026-11-29T00:10:19Z",
                    }
                ]
            },
        ),
        client.get("/cds-services"),  # 401
        ehr.post(client, PATIENT_VIEW, {"hook": "patient-view"}),  # 400
        ehr.post(client, "/cds-services/nothing", {}),  # 404
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 401, 400, 404]
    assert responses[2].json()["cards"]
    for response in responses:
        assert empty_values(response.json()) == [], response.content
    nobody = ehr.post(client, PATIENT_VIEW, hook_body(patient=None)).json()
    assert nobody == {"cards": []}


def test_compact_drops_null_and_empty_values_at_any_depth():
    assert compact({"a": None, "b": "", "c": [], "d": {}, "e": [{"f": None}], "g": [0, False]}) == {
        "g": [0, False]
    }
    assert compact({"cards": []}, keep=("cards",)) == {"cards": []}
