"""Reading a CDS Hooks request: its JSON, its shape (a pydantic model: CDS Hooks 2.0's
required fields and their types), then what the shape cannot say: the prefetched Patient
is the context's, and the client is within its rate limits (interop.limits). Every
refusal is a CdsError naming the field: 400 for a malformed request, 412 for a missing
prefetch, 429 past the limits. Nothing is written before the request is read whole.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, StrictStr, StringConstraints

from interop import json_input, limits
from interop.models import CdsClient
from interop.prefetch import asked_mrn
from interop.responses import CdsError, bad_request

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_ID_LENGTH = 300  # context.userId and context.patientId, as stored on HookCall

Id = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1)]


class Context(BaseModel):
    """The hook's context: whose chart, which user; for order-select, the draft orders."""

    model_config = ConfigDict(extra="allow")

    patientId: Id
    userId: Id
    draftOrders: dict[str, Any] | None = None
    selections: list[StrictStr] | None = None


class HookBody(BaseModel):
    """A hook request as CDS Hooks 2.0 writes it; other fields are allowed and not read."""

    model_config = ConfigDict(extra="allow")

    hook: StrictStr
    hookInstance: StrictStr
    fhirServer: StrictStr | None = None
    fhirAuthorization: dict[str, Any] | None = None
    context: Context
    prefetch: dict[str, Any] | None = None


# What a refusal says of each field the model checks, in words for the EHR's developers.
FIELD_MESSAGES = {
    ("hook",): "hook is required: a string.",
    ("hookInstance",): "hookInstance is required: a UUID, as a string.",
    ("fhirServer",): "fhirServer must be a URL, as a string.",
    ("fhirAuthorization",): "fhirAuthorization must be an object.",
    ("context",): "context is required: an object.",
    ("context", "patientId"): "context.patientId is required: a non-empty string.",
    ("context", "userId"): "context.userId is required: a non-empty string.",
    ("context", "draftOrders"): "context.draftOrders is required: a FHIR Bundle.",
    ("context", "selections"): "context.selections is required: a list of strings.",
    ("prefetch",): "prefetch must be an object.",
}


@dataclass(frozen=True)
class HookRequest:
    client: CdsClient
    service_id: str
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


def read_request(
    body: bytes, *, hook: str, service_id: str, client: CdsClient, at: datetime
) -> HookRequest:
    """The hook request in `body` for the service `service_id` (of hook `hook`)."""
    data = read_json(body)
    if data.get("hook") != hook:
        raise bad_request(f"hook must be {hook!r} for the service {service_id!r}.")
    shape = _shape(data)
    try:
        hook_instance = uuid.UUID(shape.hookInstance)
    except ValueError:
        raise bad_request("hookInstance must be a UUID.") from None
    if shape.fhirAuthorization is not None and not shape.fhirServer:
        raise bad_request("fhirAuthorization is given without fhirServer.", "required")
    context = shape.context
    for name, value in (("patientId", context.patientId), ("userId", context.userId)):
        if len(value) > MAX_ID_LENGTH:
            raise bad_request(f"context.{name} is longer than {MAX_ID_LENGTH} characters.")
    if hook == "order-select":
        if context.draftOrders is None:
            raise bad_request(FIELD_MESSAGES[("context", "draftOrders")], "required")
        if context.selections is None:
            raise bad_request(FIELD_MESSAGES[("context", "selections")], "required")
    prefetch = with_patient(
        shape.prefetch or {}, context.patientId, fhir_access="fhirAuthorization" in data
    )
    if prefetch["patient"] is not None and not isinstance(prefetch["patient"], dict):
        raise bad_request("prefetch.patient must be a FHIR resource (an object) or null.")
    _check_same_patient(prefetch, context.patientId, client, hook_instance)
    request = HookRequest(
        client=client,
        service_id=service_id,
        hook_instance=hook_instance,
        user_id=context.userId,
        patient_id=context.patientId,
        context=data["context"],
        prefetch=prefetch,
        fhir_server=shape.fhirServer or "",
        at=at,
    )
    limits.check(client, patient_id=request.patient_id, mrn=request.mrn, now=at)
    return request


def _shape(data: dict[str, Any]) -> HookBody:
    """The body checked against HookBody; a 400 naming the first field that is not right."""
    try:
        return HookBody.model_validate(data)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        where = tuple(str(part) for part in first["loc"])
        message = FIELD_MESSAGES.get(where[:2]) or FIELD_MESSAGES.get(where[:1])
        code = "required" if first["type"] == "missing" else "invalid"
        raise bad_request(message or f"{'.'.join(where)} is not valid.", code) from None


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
