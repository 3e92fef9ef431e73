"""The FHIR R4 resources the export builds (interop.fhir.export), as types: each with the
elements we write and nothing else, so that mypy checks every field of a record that
leaves the clinic (the R4B models of fhir.resources validate the result in the tests);
and the two small pieces every resource uses, a Coding and a CodeableConcept."""

from typing import Literal, NotRequired, TypedDict


class Coding(TypedDict):
    system: str
    code: str
    display: NotRequired[str]


class CodeableConcept(TypedDict):
    coding: NotRequired[list[Coding]]
    text: str


class Reference(TypedDict):
    reference: str
    display: NotRequired[str]


class Identifier(TypedDict):
    system: str
    value: str
    use: NotRequired[str]
    type: NotRequired[CodeableConcept]


class Quantity(TypedDict):
    value: float
    unit: str
    system: str
    code: str


class HumanName(TypedDict):
    family: NotRequired[str]
    given: NotRequired[list[str]]
    text: NotRequired[str]


class Patient(TypedDict):
    resourceType: Literal["Patient"]
    id: NotRequired[str]
    identifier: list[Identifier]
    active: bool
    name: list[HumanName]
    gender: str
    birthDate: str


class Practitioner(TypedDict):
    resourceType: Literal["Practitioner"]
    id: NotRequired[str]
    identifier: list[Identifier]
    name: list[HumanName]


class Extension(TypedDict):
    url: str
    valueDecimal: int


class AnswerOption(TypedDict):
    extension: list[Extension]
    valueCoding: Coding


class DisplayItem(TypedDict):
    linkId: str
    text: str
    type: Literal["display"]


class QuestionnaireItem(TypedDict):
    linkId: str
    text: str
    type: Literal["choice"]
    required: bool
    answerOption: list[AnswerOption]
    item: list[DisplayItem]


class Questionnaire(TypedDict):
    resourceType: Literal["Questionnaire"]
    id: NotRequired[str]
    url: str
    name: str
    title: str
    status: str
    subjectType: list[str]
    description: str
    item: list[QuestionnaireItem]
    copyright: NotRequired[str]


class Answer(TypedDict):
    valueCoding: Coding


class ResponseItem(TypedDict):
    linkId: str
    text: str
    answer: list[Answer]


class QuestionnaireResponse(TypedDict):
    resourceType: Literal["QuestionnaireResponse"]
    id: NotRequired[str]
    questionnaire: str
    status: str
    subject: Reference
    authored: str
    item: list[ResponseItem]
    author: NotRequired[Reference]
    source: NotRequired[Reference]


class Observation(TypedDict):
    resourceType: Literal["Observation"]
    id: NotRequired[str]
    status: str
    category: list[CodeableConcept]
    code: CodeableConcept
    subject: Reference
    effectiveDateTime: str
    valueInteger: NotRequired[int]
    valueQuantity: NotRequired[Quantity]
    interpretation: NotRequired[list[CodeableConcept]]
    derivedFrom: NotRequired[list[Reference]]
    performer: NotRequired[list[Reference]]


class Evidence(TypedDict):
    detail: list[Reference]


class DetectedIssue(TypedDict):
    resourceType: Literal["DetectedIssue"]
    id: NotRequired[str]
    identifier: list[Identifier]
    status: str
    code: CodeableConcept
    severity: str
    patient: Reference
    identifiedDateTime: str
    detail: str
    implicated: NotRequired[list[Reference]]
    evidence: NotRequired[list[Evidence]]


class Documentation(TypedDict):
    type: Literal["citation"]
    citation: str


class Action(TypedDict):
    title: str
    description: str
    documentation: list[Documentation]


class RequestGroup(TypedDict):
    resourceType: Literal["RequestGroup"]
    id: NotRequired[str]
    identifier: list[Identifier]
    status: Literal["draft"]  # nothing is ordered: an option stays a proposal
    intent: Literal["proposal"]
    code: CodeableConcept
    subject: Reference
    authoredOn: str
    action: list[Action]
    reasonReference: NotRequired[list[Reference]]


class Agent(TypedDict):
    type: CodeableConcept
    who: Reference


class Entity(TypedDict):
    role: Literal["source"]
    what: Reference


class Provenance(TypedDict):
    resourceType: Literal["Provenance"]
    id: NotRequired[str]
    target: list[Reference]
    recorded: str
    activity: CodeableConcept
    agent: list[Agent]
    reason: NotRequired[list[CodeableConcept]]
    entity: NotRequired[list[Entity]]


type Resource = (
    Patient
    | Practitioner
    | Questionnaire
    | QuestionnaireResponse
    | Observation
    | DetectedIssue
    | RequestGroup
    | Provenance
)


class Entry(TypedDict):
    fullUrl: str
    resource: Resource


class Bundle(TypedDict):
    resourceType: Literal["Bundle"]
    id: str
    type: Literal["collection"]
    timestamp: str
    entry: list[Entry]


def coding(system: str, code: str, display: str = "") -> Coding:
    result: Coding = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def concept(system: str, code: str, display: str, text: str = "") -> CodeableConcept:
    return {"coding": [coding(system, code, display)], "text": text or display}
