"""SMART on FHIR App Launch (issue 25): an EHR opens the application on its patient, with
its user signed in here as the account mapped to them (manage.py smart_ehr).

- `launch`: the EHR's launch (`iss` and `launch`) or a standalone one (`iss` alone, or an
  EHR chosen here): off to the EHR's authorization endpoint (interop.smart.begin).
- `callback`: the EHR's answer. The state must be one this session sent; then the token
  exchange, the id_token, the mapped account and the launch's patient (interop.smart).
  Any refusal signs nobody in and reads nothing more.
- `ehr_patient`: the launch's patient when none of ours matches, and `ehr_labs`: a new
  assessment's labs pre-filled from the EHR, for a patient who matches.

The access token stays in the session (the database): never in a URL, a log or a page.
"""

import logging
import time
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clinic import launches, sessions, two_factor
from clinic.access import get_patient_for_user
from clinic.forms.fhir import confirmation
from clinic.requests import AuthenticatedRequest
from interop import smart
from interop.models import SmartEhr
from interop.prefetch import asked_mrn, matching_patient
from patients.models import Patient

logger = logging.getLogger(__name__)

BACKEND = "clinic.backends.CachedPermissionsBackend"
MAX_LAUNCH_LENGTH = 1000  # an EHR's opaque launch id; far longer is not a launch


def refused(request: HttpRequest, error: smart.Refused) -> HttpResponse:
    """The refusal page of a launch: why, in words, and never a token. Logged by reason
    only. An answer that belongs to no launch of this browser is a bad request (400)."""
    logger.warning("SMART launch refused: %s", error.reason)
    status = 400 if error.reason == "state" else 403
    return render(request, "smart/refused.html", {"message": error.message}, status=status)


@login_not_required
@require_GET
def launch(request: HttpRequest) -> HttpResponse:
    """Start a launch: with `iss` (and `launch`, from an EHR), off to the EHR; without,
    the registered EHRs to choose from for a standalone launch."""
    iss = request.GET.get("iss", "").strip()
    if not iss:
        ehrs = SmartEhr.objects.filter(active=True).order_by("name")
        return render(request, "smart/choose.html", {"ehrs": ehrs})
    launch_id = request.GET.get("launch", "").strip()
    try:
        if len(launch_id) > MAX_LAUNCH_LENGTH:
            raise smart.Refused("launch", "The EHR's launch is not one the application can use.")
        ehr = smart.registered_ehr(iss)
        url, pending = smart.begin(ehr, launch=launch_id)
    except smart.Refused as error:
        return refused(request, error)
    waiting = request.session.get(sessions.SMART_PENDING, {})
    waiting[pending.pop("state")] = pending
    # Only the newest few: a launch left unanswered is forgotten.
    request.session[sessions.SMART_PENDING] = dict(
        list(waiting.items())[-sessions.SMART_PENDING_KEPT :]
    )
    return redirect(url)


@login_not_required
@require_GET
def callback(request: HttpRequest, ehr: int) -> HttpResponse:
    """The EHR's answer to a launch, at the address of the EHR it was sent to. Whatever
    happens, its state is used up."""
    waiting = request.session.get(sessions.SMART_PENDING, {})
    pending = waiting.pop(request.GET.get("state", ""), None)
    try:
        if pending is None:
            raise smart.Refused(
                "state",
                "This answer is not for a launch started in this browser. Open the "
                "application from the EHR again.",
            )
        request.session[sessions.SMART_PENDING] = waiting
        request.session.pop(sessions.SMART_LAUNCH, None)  # a new launch ends the last one
        if pending["ehr"] != ehr:
            raise smart.Refused("mix_up", "This answer came from another EHR than the launch.")
        if request.GET.get("error"):
            raise smart.Refused("denied", "The EHR did not authorize the launch.")
        registered = SmartEhr.objects.filter(pk=ehr, active=True).first()
        if registered is None:  # removed since the launch began
            raise smart.Refused("unknown_iss", "This EHR is no longer registered for launch.")
        answered_by = request.GET.get("iss")  # RFC 9207, where the EHR says
        named = answered_by is not None or pending["endpoints"].get("names_itself")
        if named and answered_by != pending["endpoints"]["issuer"]:
            raise smart.Refused("mix_up", "This answer came from another EHR than the launch.")
        code = request.GET.get("code", "")
        if not code:
            raise smart.Refused("token", "The EHR's answer carries no authorization code.")
        found = smart.finish(registered, pending, code)
        user = smart.mapped_user(registered, found.fhir_user)
        # Checked again at each launch: roles change after the mapping was made.
        if user is None or not launches.may_launch(user):
            raise smart.Refused(
                "unmapped",
                "Your EHR account is not linked to an account of this clinic, so the "
                "application cannot sign you in. Ask the clinic's administrator to link it "
                "(manage.py smart_ehr map).",
            )
        counts = settings.SMART_SIGN_IN_COUNTS_AS_TWO_FACTOR
        required, enrolled = two_factor.role_requires_it(user), two_factor.is_enrolled(user)
        if required and not counts and not enrolled:
            raise smart.Refused(
                "two_factor",
                "Your role signs in with a second factor, and you have not set one up. Sign in "
                "here with your password once to set it up, then open the application again.",
            )
        # As after a password: whoever set up a second factor gives its code.
        must_give_code = not counts and (required or enrolled)
    except smart.Refused as error:
        if pending is not None and request.user.is_authenticated:
            # This browser was launched from the EHR for someone: whoever was signed in
            # before is not them (a shared workstation), so nobody stays signed in.
            auth_logout(request)
        return refused(request, error)
    patient = matching_patient(found.patient, registered.mrn_system)
    return signed_in(request, found, user, patient, must_give_code=must_give_code)


