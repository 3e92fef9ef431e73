"""The JSON this service sends an EHR, as types (CDS Hooks 2.0 and FHIR R4's
OperationOutcome), so that mypy checks every field we write. What it receives is read by
pydantic models (interop.hook_request) or checked field by field (interop.feedback)."""

from typing import Literal, NotRequired, TypedDict


class Coding(TypedDict):
    system: str
    code: str
    display: str


class Source(TypedDict):
    label: str
    url: str


class Link(TypedDict):
    label: str
    url: str
    type: Literal["absolute", "smart"]


class Suggestion(TypedDict):
    uuid: str
    label: str
    isRecommended: bool


class Card(TypedDict):
    uuid: str
    summary: str
    indicator: str  # info, warning or critical (guidance.models.Indicator)
    detail: str
    source: Source
    links: list[Link]
    overrideReasons: list[Coding]
    suggestions: NotRequired[list[Suggestion]]  # options only: one, accepting the option
    selectionBehavior: NotRequired[Literal["at-most-one"]]


class Cards(TypedDict):
    cards: list[Card]


class ServiceDefinition(TypedDict):
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str]


class Discovery(TypedDict):
    services: list[ServiceDefinition]


class Issue(TypedDict):
    severity: Literal["error"]
    code: str  # FHIR's issue type: invalid, login, throttled...
    diagnostics: str


class OperationOutcome(TypedDict):
    resourceType: Literal["OperationOutcome"]
    issue: list[Issue]
