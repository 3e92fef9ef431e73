"""What the app keeps in a session besides Django's own keys."""

# When the person signed in (Unix time): sessions end SESSION_MAX_SECONDS after it.
SIGNED_IN_AT = "_signed_in_at"
# Password checked, second factor not yet: {"user", "backend", "at", "next"}. Nobody is
# signed in until the code is accepted.
PENDING_SIGN_IN = "_pending_sign_in"
PENDING_SIGN_IN_SECONDS = 5 * 60
# Signed in, but the role requires a second factor that is not set up yet: nothing but
# enrolment (and signing out) until it is.
MUST_ENROL = "_must_enrol"
# The recovery codes of a just-confirmed authenticator, shown once and then forgotten.
RECOVERY_CODES = "_recovery_codes"


def fhir_labs_prefill(patient_uuid: object) -> str:
    """Labs read from a FHIR file and confirmed by a clinician, waiting to pre-fill the next
    new-assessment form of this patient, once: {field: {"value", "given", "effective",
    "resource"}}. Nothing is saved until the assessment itself is."""
    return f"_fhir_labs:{patient_uuid}"


# A patient answering through a questionnaire link (clinic.views.selfreport):
# {"invitation": pk, "hash": the token's hash when opened, "confirmed": date of birth
# checked}. A new token or a revocation ends it: the hash no longer matches.
SELF_REPORT = "_self_report"


def invitation_token(invitation_uuid: object) -> str:
    """A questionnaire link's token, just made, for the page that shows it once
    (clinic.views.invitations): popped there; the clinic keeps only its hash."""
    return f"_invitation_token:{invitation_uuid}"


# SMART App Launch (clinic.views.smart). Launches sent to an EHR and not yet answered,
# by their state: {state: {"ehr", "verifier", "nonce", "at", "endpoints"}}.
SMART_PENDING = "_smart_pending"
SMART_PENDING_KEPT = 5  # launches awaiting an answer at once; the oldest goes first
# The launch this session came from: {"ehr", "fhir_user", "patient" (the EHR's Patient
# resource), "token" (its access token, kept here only: never in a URL, log or page),
# "expires_at", "observations" (whether it may read them)}.
SMART_LAUNCH = "_smart_launch"
