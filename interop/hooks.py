"""The CDS Hooks services: what discovery lists, how a hook request is read, and what each
service answers.

- rls-patient-view (patient-view): the undecided cards of the patient's latest assessment,
  in the order of the assessment page.
- rls-order-select (order-select): for a draft order of a gabapentinoid or a dopamine
  agonist, the cautions that qualify that option (product.md 5.1), evaluated on the facts
  of the patient's latest assessment with any newer (or missing) labs from the prefetch.

Whose data it is comes first: the prefetched Patient must be the context's patient, and it
is matched to ours by the client's MRN system and an agreeing birth date (interop.prefetch);
prefetched labs are read only when their subject is that Patient. Nothing is decided or
created during a hook call: it records the call and the cards it sent, for feedback, and
writes the access log when it sent a patient's cards.
"""

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from guidance import engine
from guidance.cards import arrange, because_words, describe_because
from guidance.models import CardStatus, Indicator, Kind, Recommendation, Rule
from interop import cards, drugs, json_input, limits
from interop.fhir import identity
from interop.models import CdsClient, HookCall, HookCard
from interop.prefetch import Lab, asked_mrn, labs, matching_patient
from interop.responses import CdsError, bad_request
from patients.facts import derive_facts
from patients.models import Assessment, Patient, PatientAccess

logger = logging.getLogger(__name__)

PATIENT_VIEW = "rls-patient-view"
ORDER_SELECT = "rls-order-select"
MAX_BODY_BYTES = 1_000_000
MAX_ID_LENGTH = 300  # context.userId and context.patientId, as stored on HookCall


def observation_query(loinc: str) -> str:
    return (
        "Observation?patient={{context.patientId}}"
        f"&code=http://loinc.org|{loinc}&_sort=-date&_count=1"
    )


# The patient and the latest of each lab the rules use (interop.prefetch.LABS).
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "ferritin": observation_query("2276-4"),
    "tsat": observation_query("2502-3"),
    "creatinine": observation_query("2160-0"),
    "weight": observation_query("29463-7"),
}
# Without the Patient there is nobody to match; the labs are optional (the sandbox sends
# the Patient and the ferritin only).
REQUIRED_PREFETCH = ("patient",)


@dataclass(frozen=True)
class HookRequest:
    client: CdsClient
    service: "Service"
    hook_instance: uuid.UUID
    user_id: str
    patient_id: str
    context: dict[str, Any]
    prefetch: dict[str, Any]
    fhir_server: str
    at: datetime  # when the call came: "now" for the labs' dates and the rate limits

    @property
    def mrn(self) -> str:
        """The record number asked for (interop.prefetch.asked_mrn), "" for none."""
        return asked_mrn(self.prefetch.get("patient"), self.client.mrn_system)


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    answer: Callable[[HookRequest], list[dict[str, Any]]]

    def definition(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": PREFETCH,
        }


def discovery() -> dict[str, Any]:
    return {"services": [service.definition() for service in SERVICES.values()]}


# Reading a request


def read_request(body: bytes, service: Service, client: CdsClient, *, at: datetime) -> HookRequest:
    """The hook request in `body`, checked as CDS Hooks 2.0 says it must be. Raises
    CdsError: 400 for a malformed request or a prefetched Patient that is not the
    context's, 412 for a missing prefetch, 429 past the client's rate limits."""
    data = read_json(body)
    if data.get("hook") != service.hook:
        raise bad_request(f"hook must be {service.hook!r} for the service {service.id!r}.")
    instance = data.get("hookInstance")
    if not isinstance(instance, str):
        raise bad_request("hookInstance is required: a UUID, as a string.", "required")
    try:
        hook_instance = uuid.UUID(instance)
    except ValueError:
        raise bad_request("hookInstance must be a UUID.") from None
    if "fhirServer" in data and not isinstance(data["fhirServer"], str):
        raise bad_request("fhirServer must be a URL, as a string.")
    if data.get("fhirAuthorization") is not None:
        if not isinstance(data["fhirAuthorization"], dict):
            raise bad_request("fhirAuthorization must be an object.")
        if not data.get("fhirServer"):
            raise bad_request("fhirAuthorization is given without fhirServer.", "required")
    context = data.get("context")
    if not isinstance(context, dict):
        raise bad_request("context is required: an object.", "required")
    for key in ("patientId", "userId"):
        value = context.get(key)
        if not isinstance(value, str) or not value.strip():
            raise bad_request(f"context.{key} is required: a non-empty string.", "required")
        if len(value) > MAX_ID_LENGTH:
            raise bad_request(f"context.{key} is longer than {MAX_ID_LENGTH} characters.")
    if service.hook == "order-select":
        if not isinstance(context.get("draftOrders"), dict):
            raise bad_request("context.draftOrders is required: a FHIR Bundle.", "required")
        selections = context.get("selections")
        if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
            raise bad_request("context.selections is required: a list of strings.", "required")
    prefetch = data.get("prefetch")
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise bad_request("prefetch must be an object.")
    prefetch = with_patient(prefetch, context["patientId"], fhir_access="fhirAuthorization" in data)
    for key in REQUIRED_PREFETCH:
        if prefetch[key] is not None and not isinstance(prefetch[key], dict):
            raise bad_request(f"prefetch.{key} must be a FHIR resource (an object) or null.")
    _check_same_patient(prefetch, context["patientId"], client, hook_instance)
    request = HookRequest(
        client=client,
        service=service,
        hook_instance=hook_instance,
        user_id=context["userId"],
        patient_id=context["patientId"],
        context=context,
        prefetch=prefetch,
        fhir_server=data.get("fhirServer") or "",
        at=at,
    )
    limits.check(client, patient_id=request.patient_id, mrn=request.mrn, now=at)
    return request


