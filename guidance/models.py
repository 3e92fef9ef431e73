import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from guidance.default_rules import CONTENT_FIELDS
from guidance.engine import INDICATOR_ORDER, CaseResult, ConditionError, run_cases
from patients.models import Assessment, FollowUp, Patient, Versioned


class Category(models.TextChoices):
    MEDICATION = "medication", "Medication"
    SAFETY = "safety", "Safety"
    IRON = "iron", "Iron"
    BEHAVIOURAL = "behavioural", "Behavioural"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    LIFESTYLE = "lifestyle", "Lifestyle"
    DIAGNOSIS = "diagnosis", "Diagnosis"
    MONITORING = "monitoring", "Monitoring"


class Kind(models.TextChoices):
    """product.md 5.1: an option is a course of action to accept, decline or defer; a
    caution is something to weigh, acknowledged (or deferred), never accepted."""

    OPTION = "option", "Option"
    CAUTION = "caution", "Caution"


class Strength(models.TextChoices):
    """product.md 5.4: an option's grade in the AASM 2024 table (clinical-reference.md 5.2).
    Inside a category, options come in this order; a caution has no strength."""

    STRONG = "strong", "Strong recommendation (AASM 2024)"
    CONDITIONAL = "conditional", "Conditional recommendation (AASM 2024)"
    NOT_GRADED = "not_graded", "Not graded"
    AGAINST_STANDARD_USE = "against_standard_use", "Against standard use (AASM 2024, conditional)"


# Options in a category, and options in the review queue and the patient header, in this
# order: what to do before what to avoid.
STRENGTH_ORDER = {strength: rank for rank, strength in enumerate(Strength.values)}


