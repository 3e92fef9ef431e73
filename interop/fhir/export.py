"""A patient's record as a FHIR R4 Bundle of type `collection` (issue 13).

What goes in: the Patient (MRN as an `MR` identifier); the people who assessed and decided,
as Practitioners named by user name only; one Questionnaire per scale of the registry, each
answer with its weight; per assessment (and per follow-up re-score) a QuestionnaireResponse
and a total Observation for each scored scale, and an Observation for each lab entered;
per questionnaire the patient answered at home and sent, a QuestionnaireResponse whose
source is the Patient;
per card a DetectedIssue (a caution) or a RequestGroup (an option), never more than a
proposal; and a Provenance for each decision on a card.

Resources are built as plain JSON-ready dicts: the tests validate every one of them with
fhir.resources' R4B models, so the export needs no model classes at run time. Every entry's
fullUrl is a `urn:uuid:`, derived from our records' own UUIDs where they have them, so that
exporting the same record twice gives the same ids; every reference points inside the
Bundle.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Prefetch, Q

from guidance.cards import because_words
from guidance.models import (
    CardStatus,
    Decision,
    DeclineReason,
    Indicator,
    Kind,
    Recommendation,
)
from interop.fhir import codes
from interop.fhir import resources as fhir
from interop.fhir.questionnaires import questionnaire, questionnaire_id, total_code
from interop.fhir.resources import coding, concept
from patients.invitations import Invitation
from patients.models import Assessment, FollowUp, FollowUpStatus, Patient
from patients.scales import SCALES, Scale, Score, score_all

# A card's indicator as DetectedIssue.severity (R4 value set detectedissue-severity).
SEVERITY = {Indicator.CRITICAL: "high", Indicator.WARNING: "moderate", Indicator.INFO: "low"}
SEX_TO_GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}

# The facts a card's "because" may name that have an Observation of their own in the
# Bundle: the card points at those Observations as its evidence.
TOTAL_FACTS = {f"{code}_total": code for code in SCALES}


@dataclass
class Records:
    """Everything the export reads about one patient, loaded in a fixed number of queries
    whatever the number of assessments, cards and decisions."""

    patient: Patient
    assessments: list[Assessment]
    followups: list[FollowUp]
    cards: list[Recommendation]
    invitations: list[Invitation]


def load_records(patient: Patient) -> Records:
    """Five queries: assessments with their authors, re-scored follow-ups with theirs,
    the cards with their rules, then their decisions with who decided, and the
    questionnaires the patient answered at home and sent."""
    assessments = list(
        Assessment.objects.filter(patient=patient)
        .select_related("assessed_by")
        .order_by("assessed_at", "pk")
    )
    followups = list(
        FollowUp.objects.filter(patient=patient, status=FollowUpStatus.COMPLETED)
        .filter(Q(irls_total__isnull=False) | Q(cows_total__isnull=False))
        .select_related("recorded_by")
        .order_by("happened_on", "pk")
    )
    cards = list(
        Recommendation.objects.filter(assessment__patient=patient)
        .select_related("rule")
        .prefetch_related(
            Prefetch(
                "decisions",
                queryset=Decision.objects.select_related("by", "with_option").order_by("at", "pk"),
            )
        )
        .order_by("assessment_id", "rule_code")
    )
    invitations = list(
        patient.invitations.filter(submitted_at__isnull=False).order_by("submitted_at", "pk")
    )
    return Records(patient, assessments, followups, cards, invitations)


def patient_bundle(patient: Patient, *, now: datetime) -> fhir.Bundle:
    """The patient's record as a FHIR R4 Bundle (a dict ready for json.dumps)."""
    return build_bundle(load_records(patient), now=now)


