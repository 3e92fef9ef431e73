"""Page shaping without requests: what the patient, assessment and rule pages show,
built from records already loaded. Views fetch; these functions arrange."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from django.db.models import Model, Prefetch
from django.utils import timezone
from django.utils.formats import date_format

from clinic.forms.assessments import ASSESSMENT_FIELDS, ASSESSMENT_SECTIONS, DecisionForm
from clinic.forms.patients import PatientForm
from clinic.forms.rules import RuleForm
from guidance.cards import Placed, arrange, because_words
from guidance.models import (
    CardStatus,
    Category,
    Decision,
    DeclineReason,
    Indicator,
    Kind,
    Recommendation,
    Rule,
)
from patients.charts import Chart, trend_chart
from patients.mimics import MIMIC_NAMES
from patients.models import Assessment, FollowUp, FollowUpStatus
from patients.scales import SCALES

# History


def change_rows(
    records: Sequence[Any],
    *,
    fields: Sequence[str],
    labels: dict[str, str],
    created: str,
    summarise: Callable[[Any, Any], str | None] = lambda newer, older: None,
) -> list[dict[str, Any]]:
    """Turn history records (newest first) into rows: who, when, what changed.

    Diffs are taken between neighbouring records already in memory, so a page needs one
    history query however many changes it shows. Fetch one record more than you show:
    the oldest only serves as the base of the one before it.
    """
    rows: list[dict[str, Any]] = []
    if not records:
        return rows  # records loaded in bulk (an import, the benchmark) have no history
    for newer, older in zip(records, [*records[1:], None], strict=True):
        changed: list[tuple[str, str, str]] = []  # label, old value, new value
        if older is None:
            if newer.history_type != "+":
                break  # the base record of a truncated list, not its creation
            summary = created
        else:
            special = summarise(newer, older)
            if special is not None:
                summary = special
            else:
                delta = newer.diff_against(older, included_fields=fields)
                changed = [
                    (
                        labels[change.field],
                        shown_value(newer, change.field, change.old),
                        shown_value(newer, change.field, change.new),
                    )
                    for change in delta.changes
                ]
                summary = (
                    "Changed: " + ", ".join(label for label, _, _ in changed)
                    if changed
                    else "Saved with no changes"
                )
        rows.append(
            {
                "user": newer.history_user,
                "at": newer.history_date,
                "summary": summary,
                "fields": changed,
                "reason": getattr(newer, "history_change_reason", None) or "",
            }
        )
    return rows


def shown_value(record: Model, name: str, value: object) -> str:
    """A stored value as a person reads it: choice labels, local times, blanks as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "j M Y H:i")
    if name == "mimics" and isinstance(value, list):
        return ", ".join(str(MIMIC_NAMES.get(code, code)) for code in value)
    choices = dict(getattr(record._meta.get_field(name), "flatchoices", []) or [])
    return str(choices.get(value, value))


def patient_changes(records: Sequence[Any]) -> list[dict[str, Any]]:
    def archiving(newer: Any, older: Any) -> str | None:
        if newer.archive_reason and not older.archive_reason:
            return f"Archived: {newer.archive_reason}"
        if older.archive_reason and not newer.archive_reason:
            return "Restored"
        return None

    fields = PatientForm.Meta.fields
    labels = {name: str(PatientForm.base_fields[name].label) for name in fields}
    return change_rows(
        records, fields=fields, labels=labels, created="Registered", summarise=archiving
    )


def assessment_changes(records: Sequence[Any]) -> list[dict[str, Any]]:
    labels = {name: field_label(Assessment, name) for name in ASSESSMENT_FIELDS}
    return change_rows(records, fields=ASSESSMENT_FIELDS, labels=labels, created="Recorded")


@dataclass
class RuleCode:
    """One line of the rule list: a code's newest version and the one in force."""

    latest: Rule
    active: Rule | None = None
    versions: int = 0


def rule_codes(rules: Iterable[Rule]) -> list[RuleCode]:
    """Rules (by code, newest version first) as one line per code."""
    codes: dict[str, RuleCode] = {}
    for rule in rules:
        entry = codes.setdefault(rule.code, RuleCode(latest=rule))
        entry.versions += 1
        if rule.is_active:
            entry.active = rule
    return list(codes.values())


def rule_versions(versions: Sequence[Rule]) -> list[dict[str, Any]]:
    """Each version of a rule (newest first) with the fields it changed."""
    return [
        {"rule": version, "changes": changed_fields(version, older)}
        for version, older in zip(versions, [*versions[1:], None], strict=True)
    ]


def changed_fields(newer: Rule, older: Rule | None) -> list[str]:
    if older is None:
        return []
    return [
        field_label(Rule, name)
        for name in RuleForm.Meta.fields
        if name not in ("code", "change_note") and getattr(newer, name) != getattr(older, name)
    ]


# The patient page


