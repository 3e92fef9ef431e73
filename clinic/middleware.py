import time
from collections.abc import Callable
from urllib.parse import unquote

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from clinic.access import ArchivedPatient


class NulInAddressMiddleware:
    """Answers 400 to an address with a NUL character in its path or its query string.

    PostgreSQL cannot compare text with NUL (psycopg raises DataError), so a NUL reaching
    a lookup was a 500 there: a rule code in the path (/guidance/rules/a%00b/v1/), an
    admin list filter (?status__exact=%00). No address of the app has one, and forms
    already refuse NUL in what is posted (Django's ProhibitNullCharactersValidator).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = unquote(request.META.get("QUERY_STRING", ""))  # without parsing request.GET
        if "\x00" in request.path_info or "\x00" in query:
            raise BadRequest("A NUL character in the address.")
        return self.get_response(request)


class IdleTimeoutMiddleware:
    """Sign people out after SESSION_COOKIE_AGE without a request (30 minutes).

    Django's SESSION_SAVE_EVERY_REQUEST would do it with a database write on every page;
    this pushes the expiry on at most once a minute instead, so a session ends between
    29 and 30 idle minutes after its last request.
    """

    TOUCH_EVERY_SECONDS = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = int(time.time())
            if now - session.get("_touched", 0) >= self.TOUCH_EVERY_SECONDS:
                session["_touched"] = now  # modified, so saved with a new expiry
        return self.get_response(request)


class ArchivedPatientMiddleware:
    """Turns ArchivedPatient into a message on the patient's page, as Django turns
    PermissionDenied into a 403, so that no view repeats the guard's answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ArchivedPatient):
            return None
        messages.error(
            request,
            "This patient's record is archived: it can be read but not changed. "
            "Nothing was saved. Restore the record first if it is needed again.",
        )
        return redirect(exception.patient)
