"""The SMART launch a session came from (clinic.views.smart keeps it), for the screens
that offer what it allows: a new assessment's labs read from the EHR."""

import time
from typing import Any

from django.http import HttpRequest

from clinic import sessions
from interop.models import SmartEhr
from interop.prefetch import matching_patient
from patients.models import Patient


def current_launch(request: HttpRequest) -> dict[str, Any] | None:
    """The launch this session came from, while its access token lasts."""
    kept = request.session.get(sessions.SMART_LAUNCH)
    if not isinstance(kept, dict) or kept.get("expires_at", 0) <= time.time():
        return None
    return kept


def launch_for(request: HttpRequest, patient: Patient) -> tuple[SmartEhr, dict[str, Any]] | None:
    """The session's launch, if it may read Observations and its patient is this patient
    (matched as at the launch: the EHR's MRN system and an agreeing birth date)."""
    kept = current_launch(request)
    if kept is None or not kept.get("observations"):
        return None
    ehr = SmartEhr.objects.filter(pk=kept["ehr"], active=True).first()
    if ehr is None or matching_patient(kept["patient"], ehr.mrn_system) != patient:
        return None
    return ehr, kept
