"""Signing in and out (password, then a code when the person has an authenticator), one's
own account (two-factor enrolment, password), and the account review for superusers."""

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import launches, sessions, two_factor
from clinic.forms.accounts import CodeForm, RoleForm, SignInForm
from clinic.models import Account, AccountEvent, EnrolmentCode
from clinic.requests import AuthenticatedRequest
from clinic.throttling import remember_browser


class SignInView(auth_views.LoginView):
    """Signing in. Where a role requires two-factor sign-in (two_factor.in_force), the
    code comes with the password, checked by the form: someone who must enrol and has not
    signs in with the one-time enrolment code a superuser issued, and can do nothing but
    enrol until it is done (clinic.middleware.AccountRequirementsMiddleware).

    Where no role requires it, the password comes first; someone who set up an
    authenticator anyway gives the code on the next page (sign_in_code)."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if two_factor.in_force():
            return self.signed_in(user, enrolling=getattr(form, "enrolling", False))
        if two_factor.is_enrolled(user):
            self.request.session[sessions.PENDING_SIGN_IN] = {
                "user": user.pk,
                "backend": user.backend,
                "at": int(time.time()),
                "next": self.get_success_url(),
            }
            return redirect("sign_in_code")
        # Not in force: nobody's role requires a second factor, so nobody must enrol.
        return self.signed_in(user, enrolling=False)

    def signed_in(self, user: User, *, enrolling: bool) -> HttpResponse:
        """The password (and where asked for, the code) accepted. Someone who signed in
        with an enrolment code can do nothing but enrol until it is done."""
        # A launch from an EHR waiting for someone else's code is not this person's.
        self.request.session.pop(sessions.PENDING_SIGN_IN, None)
        auth_login(self.request, user)
        if enrolling:
            self.request.session[sessions.MUST_ENROL] = True
            response: HttpResponse = redirect("two_factor_enrol")
        else:
            response = HttpResponseRedirect(self.get_success_url())
        remember_browser(self.request, response, user.get_username())
        return response


sign_in = login_not_required(SignInView.as_view())
sign_out = auth_views.LogoutView.as_view()


@login_not_required
@sensitive_post_parameters("code")
def sign_in_code(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a recovery code."""
    pending = request.session.get(sessions.PENDING_SIGN_IN)
    if request.user.is_authenticated and not pending:
        return redirect("home")
    user = None
    if pending is not None and time.time() - pending["at"] < sessions.PENDING_SIGN_IN_SECONDS:
        user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if pending is None or user is None:
        request.session.pop(sessions.PENDING_SIGN_IN, None)
        messages.info(request, "Sign in again: the code must follow the password within 5 minutes.")
        return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if two_factor.verify(user, form.cleaned_data["code"]) is not None:
            del request.session[sessions.PENDING_SIGN_IN]
            auth_login(request, user, backend=pending["backend"])
            if pending.get("smart"):  # an EHR launch, kept once the code is right
                launches.keep(request, pending["smart"])
            response = HttpResponseRedirect(pending["next"])
            remember_browser(request, response, user.get_username())
            return response
        form.add_error(
            "code", "That code is not right, or was used already. Try the next code shown."
        )
    return render(request, "registration/sign_in_code.html", {"form": form})


@login_not_required
def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """The admin has no sign-in of its own: one door, one throttle, one second factor."""
    target = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({'next': target})}")


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """django-axes' answer to a locked (user name, address) pair, or to a new browser
    during an account's lock (AXES_LOCKOUT_CALLABLE; clinic.throttling)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"minutes": minutes, "account": getattr(request, "account_locked", False)}
    return render(request, "registration/locked_out.html", context, status=429)


def account(request: AuthenticatedRequest) -> HttpResponse:
    """One's own account: roles, second factor, password."""
    user = request.user
    return render(
        request,
        "clinic/account.html",
        {
            "roles": list(user.groups.values_list("name", flat=True)),
            "enrolled": two_factor.is_enrolled(user),
            "recovery_codes_left": two_factor.recovery_codes_left(user),
        },
    )