def build_bundle(records: Records, *, now: datetime) -> fhir.Bundle:
    builder = _Builder(records.patient)
    for scale in SCALES.values():
        builder.add(questionnaire_id(scale.code), questionnaire(scale))
    cards_by_assessment: dict[int, list[Recommendation]] = {}
    for card in records.cards:
        cards_by_assessment.setdefault(card.assessment_id, []).append(card)
    for assessment in records.assessments:
        builder.assessment(assessment, cards_by_assessment.get(assessment.pk, []))
    for followup in records.followups:
        builder.followup(followup)
    for invitation in records.invitations:
        builder.patient_answers(invitation)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": instant(now),
        "entry": builder.entries(),
    }


# Ids and small pieces


def reference(resource_id: uuid.UUID, display: str = "") -> fhir.Reference:
    ref: fhir.Reference = {"reference": f"urn:uuid:{resource_id}"}
    if display:
        ref["display"] = display
    return ref


def practitioner_id(user: User) -> uuid.UUID:
    return uuid.uuid5(codes.NAMESPACE, f"Practitioner/{user.pk}")


def instant(moment: datetime) -> str:
    """A dateTime or instant as FHIR writes it: seconds, with the UTC offset."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def response_items(scale: Scale, answers: Mapping[str, Any]) -> list[fhir.ResponseItem]:
    """A QuestionnaireResponse's items: each item's answer as its score's coding."""
    return [
        {
            "linkId": item.key,
            "text": item.label,
            "answer": [
                {
                    "valueCoding": coding(
                        codes.ITEM_SCORE_SYSTEM, str(answers[item.key]), str(answers[item.key])
                    )
                }
            ],
        }
        for item in scale.items
    ]


def category(code: str, display: str) -> list[fhir.CodeableConcept]:
    return [concept(codes.OBSERVATION_CATEGORY, code, display)]


