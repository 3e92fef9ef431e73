"""What the CDS Hooks endpoints answer: JSON without null or empty values (the
specification's rule for every response), and every error as a FHIR OperationOutcome."""

from collections.abc import Mapping
from typing import Any

from django.http import JsonResponse

from interop.shapes import OperationOutcome


def compact(value: Any, keep: tuple[str, ...] = ()) -> Any:
    """The value without null, empty strings, empty lists or empty objects, at any depth
    (an object or list left empty by that goes too). False and 0 are values and stay.
    The keys in `keep` stay even when empty: a required list (cards: [] is "no advice")."""
    if isinstance(value, dict):
        items = ((key, compact(item)) for key, item in value.items())
        return {key: item for key, item in items if key in keep or not _empty(item)}
    if isinstance(value, list | tuple):
        return [item for item in map(compact, value) if not _empty(item)]
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def cds_json(body: Mapping[str, object], status: int = 200) -> JsonResponse:
    return JsonResponse(compact(body, keep=("cards",)), status=status)


class CdsError(Exception):
    """A refusal, answered as an OperationOutcome with an HTTP status.

    `code` is from FHIR's issue-type value set (login, security, invalid, required,
    not-found, not-supported...); `diagnostics` says what was wrong, in words, and never
    echoes a token or a patient's data."""

    def __init__(
        self, status: int, code: str, diagnostics: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        response = cds_json(operation_outcome(self.code, self.diagnostics), status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def operation_outcome(code: str, diagnostics: str) -> OperationOutcome:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def unauthorized(diagnostics: str, *, missing: bool = False) -> CdsError:
    """401 for a missing or bad token; the header names the scheme the service takes (and,
    for a token that was sent, that it was refused: RFC 6750)."""
    challenge = 'Bearer realm="cds-services"' + ("" if missing else ', error="invalid_token"')
    return CdsError(401, "login", diagnostics, headers={"WWW-Authenticate": challenge})


def bad_request(diagnostics: str, code: str = "invalid") -> CdsError:
    return CdsError(400, code, diagnostics)