def _check_same_patient(
    prefetch: dict[str, Any], patient_id: str, client: CdsClient, hook_instance: uuid.UUID
) -> None:
    """The prefetched Patient must be the one the hook is about (context.patientId), and
    the only one by that id: an EHR that sends one patient's resource for another's chart,
    or two different Patients for one chart, is answered with nothing. Logged with the
    client and the hook instance only (no patient data)."""
    patient = prefetch["patient"]
    if patient is None:
        return
    problem = ""
    if patient.get("resourceType") != "Patient" or patient.get("id") != patient_id:
        problem = (
            "prefetch.patient must be the Patient named by context.patientId (its "
            "resourceType Patient and its id the same)"
        )
    elif any(
        isinstance(other, dict)
        and other.get("resourceType") == "Patient"
        and other.get("id") == patient_id
        and other != patient
        for other in prefetch.values()
    ):
        problem = "the prefetch holds two different Patients with the id of context.patientId"
    if not problem:
        return
    logger.warning(
        "Hook call refused: %s (client %s, hookInstance %s)", problem, client.pk, hook_instance
    )
    raise bad_request(
        f"{problem}: no cards are given for a Patient that may not be the context's.",
        "business-rule",
    )


def with_patient(prefetch: dict[str, Any], patient_id: str, *, fhir_access: bool) -> dict[str, Any]:
    """The prefetch with the context's Patient under `patient`, where the EHR sent it.

    A client may name its prefetch keys its own way (the specification's example sends the
    Patient as `patientToGreet`): a Patient resource with the context's id, under any key,
    is the one. Missing altogether, it is a 412 when the request gave no FHIR access (the
    EHR must send it); with access given, the EHR has done its part, and as this service
    never queries an EHR's FHIR server (an address and a token from the request would make
    it fetch wherever a caller says), the call is answered as for "no data": no match, no
    cards.
    """
    if "patient" in prefetch:
        return prefetch
    for value in prefetch.values():
        if (
            isinstance(value, dict)
            and value.get("resourceType") == "Patient"
            and value.get("id") == patient_id
        ):
            return {**prefetch, "patient": value}
    if fhir_access:
        return {**prefetch, "patient": None}
    raise CdsError(
        412,
        "required",
        "The prefetch 'patient' is missing, and the request gives no FHIR access: send "
        "it (null when there is no data).",
    )


def read_json(body: bytes) -> dict[str, Any]:
    """A JSON object from a request body of at most MAX_BODY_BYTES, every string of it text;
    400 otherwise, before anything is written."""
    if len(body) > MAX_BODY_BYTES:
        raise bad_request(f"The body is larger than {MAX_BODY_BYTES:,} bytes.", "too-long")
    try:
        data = json_input.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, NaN, nested too deep
        raise bad_request("The body is not JSON.", "structure") from None
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.", "structure")
    problem = json_input.bad_text(data)
    if problem:
        # No FHIR or CDS Hooks value holds either, PostgreSQL cannot store a NUL, and
        # nothing can write a lone surrogate as UTF-8 (it was a server error).
        raise bad_request(f"The body holds {problem}.", "structure")
    return data


# Answering


