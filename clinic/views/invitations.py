"""Questionnaires a patient answers at home (issue 24), as clinicians and staff handle
them: inviting (the link and its QR code, shown once), revoking, sending again."""

import logging
import smtplib
from uuid import UUID

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.mail import send_mail
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from clinic import sessions, tasks
from clinic.access import get_patient_for_user
from clinic.forms.invitations import InvitationForm
from clinic.requests import AuthenticatedRequest
from patients.invitations import (
    DEFAULT_EXPIRY_DAYS,
    REMIND_AFTER,
    Invitation,
    InvitationStatus,
)

logger = logging.getLogger(__name__)


def link_of(token: str) -> str:
    return settings.PUBLIC_BASE_URL + reverse("selfreport:open", args=[token])


def qr_code(link: str) -> SafeString:
    svg = segno.make(link, error="m").svg_inline(
        scale=4, title="QR code of the questionnaire link", svgclass="qr-code"
    )
    return mark_safe(svg)  # noqa: S308  (segno's markup: paths and its escaped title)


def email_link(
    request: AuthenticatedRequest, invitation: Invitation, link: str, address: str
) -> None:
    """The link by email (no name, nothing clinical), then its one reminder, queued for
    two days later (clinic.tasks.remind). If the mail server refuses, the link is still
    shown to hand over, and the page says so."""
    try:
        send_mail(
            f"Questions from {settings.CLINIC_NAME}",
            render_to_string(
                "patients/invitation_email.txt",
                {"clinic_name": settings.CLINIC_NAME, "link": link, "invitation": invitation},
            ),
            None,
            [address],
        )
    except (OSError, smtplib.SMTPException):
        logger.exception("Emailing the link of invitation %s failed", invitation.uuid)
        messages.error(request, "The email could not be sent: hand the link over below.")
        return
    messages.success(request, "The link was emailed to the patient too.")
    invitation.emailed_to = address
    invitation.save(update_fields=["emailed_to"])
    tasks.remind.using(run_after=timezone.now() + REMIND_AFTER).enqueue(invitation.pk)


def show_link_once(
    request: AuthenticatedRequest, invitation: Invitation, token: str
) -> HttpResponse:
    """Hand the new token to the link page, which shows it once (after a redirect, so that
    reloading neither posts again nor shows it again); only its hash is kept."""
    request.session[sessions.invitation_token(invitation.uuid)] = token
    return redirect("patients:invitation_link", invitation.uuid)


@permission_required("patients.view_invitation", raise_exception=True)
def invitation_link(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects.select_related("patient"), uuid=uuid)
    patient = get_patient_for_user(
        request, invitation.patient.uuid, perm="patients.view_invitation"
    )
    token = request.session.pop(sessions.invitation_token(invitation.uuid), None)
    link = link_of(token) if token else None
    return render(
        request,
        "patients/invitation_link.html",
        {
            "patient": patient,
            "invitation": invitation,
            "link": link,
            "qr": qr_code(link) if link else None,
        },
    )


@permission_required("patients.add_invitation", raise_exception=True)
@require_http_methods(["GET", "POST"])
def invite(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    patient = get_patient_for_user(request, uuid, perm="patients.add_invitation", change=True)
    form = InvitationForm(
        request.POST if request.method == "POST" else None, email_to=patient.email
    )
    if request.method == "POST" and form.is_valid():
        invitation, token = Invitation.make(
            patient=patient,
            questionnaires=form.cleaned_data["questionnaires"],
            days=form.cleaned_data["days"],
            by=request.user,
        )
        if form.cleaned_data.get("email"):
            email_link(request, invitation, link_of(token), patient.email)
        return show_link_once(request, invitation, token)
    return render(request, "patients/invitation_form.html", {"patient": patient, "form": form})


@permission_required("patients.change_invitation", raise_exception=True)
@require_POST
def invitation_action(request: AuthenticatedRequest, uuid: UUID, action: str) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects.select_related("patient"), uuid=uuid)
    patient = get_patient_for_user(
        request, invitation.patient.uuid, perm="patients.change_invitation", change=True
    )
    status = invitation.status
    if action == "revoke" and invitation.open:
        invitation.revoke(by=request.user)
        messages.success(request, "The link is revoked: it no longer opens.")
    elif action == "resend" and status not in (
        InvitationStatus.SUBMITTED,
        InvitationStatus.REVIEWED,
        InvitationStatus.REVOKED,
    ):
        token = invitation.resend(days=DEFAULT_EXPIRY_DAYS)
        if invitation.emailed_to and settings.EMAIL_LINKS:  # emailed before: the new one too
            email_link(request, invitation, link_of(token), invitation.emailed_to)
        return show_link_once(request, invitation, token)
    else:
        messages.error(
            request, format_html("Nothing was changed: the invitation is {}.", status.label.lower())
        )
    return redirect(patient)
