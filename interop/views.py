"""The three CDS Hooks endpoints: discovery, a service, and its feedback.

An EHR calls them, not a person: the JWT each request carries is their authentication
(interop.auth), so they take no session sign-in and no CSRF token. JSON in and out, every
refusal a FHIR OperationOutcome. CORS (for EHRs running in a browser, like the CDS Hooks
sandbox) comes from django-cors-headers, for the origins on CORS_ALLOWED_ORIGINS.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from interop import feedback, hooks
from interop.auth import authenticate
from interop.hook_request import MAX_BODY_BYTES, read_request
from interop.models import CdsClient
from interop.responses import CdsError, bad_request, cds_json
from interop.shapes import Cards

type Endpoint = Callable[..., HttpResponse]


def cds_endpoint(method: str) -> Callable[[Endpoint], Endpoint]:
    """Allow one HTTP method, authenticate the calling EHR, and answer every refusal as an
    OperationOutcome. The view is called with the client after the request."""

    def decorate(view: Endpoint) -> Endpoint:
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method != method:
                    raise CdsError(
                        405,
                        "not-supported",
                        f"This endpoint takes {method} only.",
                        headers={"Allow": method},
                    )
                client = authenticate(request)
                # The client's account is the request's user: history rows of what the
                # feedback changes name it (django-simple-history reads request.user).
                request.user = client.user
                return view(request, client, *args, **kwargs)
            except CdsError as error:
                return error.response()

        return endpoint

    return decorate


@cds_endpoint("GET")
def discovery(request: HttpRequest, client: CdsClient) -> HttpResponse:
    return cds_json(hooks.discovery())


@cds_endpoint("POST")
def service(request: HttpRequest, client: CdsClient, service_id: str) -> HttpResponse:
    found = _service(service_id)
    hook_request = read_request(
        _body(request), hook=found.hook, service_id=found.id, client=client, at=timezone.now()
    )
    cards: Cards = {"cards": found.answer(hook_request)}
    return cds_json(cards)


@cds_endpoint("POST")
def service_feedback(request: HttpRequest, client: CdsClient, service_id: str) -> HttpResponse:
    _service(service_id)
    items = feedback.read_feedback(_body(request), client, service_id)
    feedback.record(items, client)
    return cds_json({})


def _service(service_id: str) -> hooks.Service:
    found = hooks.SERVICES.get(service_id)
    if found is None:
        raise CdsError(404, "not-found", "There is no CDS service with this id.")
    return found


def _body(request: HttpRequest) -> bytes:
    """The raw body, refused before it is read when it says it is too large."""
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise bad_request(f"The body is larger than {MAX_BODY_BYTES:,} bytes.", "too-long")
    try:
        return request.body
    except RequestDataTooBig:
        raise bad_request(
            f"The body is larger than {MAX_BODY_BYTES:,} bytes.", "too-long"
        ) from None