def patient_view(request: HookRequest) -> list[dict[str, Any]]:
    """The undecided cards of the matched patient's latest assessment, in the order of the
    assessment page (an option with the cautions that qualify it after it)."""
    patient, assessment = match(request)
    sent = list(undecided_cards(assessment)) if assessment is not None else []
    record(request, patient, assessment, [hook_card for hook_card, _ in sent])
    return [body for _, body in sent]


def undecided_cards(assessment: Assessment) -> Iterator[tuple[HookCard, dict[str, Any]]]:
    """Each undecided card once, as the page orders every card (decided ones too, so that
    a caution inside a decided option keeps its place)."""
    every_card = Recommendation.objects.filter(assessment=assessment).select_related("rule")
    link = settings.PUBLIC_BASE_URL + assessment.get_absolute_url()
    done: set[int] = set()
    for section in arrange(every_card):
        for placed in section.entries:
            for card in [placed.card, *placed.cautions]:
                if card.pk in done or card.status != CardStatus.PENDING:
                    continue
                done.add(card.pk)
                carried = placed.cautions if card is placed.card else []
                yield patient_view_card(card, carried, link)


def patient_view_card(
    card: Recommendation, carried: list[Recommendation], link: str
) -> tuple[HookCard, dict[str, Any]]:
    """An undecided card, and the record of it kept for feedback. An option gets one
    suggestion, and names the critical cautions that accepting it acknowledges."""
    is_option = card.rule.kind == Kind.OPTION
    hook_card = HookCard(
        rule=card.rule,
        recommendation=card,
        card_version=card.version,
        suggestion_uuid=uuid.uuid4() if is_option else None,
    )
    weighed = [
        caution.rule.title
        for caution in carried
        if caution.rule.indicator == Indicator.CRITICAL
        and caution.status != CardStatus.ACKNOWLEDGED
    ]
    body = cards.card(
        uuid=hook_card.uuid,
        rule=card.rule,
        because=because_words(card),
        link=link,
        base_url=settings.PUBLIC_BASE_URL,
        suggestion=hook_card.suggestion_uuid,
        acknowledges=weighed if is_option else [],
    )
    return hook_card, body


def order_select(request: HookRequest) -> list[dict[str, Any]]:
    """The cautions that qualify the option of each drug ordered (product.md 5.1), on the
    latest assessment's facts with the prefetch's labs where newer or missing."""
    ordered = ordered_drugs(request.context)
    patient, assessment = match(request) if ordered else (None, None)
    sent: list[tuple[HookCard, dict[str, Any]]] = []
    refusals: list[str] = []
    if assessment is not None:
        found = labs(
            request.prefetch,
            subject=identity.references(request.prefetch["patient"], base=request.fhir_server),
            now=request.at,
        )
        refusals = found.refusals
        facts = facts_with_labs(assessment, found.labs)
        options = {drug.option for drug in ordered}
        cautions = [
            rule
            for rule in Rule.objects.active().filter(kind=Kind.CAUTION)
            if options.intersection(rule.qualifies)
        ]
        fired = engine.evaluate(facts, cautions).fired
        undecided = {
            card.rule_code: card
            for card in Recommendation.objects.filter(
                assessment=assessment,
                rule_code__in=[rule.code for rule in fired],
                status=CardStatus.PENDING,
            )
        }
        link = settings.PUBLIC_BASE_URL + assessment.get_absolute_url()
        names = ", ".join(sorted({drug.name for drug in ordered}))
        for rule in fired:
            card = undecided.get(rule.code)
            hook_card = HookCard(
                rule=rule, recommendation=card, card_version=card.version if card else None
            )
            because = describe_because(engine.because(rule.condition, facts), rule.condition)
            body = cards.card(
                uuid=hook_card.uuid,
                rule=rule,
                because=[f"ordered: {names}", *because],
                link=link,
                base_url=settings.PUBLIC_BASE_URL,
            )
            sent.append((hook_card, body))
    record(request, patient, assessment, [hook_card for hook_card, _ in sent], refusals)
    return [body for _, body in sent]


def match(request: HookRequest) -> tuple[Patient | None, Assessment | None]:
    """Our patient that the EHR's Patient is (interop.prefetch.matching_patient: the
    client's MRN system, an agreeing birth date, one open record), and that patient's
    latest assessment. A client registered without an MRN system matches nobody."""
    patient = matching_patient(request.prefetch.get("patient"), request.client.mrn_system)
    if patient is None:
        return None, None
    assessment = Assessment.objects.filter(patient=patient).order_by("-assessed_at", "-pk").first()
    if assessment is not None:
        assessment.patient = patient
    return patient, assessment


