"""Per-client rate limits on hook calls: how many calls a minute, and how many distinct
patients an hour. A registered EHR is trusted to call for the charts its users open; one
that tries record numbers in a row (or whose keys were taken) is slowed to what the limits
allow, and every call it makes is on record (HookCall).

Counted from the calls kept in the database, so the limits hold across gunicorn workers
and hosts. Calls in flight at the same moment are not counted against each other, so a
burst may pass a limit by the number of calls made at once; that slack is small next to
the limits and buys not serialising every call of a client.
"""

from datetime import datetime, timedelta

from django.conf import settings

from interop.models import CdsClient, HookCall
from interop.responses import CdsError

CALL_WINDOW = timedelta(minutes=1)
PATIENT_WINDOW = timedelta(hours=1)


def check(client: CdsClient, *, patient_id: str, mrn: str, now: datetime) -> None:
    """Refuse (429, with Retry-After) a call past the client's limits. A patient already
    asked for in the last hour is not a new one: the limit on patients slows an EHR that
    walks through records, not one that reopens a chart."""
    calls = HookCall.objects.filter(client=client)
    if calls.filter(at__gt=now - CALL_WINDOW).count() >= settings.CDS_MAX_CALLS_PER_MINUTE:
        raise _throttled(
            f"More than {settings.CDS_MAX_CALLS_PER_MINUTE} hook calls in a minute from "
            "this client.",
            CALL_WINDOW,
        )
    recent = calls.filter(at__gt=now - PATIENT_WINDOW)
    if recent.filter(ehr_patient=patient_id, ehr_mrn=mrn).exists():
        return
    asked = recent.values("ehr_patient", "ehr_mrn").distinct().count()
    if asked >= settings.CDS_MAX_PATIENTS_PER_HOUR:
        raise _throttled(
            f"More than {settings.CDS_MAX_PATIENTS_PER_HOUR} distinct patients in an hour "
            "from this client.",
            PATIENT_WINDOW,
        )


def _throttled(diagnostics: str, window: timedelta) -> CdsError:
    seconds = int(window.total_seconds())
    return CdsError(429, "throttled", diagnostics, headers={"Retry-After": str(seconds)})