class Indicator(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class RuleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


def rank_of(indicator: str, kind: str, strength: str | None) -> int:
    """Rule.rank, from the three fields it depends on (a migration computes it too)."""
    if indicator == Indicator.CRITICAL:
        return 0
    if kind == Kind.OPTION:
        return 1 + STRENGTH_ORDER.get(strength or Strength.NOT_GRADED, 2)
    return 5 + INDICATOR_ORDER[indicator] - INDICATOR_ORDER[Indicator.WARNING]


class RuleQuerySet(models.QuerySet["Rule"]):
    def active(self) -> "RuleQuerySet":
        return self.filter(status=RuleStatus.ACTIVE)

    def of(self, code: str) -> "RuleQuerySet":
        return self.filter(code=code).order_by("-version")


class Rule(models.Model):
    """One version of a guidance rule. A version's content never changes once saved:
    editing saves a new version, so every card can point at exactly what produced it.
    Only the status moves (draft, active, retired); one version of a code is active."""

    # What a version says, in the rule page's order: the fields the editor edits, the
    # comparison shows and changed_fields names, and that load_default_rules compares
    # (guidance.default_rules, which migrations use too, holds the list).
    CONTENT_FIELDS: tuple[str, ...] = tuple(CONTENT_FIELDS)

    code = models.CharField(max_length=40, help_text="For example MED-GABAPENTINOID.")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=RuleStatus, default=RuleStatus.DRAFT)
    title = models.CharField(max_length=200)
    detail = models.TextField()
    category = models.CharField(max_length=12, choices=Category)
    indicator = models.CharField(max_length=8, choices=Indicator)
    kind = models.CharField(max_length=7, choices=Kind, default=Kind.OPTION)
    strength = models.CharField(  # noqa: DJ001 (a caution has none: null)
        max_length=20,
        choices=Strength,
        null=True,
        blank=True,
        help_text="For an option: the grade of its recommendation in the AASM 2024 table "
        "(product.md 5.4). A caution has none.",
    )
    qualifies = models.JSONField(
        default=list,
        blank=True,
        help_text="For a caution: the codes of the options it qualifies. It is shown inside "
        "each of those options' cards when they fire, and stands alone otherwise.",
    )
    condition = models.TextField(
        help_text="An expression over the facts, in the rule-engine language, e.g. "
        "rls_criteria_met and ferritin_ng_ml != null and ferritin_ng_ml <= 75"
    )
    source = models.TextField(
        help_text="Where the advice comes from: the source document's section and the "
        "guideline or label, as in clinical-reference.md."
    )
    evidence = models.CharField(
        max_length=300,
        help_text="The guideline's strength and the reference's tag (V, V2; U is unverified).",
    )
    test_cases = models.JSONField(
        default=list,
        blank=True,
        help_text="Facts and whether the rule should fire; all must pass before activation.",
    )
    change_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The version this one was made from in the editor (none for a new rule or one loaded
    # from the defaults): saving or activating it after a newer version of the same base
    # was saved shows what that version changed (clinic.views.rules).
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    retire_reason = models.CharField(max_length=300, blank=True, editable=False)
    # Knowledge currency (issue 23): part of the version, like its content.
    owner = models.CharField(
        max_length=100,
        blank=True,
        help_text="Who keeps this rule current: a person or a group. Yours if left empty.",
    )
    review_by = models.DateField(
        "next review",
        null=True,
        blank=True,
        help_text="When the rule's evidence and wording are next checked. A year from today "
        "if left empty.",
    )
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords()
    objects = RuleQuerySet.as_manager()

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="rule_code_version_unique"),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(status=RuleStatus.ACTIVE),
                name="rule_one_active_version_per_code",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="rule_version_positive"),
            models.CheckConstraint(
                condition=Q(status__in=RuleStatus.values), name="rule_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(indicator__in=Indicator.values), name="rule_indicator_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="rule_category_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="rule_kind_valid"),
            # An option has a strength (not_graded when it has no grade); a caution none.
            models.CheckConstraint(
                condition=(Q(kind=Kind.OPTION) & Q(strength__in=Strength.values))
                | (Q(kind=Kind.CAUTION) & Q(strength__isnull=True)),
                name="rule_strength_of_its_kind",
            ),
        ]
        indexes = [
            # Rule.objects.active(): the rule set evaluated on every assessment save.
            models.Index(fields=["status", "code"], name="rule_status_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse("guidance:rule", args=[self.code, self.version])

    @property
    def is_active(self) -> bool:
        return self.status == RuleStatus.ACTIVE

    @property
    def short_title(self) -> str:
        """The title up to its first colon ("Breathing risk with gabapentinoids"): how an
        option's accept action and a folded card name the cautions it carries."""
        return self.title.split(":", 1)[0].strip()

    @property
    def rank(self) -> int:
        """A card's place in the review queue and the patient header: what to do above what
        to avoid (product.md version 3). Critical first (0); then the options by strength
        (strong 1, conditional 2, not graded 3, against standard use 4), so that an option
        against standard use never outranks a strong one; then the other cautions, warning
        (5) before info (6)."""
        return rank_of(self.indicator, self.kind, self.strength)

    def run_cases(self) -> list[CaseResult]:
        """This version's test cases, run. Raises ConditionError when the condition no
        longer compiles (a fact it names has changed, say)."""
        return run_cases(self.condition, self.test_cases)

    def save_as_new_version(self, *, by: User) -> None:
        """Save this unsaved rule as the next version of its code, a draft; the versions
        before it stay as they are. Raises IntegrityError when someone saves another
        version of the code at the same moment."""
        with transaction.atomic():
            latest = Rule.objects.filter(code=self.code).aggregate(n=Max("version"))["n"] or 0
            self.version = latest + 1
            self.status = RuleStatus.DRAFT
            self.created_by = by
            self.save()

    def activate(self, *, by: User) -> list["Rule"]:
        """Make this version the active one of its code; the previous one is retired, and
        returned (none when no version was active).

        Raises RuleNotReady, saying why, unless the version has test cases and every one
        of them passes: nothing goes live untested.
        """
        try:
            cases = self.run_cases()
        except ConditionError as error:
            raise RuleNotReady(f"the condition does not compile. {error}") from None
        if not cases:
            raise RuleNotReady("add at least one test case first.")
        failing = [case.name for case in cases if not case.passed]
        if failing:
            raise RuleNotReady(f"test cases failing: {', '.join(failing)}.")
        with transaction.atomic():
            # Lock every version of the code, in one order, then read the active one
            # afresh. Locking only the active row let a second activation wait for it,
            # find it retired by the first, retire nothing, and break the one-active
            # constraint.
            locked = Rule.objects.select_for_update().filter(code=self.code).order_by("pk")
            list(locked.values_list("pk", flat=True))
            previous = list(
                Rule.objects.filter(code=self.code, status=RuleStatus.ACTIVE).exclude(pk=self.pk)
            )
            for rule in previous:  # one by one, so that each retirement has its history row
                rule.retire(reason=f"replaced by version {self.version}")
            self.status = RuleStatus.ACTIVE
            self.activated_at = timezone.now()
            self.activated_by = by
            self.retire_reason = ""
            self.retired_at = None
            self.save()
        return previous

    def retire(self, *, reason: str) -> None:
        """No longer run on new assessments; the reason is kept with the version and in its
        history (with who did it: the history middleware records the request's user)."""
        self.status = RuleStatus.RETIRED
        self.retire_reason = reason
        self.retired_at = timezone.now()
        self._change_reason = f"retired: {reason}"
        self.save()

    @property
    def review_overdue(self) -> bool:
        """No next review set, or its date passed (on the clinic's calendar)."""
        return self.review_by is None or self.review_by < timezone.localdate()

    def newer_than_base(self) -> "Rule | None":
        """The newest other version saved after the one this version was made from, if
        any: what this version would undo if activated as it is."""
        if self.based_on_id is None:
            return None
        return (
            Rule.objects.of(self.code)
            .filter(version__gt=self.based_on.version)  # type: ignore[union-attr]
            .exclude(pk=self.pk)
            .first()
        )


class RuleNotReady(Exception):
    """A rule version that may not be activated, and why."""


class DeclineReason(models.TextChoices):
    NOT_APPROPRIATE = "not_appropriate", "Not clinically appropriate"
    PATIENT_DECLINED = "patient_declined", "Patient declined"
    ALREADY_IN_PLACE = "already_in_place", "Already in place"
    CONTRAINDICATED = "contraindicated", "Contraindicated"
    OTHER = "other", "Other (say why)"


class CardStatus(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    DEFERRED = "deferred", "Deferred"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"  # a caution's decision


class RecommendationQuerySet(models.QuerySet["Recommendation"]):
    def awaiting_review(self) -> "RecommendationQuerySet":
        """Cards nobody has decided yet, on records that are open (archived patients'
        cards wait for the record's restoration): critical first, then the oldest. Read
        in the order of the card_awaiting_review index, a page at a time."""
        # Archived patients' assessments as a subquery, not a join: with a join, SQLite
        # starts from the patients and sorts every undecided card (0.8 s at 10,000 patients).
        archived = Assessment.objects.filter(patient__archived_at__isnull=False)
        return (
            self.filter(status=CardStatus.PENDING)
            .exclude(assessment__in=archived)
            .order_by("indicator_rank", "created_at", "pk")
        )


class Recommendation(Versioned):
    """A suggestion card: one fired rule version for one assessment, for clinician review.

    Nothing is accepted by the application: a card waits until a clinician decides.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, related_name="recommendations"
    )
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="recommendations")
    rule_code = models.CharField(max_length=40, editable=False)
    status = models.CharField(max_length=12, choices=CardStatus, default=CardStatus.PENDING)
    because = models.JSONField(
        default=dict,
        blank=True,
        help_text="The facts that made the rule fire, with this assessment's values, as they "
        "were when the card fired (product.md 5.2).",
    )
    still_fires = models.BooleanField(
        default=True,
        help_text="False when a correction of the assessment means the rule "
        "no longer fires; kept because a clinician decided on it.",
    )
    # `version` (from Versioned) moves with every decision: a clinician deciding on a
    # card someone else has just decided is told, not silently overwritten.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The rule's place in the review queue (Rule.rank), kept with the card
    # whenever its rule is set, so that the queue reads a page in order off an index
    # instead of sorting every undecided card (1.2 million at 100,000 patients). A rule
    # version's indicator, kind and strength never change. Not part of the history: it is
    # the rule's. (Named for what it held before strengths: the indicator's order.)
    indicator_rank = models.PositiveSmallIntegerField(default=2, editable=False)
    # Kept with the card for the governance figures (clinic.governance), so that they are
    # read in one pass over the cards of a period, without a join or a query of decisions
    # per card (1.8 million cards in 90 days at 100,000 patients): the assessment's
    # patient (never changes), when the first decision was made, and, while the card is
    # declined, the reason of that decline and whether it carries a comment. Derived from
    # the decisions (Recommendation.decide), so not part of the history.
    patient = models.ForeignKey(
        Patient,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_index=False,  # read in whole passes, never looked up by patient
    )
    first_decided_at = models.DateTimeField(null=True, editable=False)
    decline_reason = models.CharField(
        max_length=20, choices=DeclineReason, blank=True, editable=False
    )
    decline_commented = models.BooleanField(default=False, editable=False)
    # The patient's IRLS total at the next assessment with one, minus this assessment's;
    # null while there is none (guidance.services.refresh_irls_changes keeps it).
    irls_change = models.SmallIntegerField(null=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=[
            "indicator_rank",
            "patient",
            "first_decided_at",
            "decline_reason",
            "decline_commented",
            "irls_change",
        ]
    )
    objects = RecommendationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "rule_code"], name="card_one_per_rule_per_assessment"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CardStatus.values), name="card_status_valid"
            ),
        ]
        indexes = [
            # The worklist: patients with undecided critical cards.
            models.Index(fields=["status", "assessment"], name="card_status_assessment"),
            # The review queue (awaiting_review): undecided cards, critical first, then the
            # oldest, a page at a time.
            models.Index(
                fields=["status", "indicator_rank", "created_at", "id"],
                name="card_awaiting_review",
            ),
            # The governance figures (clinic.governance): one pass over the cards in
            # rule and patient order, read from the index alone on PostgreSQL, so that
            # distinct patients are counted without sorting 1.8 million cards.
            models.Index(
                fields=["rule", "patient"],
                include=[
                    "created_at",
                    "status",
                    "first_decided_at",
                    "decline_reason",
                    "decline_commented",
                    "irls_change",
                ],
                name="card_governance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} on {self.assessment}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if Recommendation.rule.is_cached(self):  # set or loaded with the card
            self.indicator_rank = self.rule.rank
        if self.patient_id is None and self.assessment_id is not None:
            self.patient_id = self.assessment.patient_id
        super().save(*args, **kwargs)

    def record(self, decision: "Decision") -> None:
        """Keep the governance columns in step with a decision just made on this card
        (Decision.save saves them)."""
        if self.first_decided_at is None or decision.at < self.first_decided_at:
            self.first_decided_at = decision.at
        declined = decision.status == CardStatus.DECLINED
        self.decline_reason = decision.decline_reason if declined else ""
        self.decline_commented = declined and bool(decision.comment.strip())

    @property
    def is_decided(self) -> bool:
        return self.status != CardStatus.PENDING

    @property
    def latest_decision(self) -> "Decision | None":
        """The decision in force (uses prefetched decisions when there are some)."""
        decisions = list(self.decisions.all())
        return decisions[-1] if decisions else None

    def decide(
        self,
        *,
        status: str,
        by: User,
        expected_version: int | None,
        reason: str = "",
        comment: str = "",
    ) -> "Decision":
        """Record a clinician's decision. Raises EditConflict when someone else decided
        on the card since `expected_version` was shown, and ValueError for a decision its
        kind does not take (a caution is acknowledged or deferred, never accepted).

        Accepting an option acknowledges, in the same transaction, every caution on the
        assessment that qualifies it and is not yet acknowledged, whatever its indicator
        (product.md 5.1, version 3), each recorded as acknowledged with the option: an accept
        can never leave a caution of the option undecided (it once acknowledged the critical
        ones only, and the renal and misuse warnings stayed undecided inside a folded card).
        """
        if status not in DECISIONS[Kind(self.rule.kind)]:
            raise ValueError(f"A {self.rule.kind} cannot be {status}.")
        with transaction.atomic():
            with self.locked(expected_version=expected_version or 0) as current:
                current.status = status
                decision = Decision.objects.create(
                    recommendation=current,
                    status=status,
                    decline_reason=reason,
                    comment=comment,
                    by=by,
                )
            if status == CardStatus.ACCEPTED:
                for caution in self.carried_cautions():
                    if caution.status != CardStatus.ACKNOWLEDGED:
                        caution.acknowledge_with(option=self, by=by)
        return decision

    def dismiss(self, *, by: User, where: str) -> "Dismissal":
        """Record that the card was put aside without a decision (Dismissal); its status,
        and so everyone else's view of it, is unchanged."""
        return Dismissal.objects.create(recommendation=self, by=by, where=where[:400])

    def carried_cautions(self) -> list["Recommendation"]:
        """The cautions on this card's assessment that qualify this option (matched in
        Python: SQLite has no JSON containment)."""
        cautions = Recommendation.objects.filter(
            assessment_id=self.assessment_id, rule__kind=Kind.CAUTION
        ).select_related("rule")
        return [caution for caution in cautions if self.rule_code in caution.rule.qualifies]

    def acknowledge_with(self, *, option: "Recommendation", by: User) -> None:
        with self.locked() as current:
            current.status = CardStatus.ACKNOWLEDGED
            Decision.objects.create(
                recommendation=current,
                status=CardStatus.ACKNOWLEDGED,
                comment=f"Acknowledged on accepting “{option.rule.title}”.",
                with_option=option,
                by=by,
            )


# What a clinician may decide on each kind of card (product.md 5.1).
DECISIONS = {
    Kind.OPTION: (CardStatus.ACCEPTED, CardStatus.DECLINED, CardStatus.DEFERRED),
    Kind.CAUTION: (CardStatus.ACKNOWLEDGED, CardStatus.DEFERRED),
}


class Decision(models.Model):
    """One clinician decision on a card. Append-only: revising a decision adds a row."""

    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.PROTECT, related_name="decisions"
    )
    status = models.CharField(max_length=12, choices=CardStatus)
    decline_reason = models.CharField(max_length=20, choices=DeclineReason, blank=True)
    comment = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    # A caution acknowledged by accepting the option it qualifies (product.md 5.1):
    # the option's card, so that the record says the acknowledgement came with it.
    with_option = models.ForeignKey(
        Recommendation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["at", "pk"]
        permissions = [("decide_recommendation", "Can accept, decline or defer a suggestion")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        CardStatus.ACCEPTED,
                        CardStatus.DECLINED,
                        CardStatus.DEFERRED,
                        CardStatus.ACKNOWLEDGED,
                    ]
                ),
                name="decision_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=CardStatus.DECLINED) | ~Q(decline_reason=""),
                name="decision_declined_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} by {self.by} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saved with the card's governance columns (Recommendation.record), in step."""
        with transaction.atomic():
            super().save(*args, **kwargs)
            card = self.recommendation
            card.record(self)
            Recommendation.objects.filter(pk=card.pk).update(
                first_decided_at=card.first_decided_at,
                decline_reason=card.decline_reason,
                decline_commented=card.decline_commented,
            )


class Dismissal(models.Model):
    """A card put aside where an EHR showed it, with neither a reason nor a comment (CDS
    Hooks feedback `overridden` with nothing else: the sandbox's plain "Dismiss"). Seeing a
    card and closing it is not a decision: the card stays undecided, and the dismissal is
    kept on its record and counted apart from decisions."""

    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.PROTECT, related_name="dismissals"
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    where = models.CharField(max_length=400, help_text="The EHR and its user, in words.")

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"Dismissed ({self.where}) at {self.at:%Y-%m-%d %H:%M}"


class Evaluation(models.Model):
    """The last run of the rules on an assessment: which rules could not be evaluated."""

    assessment = models.OneToOneField(
        Assessment, on_delete=models.PROTECT, related_name="evaluation"
    )
    evaluated_at = models.DateTimeField(default=timezone.now)
    rules_evaluated = models.PositiveIntegerField(default=0)
    not_evaluated = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"Evaluation of {self.assessment} at {self.evaluated_at:%Y-%m-%d %H:%M}"


class AdherenceAnswer(models.TextChoices):
    YES = "yes", "Yes"
    PARTLY = "partly", "Partly"
    NO = "no", "No"
    NOT_YET = "not_yet", "Not yet"


class Adherence(models.Model):
    """At a follow-up: did the patient follow an accepted suggestion?"""

    followup = models.ForeignKey(FollowUp, on_delete=models.PROTECT, related_name="adherence")
    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.PROTECT, related_name="adherence"
    )
    answer = models.CharField(max_length=7, choices=AdherenceAnswer)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["followup", "recommendation"], name="adherence_one_per_card_per_followup"
            ),
            models.CheckConstraint(
                condition=Q(answer__in=AdherenceAnswer.values), name="adherence_answer_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recommendation.rule_code}: {self.get_answer_display()}"


class JobKind(models.TextChoices):
    PREVIEW = "preview", "Rule preview"
    GOVERNANCE = "governance", "Governance figures"


class JobState(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


STALLED_AFTER = timedelta(minutes=30)  # a preview at 100,000 patients takes seconds


class Job(models.Model):
    """Work a guidance admin asked for that runs in the background (a task of
    django.tasks: guidance.tasks, clinic.tasks): its progress, then its result or error.

    The result holds counts as they may be shown (guidance.disclosure), never exact ones,
    so a result is safe to show again or download. Each job also records who asked for
    what: the trail of previews that guidance.disclosure relies on.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=JobKind)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    parameters = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    task_id = models.CharField(max_length=64, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=JobKind.values), name="job_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.uuid}"

    @property
    def state(self) -> JobState:
        if self.error:
            return JobState.FAILED
        if self.finished_at:
            return JobState.DONE
        return JobState.RUNNING if self.started_at else JobState.QUEUED

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def stalled(self) -> bool:
        """Running for longer than any job takes: its worker was most likely stopped
        mid-run (the task is not claimed again), so the page offers to start it again."""
        return (
            self.state == JobState.RUNNING
            and self.started_at is not None
            and timezone.now() - self.started_at > STALLED_AFTER
        )

    @property
    def percent(self) -> int:
        if self.state == JobState.DONE:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0

    def report(self, done: int) -> None:
        """Progress so far, saved at once (a task runs outside any transaction), each
        time it has moved by 5% or more: at most 20 writes, however large the clinic."""
        saved = getattr(self, "_saved_percent", 0)
        self.done = done
        if self.percent >= saved + 5:
            self._saved_percent = self.percent
            Job.objects.filter(pk=self.pk).update(done=done)