def ordered_drugs(context: dict[str, Any]) -> list[drugs.Drug]:
    """The recognised drugs of the selected draft MedicationRequests (of every draft when
    nothing is selected)."""
    entries = context["draftOrders"].get("entry")
    resources = [
        entry["resource"]
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)
    ]
    medications = {
        f"Medication/{resource.get('id')}": resource
        for resource in resources
        if resource.get("resourceType") == "Medication"
    }
    selections = set(context.get("selections") or [])
    found = []
    for resource in resources:
        if resource.get("resourceType") != "MedicationRequest":
            continue
        if selections and f"MedicationRequest/{resource.get('id')}" not in selections:
            continue
        drug = drugs.recognise(resource.get("medicationCodeableConcept")) or drugs.recognise(
            _referenced_code(resource, medications)
        )
        if drug is not None and drug not in found:
            found.append(drug)
    return found


def _referenced_code(request: dict[str, Any], medications: dict[str, Any]) -> Any:
    """The code of the Medication a MedicationRequest refers to: contained ("#id") or in
    the draft-orders Bundle ("Medication/id")."""
    reference = request.get("medicationReference")
    target = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(target, str):
        return None
    if target.startswith("#"):
        contained = request.get("contained")
        for resource in contained if isinstance(contained, list) else []:
            if isinstance(resource, dict) and resource.get("id") == target[1:]:
                return resource.get("code")
        return None
    return (medications.get(target) or {}).get("code")


def facts_with_labs(assessment: Assessment, found: dict[str, Lab]) -> dict[str, Any]:
    """The assessment's facts, each lab replaced by the prefetch's when the assessment has
    none or the EHR's is newer; derived facts (creatinine clearance) follow."""
    entered = assessment.entered_values()
    for fact, lab in found.items():
        newer = lab.at is not None and lab.at > assessment.assessed_at
        if entered.get(fact) is None or newer:
            entered[fact] = lab.value
    return derive_facts(
        entered,
        age_years=assessment.age_years,
        sex=assessment.patient.sex,
        hours_since_last_dose=assessment.hours_since_last_dose,
        irls_previous_total=assessment.irls_previous_total,
    )


def record(
    request: HookRequest,
    patient: Patient | None,
    assessment: Assessment | None,
    sent: list[HookCard],
    refusals: list[str] | None = None,
) -> None:
    """Keep the call and the cards sent, for the feedback that may follow; when a patient's
    cards were sent, the access log says so, with the EHR's account and the EHR user."""
    with transaction.atomic():
        call = HookCall.objects.create(
            hook_instance=request.hook_instance,
            client=request.client,
            service=request.service.id,
            ehr_user=request.user_id,
            ehr_patient=request.patient_id,
            ehr_mrn=request.mrn,
            patient=patient,
            assessment=assessment,
            refusals=refusals or [],
            at=request.at,
        )
        for hook_card in sent:
            hook_card.call = call
        HookCard.objects.bulk_create(sent)
        if patient is not None and sent:
            PatientAccess.objects.create(
                user=request.client.user,
                patient=patient,
                view=f"cds:{request.service.id}",
                ehr_user=request.user_id,
                at=request.at,
            )
    if refusals:
        logger.info(
            "Hook call %s: %d prefetched result(s) not used", request.hook_instance, len(refusals)
        )


SERVICES = {
    service.id: service
    for service in (
        Service(
            id=PATIENT_VIEW,
            hook="patient-view",
            title="Restless legs in kratom withdrawal: suggestions awaiting review",
            description="The undecided options and cautions of the patient's latest RLS "
            "and withdrawal assessment in the clinic's decision-support tool, for clinician "
            "review. Accepting a suggestion records the acceptance there; nothing is "
            "ordered in the EHR.",
            answer=patient_view,
        ),
        Service(
            id=ORDER_SELECT,
            hook="order-select",
            title="Restless legs in kratom withdrawal: cautions for a gabapentinoid or "
            "dopamine agonist order",
            description="When gabapentin, gabapentin enacarbil, pregabalin, pramipexole, "
            "ropinirole or rotigotine is ordered, the safety cautions of the clinic's RLS "
            "guidance that apply to the patient (breathing risk, renal dosing, misuse, "
            "augmentation, pregnancy).",
            answer=order_select,
        ),
    )
}