def timeline(
    assessments: Sequence[Assessment], decisions: Sequence[Decision], followups: Sequence[FollowUp]
) -> list[dict[str, Any]]:
    """Assessments, card decisions and follow-ups that happened, newest first."""
    events: list[dict[str, Any]] = [
        {"at": a.assessed_at, "kind": "assessment", "item": a, "url": a.get_absolute_url()}
        for a in assessments
    ]
    events += [
        {
            "at": d.at,
            "kind": "decision",
            "item": d,
            "url": d.recommendation.assessment.get_absolute_url()
            + f"#card-{d.recommendation.uuid}",
        }
        for d in decisions
    ]
    events += [
        {"at": f.recorded_at, "kind": "followup", "item": f, "url": f.get_absolute_url()}
        for f in followups
        if not f.is_open and f.recorded_at
    ]
    return sorted(events, key=lambda event: event["at"], reverse=True)


def trend_charts(assessments: Sequence[Assessment], followups: Sequence[FollowUp]) -> list[Chart]:
    """IRLS and COWS over time, from assessments and follow-up re-scores."""
    charts = []
    last_dose_at = next((a.last_dose_at for a in assessments if a.last_dose_at), None)
    for code in ("irls", "cows"):
        measurements = [
            (a.assessed_at, getattr(a, f"{code}_total"), "assessment")
            for a in assessments
            if getattr(a, f"{code}_total") is not None
        ] + [
            (
                timezone.make_aware(datetime.combine(f.happened_on, time(12))),
                getattr(f, f"{code}_total"),
                "follow-up",
            )
            for f in followups
            if f.status == FollowUpStatus.COMPLETED
            and f.happened_on
            and getattr(f, f"{code}_total") is not None
        ]
        chart = trend_chart(SCALES[code], measurements, last_dose_at)
        if chart:
            charts.append(chart)
    return charts


# The assessment page


def field_label(model: type[Model], name: str) -> str:
    return str(getattr(model._meta.get_field(name), "verbose_name", name))


def display_value(record: Model, name: str) -> object:
    get_display = getattr(record, f"get_{name}_display", None)
    return get_display() if get_display else getattr(record, name)


def entered_sections(assessment: Assessment) -> list[dict[str, Any]]:
    """What was entered, section by section, in the order of the form."""
    sections = []
    for code, title, names in ASSESSMENT_SECTIONS:
        if code in SCALES:
            continue  # scales are shown with their totals
        rows = []
        for name in names:
            value = display_value(assessment, name)
            if name == "mimics":
                value = ", ".join(MIMIC_NAMES[code] for code in assessment.mimics) or None
            elif isinstance(value, datetime):
                value = date_format(timezone.localtime(value), "j M Y H:i")
            rows.append({"label": field_label(Assessment, name), "value": value})
        sections.append({"title": title, "rows": rows})
    return sections


@dataclass
class CardView:
    """A card as the assessment page shows it: why it fired, in words, and for an option
    the cautions that qualify it, shown inside it."""

    card: Recommendation
    because: list[str]
    form: DecisionForm | None = None  # only for a card whose decision just failed validation
    cautions: list["CardView"] = field(default_factory=list)

    @property
    def is_option(self) -> bool:
        return bool(self.card.rule.kind == Kind.OPTION)

    @property
    def unacknowledged_critical(self) -> list["CardView"]:
        """Critical cautions inside this option that accepting it would acknowledge."""
        return [
            caution
            for caution in self.cautions
            if caution.card.rule.indicator == Indicator.CRITICAL
            and caution.card.status != CardStatus.ACKNOWLEDGED
        ]


@dataclass
class CardSection:
    key: str
    title: str
    cards: list[CardView]


# The section titles of the assessment page, by guidance.cards.arrange's section keys.
SECTION_TITLES = {
    "critical": "Critical cautions",
    "lifestyle": "Lifestyle: each decided on its own",
    "cautions": "Other cautions",
}


def card_page(
    assessment: Assessment, failed_decision: tuple[int, DecisionForm] | None = None
) -> dict[str, Any]:
    """The assessment's cards in the order of product.md section 5 (guidance.cards.arrange):
    stand-alone critical cautions; then the options by category, each carrying the cautions
    that qualify it; then the other stand-alone cautions.

    `failed_decision` is a card's id and its bound form with errors, shown in place.
    """
    cards = list(
        Recommendation.objects.filter(assessment=assessment)
        .select_related("rule")
        .prefetch_related(Prefetch("decisions", queryset=Decision.objects.select_related("by")))
    )
    failed_id, failed_form = failed_decision or (None, None)

    def view(placed: Placed) -> CardView:
        return CardView(
            card=placed.card,
            because=because_words(placed.card),
            form=failed_form if placed.card.pk == failed_id else None,
            cautions=[view(Placed(caution)) for caution in placed.cautions],
        )

    sections = [
        CardSection(
            section.key,
            SECTION_TITLES.get(section.key) or Category(section.key).label,
            [view(placed) for placed in section.entries],
        )
        for section in arrange(cards)
    ]
    evaluation = getattr(assessment, "evaluation", None)
    return {
        "sections": sections,
        "count": len(cards),
        "pending": sum(not card.is_decided for card in cards),
        "not_evaluated": evaluation.not_evaluated if evaluation else [],
        "evaluated": evaluation is not None,
        "decline_reasons": [("", "Choose a reason"), *DeclineReason.choices],
    }