@sensitive_post_parameters("code")
def two_factor_enrol(request: AuthenticatedRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the secret), then confirm
    with one code from the app. The recovery codes are shown on the next page, once."""
    user = request.user
    if two_factor.is_enrolled(user):
        request.session.pop(sessions.MUST_ENROL, None)
        messages.info(
            request,
            "Two-factor sign-in is already set up. To replace your authenticator, ask a "
            "superuser to reset your second factor.",
        )
        return redirect("account")
    device = two_factor.new_authenticator(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = two_factor.confirm(device, form.cleaned_data["code"])
        if codes is not None:
            user.account.record(AccountEvent.Action.SECOND_FACTOR_ENROLLED, by=user)
            request.session.pop(sessions.MUST_ENROL, None)
            request.session[sessions.RECOVERY_CODES] = codes
            return redirect("two_factor_recovery_codes")
        form.add_error("code", "That code is not right. Check the app and try the next code.")
    return render(
        request,
        "clinic/two_factor_enrol.html",
        {
            "form": form,
            "qr_code": two_factor.qr_code_svg(device),
            "secret": two_factor.secret_text(device),
            "required": request.session.get(sessions.MUST_ENROL, False),
        },
    )


def two_factor_recovery_codes(request: AuthenticatedRequest) -> HttpResponse:
    codes = request.session.pop(sessions.RECOVERY_CODES, None)
    if codes is None:
        messages.info(request, "Recovery codes are shown once, when they are made.")
        return redirect("account")
    return render(request, "clinic/two_factor_recovery_codes.html", {"codes": codes})


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's: the old password, the new one twice, the validators; the session stays."""

    success_url = reverse_lazy("account")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        form.user.account.password_changed()
        messages.success(self.request, "Your password has been changed.")
        return response


password_change = PasswordChangeView.as_view()


def superuser_required[V: Callable[..., HttpResponseBase]](view: V) -> V:
    @wraps(view)
    def check(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_superuser:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return check  # type: ignore[return-value]


@superuser_required
def account_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every account: role, last sign-in, second factor, active; and what was done to them."""
    users = (
        User.objects.select_related("account")
        .prefetch_related("groups")
        .annotate(
            enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            failing=Exists(AccessAttempt.objects.filter(username=OuterRef("username"))),
        )
        .order_by("username")
    )
    events = AccountEvent.objects.select_related("user", "by")[:50]
    return render(
        request,
        "clinic/account_list.html",
        {
            "users": users,
            "events": events,
            "role_form": RoleForm(),
            "enrolment_hours": settings.TWO_FACTOR_ENROLMENT_HOURS,
        },
    )


ACTIONS = {
    "enrolment-code": "enrolment code issued",
    "clear-sign-in-lock": "sign-in failures cleared: lock-outs lifted",
    "deactivate": "deactivated: signed out everywhere, and cannot sign in",
    "reactivate": "reactivated",
    "reset-second-factor": "second factor reset",
    "force-password-change": "must change the password at the next page",
    "role": "role changed",
}


@superuser_required
@require_POST
def account_action(request: AuthenticatedRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise PermissionDenied
    user = get_object_or_404(User, pk=pk)
    account, _ = Account.objects.select_related("user").get_or_create(user=user)
    by = request.user
    if action == "deactivate":
        if user == by:
            messages.error(request, "You cannot deactivate your own account.")
            return redirect("account_list")
        account.deactivate(by=by)
    elif action == "reactivate":
        account.reactivate(by=by)
    elif action == "reset-second-factor":
        account.reset_second_factor(by=by)
    elif action == "enrolment-code":
        return enrolment_code(request, user)
    elif action == "clear-sign-in-lock":
        account.clear_sign_in_failures(by=by)
    elif action == "force-password-change":
        account.force_password_change(by=by)
    else:
        form = RoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose one of the roles listed.")
            return redirect("account_list")
        account.set_role(form.group(), by=by)
    messages.success(request, f"{user.get_username()}: {ACTIONS[action]}.")
    return redirect("account_list")


def enrolment_code(request: AuthenticatedRequest, person: User) -> HttpResponse:
    """A new one-time enrolment code, shown once, in the answer to the post itself (never
    in a message or the session). Refused for an inactive account or one already enrolled
    (reset its second factor first)."""
    if not person.is_active or two_factor.is_enrolled(person):
        messages.error(
            request,
            f"{person.get_username()}: no enrolment code for an inactive account or one with "
            "an authenticator (reset the second factor first).",
        )
        return redirect("account_list")
    code = EnrolmentCode.issue(person, by=request.user)
    latest = EnrolmentCode.objects.filter(user=person).latest("issued_at")
    return render(
        request,
        "clinic/enrolment_code.html",
        {"person": person, "code": code, "expires_at": latest.expires_at},
    )