@dataclass
class _Builder:
    """Collects the entries; Practitioners are added once each, as they are met."""

    patient: Patient
    _entries: list[fhir.Entry] = field(default_factory=list)
    _practitioners: dict[int, fhir.Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.subject = reference(self.patient.uuid)

    def entries(self) -> list[fhir.Entry]:
        return [
            self._entry(self.patient.uuid, patient_resource(self.patient)),
            *self._practitioners.values(),
            *self._entries,
        ]

    def add(self, resource_id: uuid.UUID, resource: fhir.Resource) -> fhir.Reference:
        """Add a resource; returns a reference to it."""
        self._entries.append(self._entry(resource_id, resource))
        return reference(resource_id)

    @staticmethod
    def _entry(resource_id: uuid.UUID, resource: fhir.Resource) -> fhir.Entry:
        resource["id"] = str(resource_id)
        return {"fullUrl": f"urn:uuid:{resource_id}", "resource": resource}

    def practitioner(self, user: User) -> fhir.Reference:
        """A reference to the user as a Practitioner: their user name and name, nothing
        about the patient."""
        username = user.get_username()
        if user.pk not in self._practitioners:
            resource: fhir.Practitioner = {
                "resourceType": "Practitioner",
                "identifier": [{"system": codes.USERNAME_SYSTEM, "value": username}],
                "name": [{"text": user.get_full_name() or username}],
            }
            self._practitioners[user.pk] = self._entry(practitioner_id(user), resource)
        return reference(practitioner_id(user), username)

    # Scores and labs

    def scored_scales(
        self,
        *,
        source: uuid.UUID,
        scores: Mapping[str, Score | None],
        answers: Mapping[str, Any],
        at: str,
        author: fhir.Reference | None,
    ) -> dict[str, uuid.UUID]:
        """A QuestionnaireResponse and a total Observation for each scored scale; returns
        the totals' ids by fact name (irls_total...), for the cards' evidence."""
        totals = {}
        for code, score in scores.items():
            if score is None:
                continue
            scale = score.scale
            response: fhir.QuestionnaireResponse = {
                "resourceType": "QuestionnaireResponse",
                "questionnaire": codes.questionnaire_url(code),
                "status": "completed",
                "subject": self.subject,
                "authored": at,
                "item": response_items(scale, answers),
            }
            if author:
                response["author"] = author
            response_ref = self.add(uuid.uuid5(source, f"QuestionnaireResponse/{code}"), response)
            total_id = uuid.uuid5(source, f"Observation/{code}-total")
            observation: fhir.Observation = {
                "resourceType": "Observation",
                "status": "final",
                "category": category("survey", "Survey"),
                "code": total_code(scale),
                "subject": self.subject,
                "effectiveDateTime": at,
                "valueInteger": score.total,
                "interpretation": [
                    concept(codes.band_system(code), score.band.name, score.band.label)
                ],
                "derivedFrom": [response_ref],
            }
            if author:
                observation["performer"] = [author]
            self.add(total_id, observation)
            totals[f"{code}_total"] = total_id
        return totals

    def labs(self, assessment: Assessment, at: str) -> dict[str, uuid.UUID]:
        """An Observation per lab entered, in its stored UCUM unit; returns their ids by
        field name."""
        found = {}
        for lab in codes.LABS:
            value = getattr(assessment, lab.field)
            if value is None:
                continue
            lab_id = uuid.uuid5(assessment.uuid, f"Observation/{lab.field}")
            self.add(
                lab_id,
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": category(
                        lab.category,
                        "Laboratory" if lab.category == "laboratory" else "Vital Signs",
                    ),
                    "code": concept(codes.LOINC, lab.loinc, lab.loinc_display, lab.name),
                    "subject": self.subject,
                    "effectiveDateTime": at,
                    "valueQuantity": {
                        "value": value,
                        "unit": lab.ucum,
                        "system": codes.UCUM,
                        "code": lab.ucum,
                    },
                },
            )
            found[lab.field] = lab_id
        return found

    # Records

    def assessment(self, assessment: Assessment, cards: list[Recommendation]) -> None:
        at = instant(assessment.assessed_at)
        author = self.practitioner(assessment.assessed_by)
        evidence = self.scored_scales(
            source=assessment.uuid,
            scores=assessment.scores(),
            answers=assessment.item_values(),
            at=at,
            author=author,
        )
        evidence |= self.labs(assessment, at)
        options = {card.rule_code: card for card in cards if card.rule.kind == Kind.OPTION}
        for card in cards:
            self.card(card, evidence, options)

    def patient_answers(self, invitation: Invitation) -> None:
        """The scales a patient answered at home and sent (patients.invitations): a
        QuestionnaireResponse each, whose source is the Patient. No total Observation:
        the answers reach the chart only through an assessment a clinician saves."""
        assert invitation.submitted_at is not None  # only sent answers are exported
        scores, _ = score_all(invitation.answers)  # a scale is complete or absent
        for code, score in scores.items():
            if score is None:
                continue
            response: fhir.QuestionnaireResponse = {
                "resourceType": "QuestionnaireResponse",
                "questionnaire": codes.questionnaire_url(code),
                "status": "completed",
                "subject": self.subject,
                "source": self.subject,
                "authored": instant(invitation.submitted_at),
                "item": response_items(score.scale, invitation.answers),
            }
            self.add(uuid.uuid5(invitation.uuid, f"QuestionnaireResponse/{code}"), response)

    def followup(self, followup: FollowUp) -> None:
        """A re-score at a follow-up: its scales, dated by the day of the contact."""
        assert followup.happened_on is not None  # a completed follow-up has its date
        self.scored_scales(
            source=followup.uuid,
            scores=followup.scores(),
            answers=followup.item_values(),
            at=followup.happened_on.isoformat(),
            author=self.practitioner(followup.recorded_by) if followup.recorded_by else None,
        )

    # Cards and decisions

    def card(
        self,
        card: Recommendation,
        evidence: Mapping[str, uuid.UUID],
        options: Mapping[str, Recommendation],
    ) -> None:
        rule = card.rule
        code = concept(codes.RULE_SYSTEM, rule.code, rule.title, f"{rule.code} v{rule.version}")
        because = " · ".join(because_words(card))
        said = f"{rule.detail} Because: {because}." if because else rule.detail
        if not card.still_fires:
            said += (
                " After a correction of the assessment this rule no longer fires; the card "
                "is kept because a clinician decided on it."
            )
        supporting = [reference(evidence[name]) for name in card.because if name in evidence]
        identifier: list[fhir.Identifier] = [
            {"system": codes.URI, "value": f"urn:uuid:{card.uuid}"}
        ]
        resource: fhir.DetectedIssue | fhir.RequestGroup
        if rule.kind == Kind.CAUTION:
            issue: fhir.DetectedIssue = {
                "resourceType": "DetectedIssue",
                "identifier": identifier,
                # R4 DetectedIssue.status takes observation-status codes: weighed and
                # acknowledged is final; awaiting review or deferred is preliminary.
                "status": "final" if card.status == CardStatus.ACKNOWLEDGED else "preliminary",
                "code": code,
                "severity": SEVERITY[Indicator(rule.indicator)],
                "patient": self.subject,
                "identifiedDateTime": instant(card.created_at),
                "detail": f"{rule.title}. {said}",
            }
            implicated = [
                reference(options[option].uuid) for option in rule.qualifies if option in options
            ]
            if implicated:
                issue["implicated"] = implicated
            if supporting:
                issue["evidence"] = [{"detail": supporting}]
            resource = issue
        else:
            # Nothing is ordered: an option stays a draft proposal whatever the clinician
            # decided; the decision is in its Provenance.
            proposal: fhir.RequestGroup = {
                "resourceType": "RequestGroup",
                "identifier": identifier,
                "status": "draft",
                "intent": "proposal",
                "code": code,
                "subject": self.subject,
                "authoredOn": instant(card.created_at),
                "action": [
                    {
                        "title": rule.title,
                        "description": said,
                        "documentation": [
                            {
                                "type": "citation",
                                "citation": f"{rule.source} Evidence: {rule.evidence}",
                            }
                        ],
                    }
                ],
            }
            if supporting:
                proposal["reasonReference"] = supporting
            resource = proposal
        target = self.add(card.uuid, resource)
        for decision in card.decisions.all():
            self.add(
                uuid.uuid5(card.uuid, f"Provenance/{decision.pk}"),
                self.provenance(decision, target),
            )

    def provenance(self, decision: Decision, target: fhir.Reference) -> fhir.Provenance:
        status = CardStatus(decision.status)
        resource: fhir.Provenance = {
            "resourceType": "Provenance",
            "target": [target],
            "recorded": instant(decision.at),
            "activity": concept(codes.DECISION_SYSTEM, status.value, status.label),
            "agent": [
                {
                    "type": concept(codes.PROVENANCE_PARTICIPANT, "author", "Author"),
                    "who": self.practitioner(decision.by),
                }
            ],
        }
        reasons: list[fhir.CodeableConcept] = []
        if decision.decline_reason:
            reason = DeclineReason(decision.decline_reason)
            reasons.append(
                concept(codes.DECLINE_REASON_SYSTEM, reason.value, reason.label, decision.comment)
            )
        elif decision.comment:
            reasons.append({"text": decision.comment})
        if reasons:
            resource["reason"] = reasons
        if decision.with_option is not None:
            # A caution acknowledged by accepting the option it qualifies.
            resource["entity"] = [{"role": "source", "what": reference(decision.with_option.uuid)}]
        return resource


def patient_resource(patient: Patient) -> fhir.Patient:
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "use": "usual",
                "type": concept(codes.V2_0203, "MR", "Medical record number"),
                "system": codes.MRN_SYSTEM,
                "value": patient.mrn,
            }
        ],
        "active": not patient.is_archived,
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "gender": SEX_TO_GENDER.get(patient.sex, "unknown"),
        "birthDate": patient.date_of_birth.isoformat(),
    }
