"""The EHR side's records: the EHRs allowed to call the CDS Hooks service, the tokens they
have used, and every hook call, card and feedback, so that a decision that came from an
EHR can be traced to the call, the card and the EHR user behind it."""

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from guidance.models import Decision, Dismissal, Recommendation, Rule
from patients.models import Assessment, Patient


class CdsClient(models.Model):
    """An EHR registered to call the service (`manage.py cds_client add`). Its JWTs are
    checked with its own key set: a static one, or one fetched from an allow-listed URL.

    Decisions that come from its feedback are recorded as made by `user`, an account made
    for the client that cannot sign in (no usable password, inactive, in no group)."""

    iss = models.CharField("Issuer", max_length=300, unique=True)
    name = models.CharField(max_length=100)
    jwks = models.JSONField(
        "Key set", null=True, blank=True, help_text="Public keys only (a JWKS)."
    )
    jwks_url = models.URLField(
        "Key set URL", max_length=300, blank=True, help_text="On DJANGO_CDS_JWKS_URLS."
    )
    # Blank only for clients registered before it was required: they get no cards until
    # it is set (interop.prefetch), and `check --deploy` names them (interop.checks).
    mrn_system = models.CharField(
        "MRN identifier system",
        max_length=300,
        blank=True,
        help_text="The identifier system under which this EHR carries the clinic's MRN.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cds_client"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "CDS Hooks client"
        constraints = [
            models.CheckConstraint(
                condition=(Q(jwks__isnull=False) & Q(jwks_url=""))
                | (Q(jwks__isnull=True) & ~Q(jwks_url="")),
                name="cdsclient_one_key_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.iss})"

    @classmethod
    def register(
        cls,
        *,
        iss: str,
        name: str,
        jwks: dict[str, Any] | None = None,
        jwks_url: str = "",
        mrn_system: str = "",
    ) -> "CdsClient":
        """Register an EHR (keys already checked: interop.keys), or renew a removed one's
        registration with these keys; its account and its history are kept."""
        with transaction.atomic():
            client = CdsClient.objects.select_for_update().filter(iss=iss).first()
            if client is None:
                digest = hashlib.sha256(iss.encode()).hexdigest()[:16]
                user = get_user_model().objects.create_user(
                    username=f"cds-client-{digest}",
                    first_name=name[:150],
                    last_name="(EHR, CDS Hooks)",
                    is_active=False,  # never signs in: it only makes decisions from feedback
                )  # no password given: unusable
                client = CdsClient(iss=iss, user=user)
            client.name = name
            client.jwks = jwks
            client.jwks_url = jwks_url
            client.mrn_system = mrn_system
            client.active = True
            client.deactivated_at = None
            client.save()
        return client

    def deactivate(self) -> None:
        """Refuse its calls from now on; its calls, feedback and decisions stay."""
        self.active = False
        self.deactivated_at = timezone.now()
        self.save(update_fields=["active", "deactivated_at"])

    @property
    def key_summary(self) -> str:
        """What the admin and `cds_client list` show of the keys: ids and algorithms only."""
        if self.jwks_url:
            return self.jwks_url
        keys = (self.jwks or {}).get("keys", [])
        return ", ".join(
            f"{key.get('kid', '?')} ({key.get('alg') or key.get('kty', '?')})" for key in keys
        )


class SeenToken(models.Model):
    """A JWT already presented (its issuer and id), kept until it expires: a second use is
    refused. In the database, so that the guard holds across gunicorn workers and hosts."""

    iss = models.CharField(max_length=300)
    jti = models.CharField(max_length=200)
    expires_at = models.DateTimeField(db_index=True)  # the purge of expired tokens

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["iss", "jti"], name="seentoken_once_per_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.jti} from {self.iss}"


class HookCall(models.Model):
    """One hook call from an EHR: who called, for which EHR user and patient, and which of
    our patients (if any) it matched."""

    hook_instance = models.UUIDField()
    client = models.ForeignKey(CdsClient, on_delete=models.PROTECT, related_name="calls")
    service = models.CharField(max_length=40)
    ehr_user = models.CharField("EHR user", max_length=300, help_text="context.userId")
    ehr_patient = models.CharField("EHR patient", max_length=300, help_text="context.patientId")
    ehr_mrn = models.CharField(
        "MRN asked for",
        max_length=20,
        blank=True,
        help_text="The record number the EHR's Patient carried under the client's MRN system.",
    )
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assessment = models.ForeignKey(
        Assessment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refusals = models.JSONField(
        default=list,
        blank=True,
        help_text="Prefetched results that were not used, each by name and why.",
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The per-client rate limits (interop.limits): a client's calls of the last hour.
            models.Index(fields=["client", "at"], name="hookcall_client_at"),
        ]

    def __str__(self) -> str:
        return f"{self.service} from {self.client.name} at {self.at:%Y-%m-%d %H:%M}"


class HookCard(models.Model):
    """A card sent in answer to a hook call. `uuid` is the card's uuid in the response;
    feedback names it. `card_version` is the version of our card when it was sent: feedback
    decides only on that version (a decision made in the app meanwhile wins)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    call = models.ForeignKey(HookCall, on_delete=models.PROTECT, related_name="cards")
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="+")
    # Our card, if there was one: an undecided card goes when a correction of the
    # assessment means its rule no longer fires, and feedback on it is then stale.
    recommendation = models.ForeignKey(
        Recommendation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    card_version = models.PositiveIntegerField(null=True, blank=True)
    suggestion_uuid = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.rule} in {self.call}"


class Outcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    OVERRIDDEN = "overridden", "Overridden"


class HookFeedback(models.Model):
    """What the EHR user did with a card, as the EHR reported it, and the decision or the
    dismissal it recorded here (neither when it was stale: the card had been decided, in
    the app or by earlier feedback, or corrected, or the patient's record archived, since
    it was sent)."""

    hook_card = models.ForeignKey(HookCard, on_delete=models.PROTECT, related_name="feedback")
    outcome = models.CharField(max_length=10, choices=Outcome)
    outcome_timestamp = models.DateTimeField()
    override_code = models.CharField(max_length=100, blank=True)
    override_system = models.CharField(max_length=300, blank=True)
    override_display = models.CharField(max_length=300, blank=True)
    comment = models.TextField(blank=True)
    decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Overridden with neither a reason nor a comment: a dismissal, not a decision.
    dismissal = models.ForeignKey(
        Dismissal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stale = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The same feedback sent twice is one feedback (and so one decision).
            models.UniqueConstraint(
                fields=["hook_card", "outcome", "outcome_timestamp"], name="hookfeedback_once"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=Outcome.values), name="hookfeedback_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} on {self.hook_card.uuid}"


class SmartEhr(models.Model):
    """An EHR registered to open this application on its current patient and user (SMART
    on FHIR App Launch 2, issue 25). Nothing is trusted until registered here
    (manage.py smart_ehr); a launch naming any other issuer is refused.

    A confidential client's credential (a client secret, or a private key as a JWK) is
    never stored: credential_env names the environment variable that holds it."""

    iss = models.URLField("Issuer (its FHIR base URL)", max_length=300, unique=True)
    name = models.CharField(max_length=100)
    client_id = models.CharField("This application's client id there", max_length=200)
    # As for a CDS Hooks client: a launch's Patient is ours only by its record number under
    # this system and an agreeing birth date (interop.prefetch.matching_patient).
    mrn_system = models.CharField(
        "MRN identifier system",
        max_length=300,
        blank=True,
        help_text="The identifier system under which this EHR carries the clinic's MRN.",
    )
    credential_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Empty for a public client; else the environment variable holding the "
        "client secret or private key.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.iss})"

    @property
    def confidential(self) -> bool:
        return bool(self.credential_env)


class SmartUser(models.Model):
    """Which local account an EHR user (its fhirUser) signs in as. No mapping, no sign-in:
    an unmapped EHR user is refused, never given a new account."""

    ehr = models.ForeignKey(SmartEhr, on_delete=models.PROTECT, related_name="users")
    fhir_user = models.CharField("EHR user (fhirUser)", max_length=300)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="smart_identities"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ehr", "fhir_user"], name="smartuser_once_per_ehr")
        ]

    def __str__(self) -> str:
        return f"{self.fhir_user} at {self.ehr.name}"
