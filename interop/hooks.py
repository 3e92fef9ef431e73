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
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from guidance import engine
from guidance.cards import arrange, because_words, describe_because
from guidance.models import CardStatus, Kind, Recommendation, Rule
from interop import cards, drugs
from interop.fhir import identity
from interop.hook_request import HookRequest
from interop.models import HookCall, HookCard, SmartEhr
from interop.prefetch import Lab, labs, matching_patient
from interop.shapes import Card, Discovery, ServiceDefinition
from patients.models import Assessment, Patient, PatientAccess

logger = logging.getLogger(__name__)

PATIENT_VIEW = "rls-patient-view"
ORDER_SELECT = "rls-order-select"


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


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    answer: Callable[[HookRequest], list[Card]]

    def definition(self) -> ServiceDefinition:
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": PREFETCH,
        }


def discovery() -> Discovery:
    return {"services": [service.definition() for service in SERVICES.values()]}


# Answering


def patient_view(request: HookRequest) -> list[Card]:
    """The undecided cards of the matched patient's latest assessment, in the order of the
    assessment page (an option with the cautions that qualify it after it)."""
    patient, assessment = match(request)
    sent = (
        list(undecided_cards(assessment, launch=launch_registered(request.fhir_server)))
        if assessment is not None
        else []
    )
    record(request, patient, assessment, [hook_card for hook_card, _ in sent])
    return [body for _, body in sent]


def launch_registered(fhir_server: str) -> bool:
    """Whether the calling EHR (by the FHIR server it names) may launch the application:
    registered for SMART App Launch (manage.py smart_ehr) and active."""
    iss = fhir_server.strip().rstrip("/")
    return bool(iss) and SmartEhr.objects.filter(iss=iss, active=True).exists()


def undecided_cards(
    assessment: Assessment, *, launch: bool = False
) -> Iterator[tuple[HookCard, Card]]:
    """Each undecided card once, as the page orders every card (decided ones too, so that
    a caution inside a decided option keeps its place). With `launch`, each card also
    carries a SMART link that opens the application on the patient, signed in."""
    every_card = Recommendation.objects.filter(assessment=assessment).select_related("rule")
    link = settings.PUBLIC_BASE_URL + assessment.get_absolute_url()
    smart_link = settings.PUBLIC_BASE_URL + reverse("smart_launch") if launch else ""
    done: set[int] = set()
    for section in arrange(every_card):
        for placed in section.entries:
            for card in [placed.card, *placed.cautions]:
                if card.pk in done or card.status != CardStatus.PENDING:
                    continue
                done.add(card.pk)
                carried = placed.cautions if card is placed.card else []
                yield patient_view_card(card, carried, link, smart_link)


def patient_view_card(
    card: Recommendation, carried: list[Recommendation], link: str, smart_link: str = ""
) -> tuple[HookCard, Card]:
    """An undecided card, and the record of it kept for feedback. An option gets one
    suggestion, and names every caution that accepting it acknowledges (product.md 5.1)."""
    is_option = card.rule.kind == Kind.OPTION
    hook_card = HookCard(
        rule=card.rule,
        recommendation=card,
        card_version=card.version,
        suggestion_uuid=uuid.uuid4() if is_option else None,
    )
    weighed = [
        caution.rule.title for caution in carried if caution.status != CardStatus.ACKNOWLEDGED
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
    if smart_link:
        # The EHR adds its `iss` and a `launch` naming this patient and user when it opens it.
        body["links"].append(
            {"label": "Open the patient in the RLS clinic", "url": smart_link, "type": "smart"}
        )
    return hook_card, body


def order_select(request: HookRequest) -> list[Card]:
    """The cautions that qualify the option of each drug ordered (product.md 5.1), on the
    latest assessment's facts with the prefetch's labs where newer or missing."""
    ordered = ordered_drugs(request.context)
    patient, assessment = match(request) if ordered else (None, None)
    sent: list[tuple[HookCard, Card]] = []
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
    return assessment.facts(
        replacing={
            fact: lab.value
            for fact, lab in found.items()
            if entered.get(fact) is None or (lab.at is not None and lab.at > assessment.assessed_at)
        }
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
            service=request.service_id,
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
                view=f"cds:{request.service_id}",
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
