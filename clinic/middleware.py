import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django_htmx.http import HttpResponseClientRedirect

from clinic import sessions
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


class NoStoreMiddleware:
    """No response of the app is kept by a browser's cache or a proxy: each one says
    Cache-Control: no-store (with Django's never-cache headers), so that the back button
    or a shared computer shows no patient data after sign-out. Static files never reach
    it: WhiteNoise, above it, serves them with their own long-lived headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response


class SessionLifetimeMiddleware:
    """End a session SESSION_MAX_SECONDS (12 hours) after sign-in, whatever the activity.

    The sign-in time is written into the session when someone signs in (clinic.signals); a
    session without one was not started by this app's sign-in and is ended as well.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            signed_in_at = session.get(sessions.SIGNED_IN_AT)
            if signed_in_at is None or time.time() - signed_in_at >= settings.SESSION_MAX_SECONDS:
                logout(request)
                hours = settings.SESSION_MAX_SECONDS / 3600
                messages.info(
                    request, f"Sessions end {hours:g} hours after sign-in. Please sign in again."
                )
                # LoginRequiredMiddleware now sends the request to the sign-in page.
        return self.get_response(request)


class IdleTimeoutMiddleware:
    """Sign people out after SESSION_COOKIE_AGE without a request (30 minutes).

    Django's SESSION_SAVE_EVERY_REQUEST would do it with a database write on every page;
    this pushes the expiry on at most once every SESSION_TOUCH_SECONDS (a minute) instead,
    so a session ends between 29 and 30 idle minutes after its last request. The idle
    time-out is never under twice that interval (settings.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = int(time.time())
            if now - session.get("_touched", 0) >= settings.SESSION_TOUCH_SECONDS:
                session["_touched"] = now  # modified, so saved with a new expiry
        return self.get_response(request)


class ArchivedPatientMiddleware:
    """Turns ArchivedPatient into a message on the patient's page, as Django turns
    PermissionDenied into a 403, so that no view repeats the guard's answer. An htmx
    request (a live panel, a decision in place) is sent there as a whole page: a plain
    redirect would be followed and the patient's page swapped into a part of the form."""

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
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(exception.patient.get_absolute_url())
        return redirect(exception.patient)


class AccountRequirementsMiddleware:
    """Someone who must set up a second factor, or change their password, can do that and
    sign out, and nothing else. The enrolment flag lives in the session (set at sign-in);
    the password flag on the account, which is loaded with the user (no query)."""

    WHILE_ENROLLING = frozenset(
        {"two_factor_enrol", "two_factor_recovery_codes", "logout", "healthz"}
    )
    WHILE_CHANGING_PASSWORD = frozenset(
        {"password_change", "two_factor_recovery_codes", "logout", "healthz"}
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        if not request.user.is_authenticated or request.resolver_match is None:
            return None
        view_name = request.resolver_match.view_name
        if request.session.get(sessions.MUST_ENROL):
            return None if view_name in self.WHILE_ENROLLING else redirect("two_factor_enrol")
        if request.user.account.must_change_password and (
            view_name not in self.WHILE_CHANGING_PASSWORD
        ):
            messages.info(request, "Please choose a new password before you go on.")
            return redirect("password_change")
        return None