def signed_in(
    request: HttpRequest,
    found: smart.Launch,
    user: User,
    patient: Patient | None,
    *,
    must_give_code: bool,
) -> HttpResponse:
    """Sign the mapped account in and keep the launch for them, or, where they must give
    a code first, hand both to the code page (clinic.views.accounts.sign_in_code), which
    keeps the launch and logs it only once the code is right."""
    destination = patient.get_absolute_url() if patient else reverse("smart_patient")
    launch = launches.record(found, user, patient)
    logger.info(
        "SMART launch from EHR %s: %s", found.ehr.pk, patient.uuid if patient else "no match"
    )
    already = request.user.is_authenticated and request.user.pk == user.pk
    if request.user.is_authenticated and not already:
        auth_logout(request)  # someone else was signed in in this browser
    if must_give_code and not already:
        request.session[sessions.PENDING_SIGN_IN] = {
            "user": user.pk,
            "backend": BACKEND,
            "at": int(time.time()),
            "next": destination,
            "smart": launch,
        }
        return redirect("sign_in_code")
    if not already:
        auth_login(request, user, backend=BACKEND)
    launches.keep(request, launch)
    return redirect(destination)


@require_GET
def ehr_patient(request: AuthenticatedRequest) -> HttpResponse:
    """The launch's patient, when no patient of the clinic matched: what the EHR says of
    them, and what can be done."""
    if not request.user.has_perm("patients.view_patient"):
        raise PermissionDenied
    kept = launches.current_launch(request)
    if kept is None:
        return render(request, "smart/no_launch.html")
    ehr = SmartEhr.objects.filter(pk=kept["ehr"], active=True).first()
    resource = kept["patient"]
    patient = matching_patient(resource, ehr.mrn_system) if ehr else None
    if patient is not None:  # registered since the launch
        return redirect(patient)
    return render(
        request,
        "smart/ehr_patient.html",
        {
            "ehr": ehr,
            "mrn": asked_mrn(resource, ehr.mrn_system) if ehr else "",
            "birth_date": resource.get("birthDate", ""),
            "may_register": request.user.has_perm("patients.add_patient"),
        },
    )


@require_POST
def ehr_labs(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """Read the patient's labs from the EHR that launched the application, for the
    clinician to confirm, as a FHIR file's are (clinic.views.fhir)."""
    patient = get_patient_for_user(request, uuid, perm="patients.add_assessment", change=True)
    found_launch = launches.launch_for(request, patient)
    if found_launch is None:
        messages.info(
            request,
            "This browser was not opened from the EHR on this patient, or that launch has "
            "ended: open the application from the EHR again, or use a FHIR file.",
        )
        return redirect("patients:fhir_labs_upload", patient.uuid)
    ehr, kept = found_launch
    try:
        found = smart.labs_from_ehr(
            ehr, token=kept["token"], patient=kept["patient"], now=timezone.now()
        )
    except smart.Refused as error:
        logger.warning("SMART lab search refused: %s", error.reason)
        return render(
            request,
            "smart/labs_refused.html",
            {"patient": patient, "ehr": ehr, "message": error.message},
            status=502,
        )
    return render(
        request,
        "patients/fhir_labs_confirm.html",
        {
            "patient": patient,
            "found": found,
            "from_ehr": ehr,
            "confirm": confirmation(patient, found) if found.labs else None,
        },
    )
