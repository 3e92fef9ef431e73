"""Page shaping without requests: what the patient, assessment and rule pages show,
built from records already loaded. Views fetch; these functions arrange."""

import difflib
import json
import math
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol
from uuid import UUID

from django.db.models import Model, Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.formats import date_format
from django.utils.html import format_html_join

from clinic.forms.assessments import (
    ASSESSMENT_FIELDS,
    ASSESSMENT_SECTIONS,
    DecisionForm,
    LiveInputs,
    live_scores,
)
from clinic.forms.patients import PatientForm
from clinic.forms.rules import RuleForm
from guidance.cards import Placed, arrange, because_words
from guidance.models import (
    CardStatus,
    Category,
    Decision,
    DeclineReason,
    Dismissal,
    Indicator,
    Kind,
    Recommendation,
    Rule,
)
from patients.charts import Chart, trend_chart
from patients.facts import (
    CRITERIA,
    FACT_BY_NAME,
    SEXES,
    age_in_years,
    derive_facts,
    describe,
    hours_between,
)
from patients.mimics import MIMIC_NAMES
from patients.models import Assessment, FollowUp, FollowUpStatus, Patient, PreviousScore
from patients.scales import SCALES, Progress

# Lists


class ListedPatient(Protocol):
    """What the patient list reads of a patient: a Patient, or a row of just these columns
    (values_list(..., named=True), which costs half as much as loading the models)."""

    uuid: UUID
    mrn: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    archived_at: datetime | None


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list, as plain values. The template language charges for
    every method it calls (a full URL reverse for get_absolute_url, a lookup of the choices
    for get_sex_display), 25 times a page: these are worked out here once per row."""

    url: str
    name: str
    mrn: str
    born: str  # the date of birth as the list shows it: 14 Mar 1988
    sex: str
    archived: bool


def addresses(viewname: str) -> Callable[[UUID], str]:
    """A view's address for any UUID from one reverse: an example UUID's address with the
    UUID swapped, the same as reverse() gives, script prefix included
    (tests/patients/test_list_rows.py). A reverse costs about 75 µs, and a page of 25
    rows or 17 cards made one for each."""
    example = str(UUID(int=0))
    address = reverse(viewname, args=[example])
    return lambda uuid: address.replace(example, str(uuid))


def day_month_year(day: date) -> str:
    """A date as the template's date:"j M Y" writes it (14 Mar 1988; English month names,
    as USE_I18N is off), without the filter's cost: 27 µs a date, half the rendering of a
    page of 25 rows (tests/patients/test_list_rows.py compares the two)."""
    return f"{day.day} {MONTHS_3[day.month].title()} {day.year:04d}"


def patient_rows(patients: Iterable[ListedPatient]) -> list[PatientRow]:
    """The patient list's lines, with one URL reverse for the page instead of one a row."""
    address = addresses("patients:detail")
    return [
        PatientRow(
            url=address(patient.uuid),
            name=f"{patient.family_name}, {patient.given_name}",
            mrn=patient.mrn,
            born=day_month_year(patient.date_of_birth),
            sex=SEXES.get(patient.sex, patient.sex),
            archived=patient.archived_at is not None,
        )
        for patient in patients
    ]


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
        {"rule": version, "previous": older, "changes": changed_fields(version, older)}
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


# Two versions of a rule, side by side


@dataclass(frozen=True)
class Segment:
    text: str
    change: str = ""  # "removed" (only on the left), "added" (only on the right), or ""


@dataclass(frozen=True)
class ComparedField:
    label: str
    left: list[Segment]
    right: list[Segment]
    changed: bool


# What the comparison shows, in the rule page's order; the test cases one line a case.
COMPARED_FIELDS = [
    "title",
    "detail",
    "category",
    "indicator",
    "kind",
    "qualifies",
    "condition",
    "source",
    "evidence",
    "test_cases",
]
_LABELS = {"qualifies": "qualified options"}
_LINES = re.compile(r"[^\n]*\n|[^\n]+")
_WORDS = re.compile(r"\s+|\w+(?:[.'-]\w+)*|[^\w\s]")  # spaces, words (0.5, MED-IRON), marks


def compared_text(rule: Rule, name: str) -> str:
    """A field of a rule version as the comparison shows it."""
    if name == "qualifies":
        return ", ".join(rule.qualifies) or "—"
    if name == "test_cases":
        return "\n".join(case_line(case) for case in rule.test_cases) or "—"
    return str(display_value(rule, name)) or "—"


def case_line(case: Any) -> str:
    """A test case on one line: its name, its facts, and whether the rule should fire."""
    if not isinstance(case, dict):
        return json.dumps(case)
    facts = case.get("facts") or {}
    given = ", ".join(f"{name} = {json.dumps(value)}" for name, value in sorted(facts.items()))
    fires = "fires" if case.get("fires") else "does not fire"
    return f"{case.get('name') or '(no name)'}: {given or 'blank case'} → {fires}"


def compare_rules(left: Rule, right: Rule) -> list[ComparedField]:
    """Each field of two versions side by side, with what differs marked in each: words
    for texts, whole lines for the test cases (difflib)."""
    fields = []
    for name in COMPARED_FIELDS:
        label = _LABELS.get(name) or field_label(Rule, name)
        old, new = compared_text(left, name), compared_text(right, name)
        if old == new:
            fields.append(ComparedField(label, [Segment(old)], [Segment(new)], False))
            continue
        pattern = _LINES if name == "test_cases" else _WORDS
        old_parts, new_parts = pattern.findall(old), pattern.findall(new)
        removed: list[Segment] = []
        added: list[Segment] = []
        matcher = difflib.SequenceMatcher(a=old_parts, b=new_parts, autojunk=False)
        for operation, i1, i2, j1, j2 in matcher.get_opcodes():
            if operation == "equal":
                removed.append(Segment("".join(old_parts[i1:i2])))
                added.append(Segment("".join(new_parts[j1:j2])))
                continue
            if i2 > i1:
                removed.append(Segment("".join(old_parts[i1:i2]), "removed"))
            if j2 > j1:
                added.append(Segment("".join(new_parts[j1:j2]), "added"))
        fields.append(ComparedField(label, removed, added, True))
    return fields


def default_counterpart(version: Rule, versions: Sequence[Rule]) -> Rule | None:
    """What a version is compared with unless the admin chooses: the active version, or
    else the one before it (the one after it for the first)."""
    others = [other for other in versions if other.pk != version.pk]
    active = next((other for other in others if other.is_active), None)
    earlier = [other for other in others if other.version < version.version]
    later = [other for other in others if other.version > version.version]
    if active is not None:
        return active
    if earlier:
        return max(earlier, key=lambda other: other.version)
    return min(later, key=lambda other: other.version) if later else None


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
    decide_url: str
    form: DecisionForm | None = None  # only for a card whose decision just failed validation
    cautions: list["CardView"] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)  # oldest first
    dismissals: list[Dismissal] = field(default_factory=list)  # in an EHR, not decisions

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


DECLINE_REASONS = [("", "Choose a reason"), *DeclineReason.choices]


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
        .prefetch_related(
            Prefetch("decisions", queryset=Decision.objects.select_related("by")), "dismissals"
        )
    )
    failed_id, failed_form = failed_decision or (None, None)
    decide_url = addresses("guidance:decide")

    def view(placed: Placed) -> CardView:
        return CardView(
            card=placed.card,
            because=because_words(placed.card),
            decide_url=decide_url(placed.card.uuid),
            form=failed_form if placed.card.pk == failed_id else None,
            cautions=[view(Placed(caution)) for caution in placed.cautions],
            decisions=list(placed.card.decisions.all()),
            dismissals=list(placed.card.dismissals.all()),
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
        "decline_reasons": DECLINE_REASONS,
        # Written once for the page: a template loop over the reasons wrote them again in
        # every option card (0.8 of the 11 ms the page's template took with 17 cards). A
        # card whose decision failed loops over decline_reasons, to keep its reason chosen.
        "decline_options": format_html_join("", '<option value="{}">{}</option>', DECLINE_REASONS),
    }


# The assessment form's live panel


@dataclass(frozen=True)
class PanelFact:
    """One derived fact as the panel shows it: `name` is the fact's (for data-fact)."""

    name: str
    label: str
    value: str
    note: str = ""

    @property
    def spoken(self) -> str:
        return f"{self.label}: {self.value}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Panel:
    scores: list[Progress]
    facts: list[PanelFact]
    said: str  # what the panel says now, as a fingerprint the next update posts back
    announcement: str  # what changed since the fingerprint posted, for screen readers


def spoken_total(progress: Progress) -> str:
    scale = progress.scale
    if progress.score:
        total, band = progress.score.total, progress.score.band
        return f"{scale.name} {total} of {scale.max_total}, {band.label}: {band.meaning}"
    if progress.started:
        answered = f"{progress.answered} of {len(scale.items)} answered"
        return f"{scale.name} {progress.subtotal} so far, {answered}"
    return f"{scale.name} not scored"


def panel_facts(
    inputs: LiveInputs,
    scores: list[Progress],
    *,
    patient: Patient,
    previous: PreviousScore | None,
) -> list[PanelFact]:
    """The derived facts of an assessment being entered, by the fact table's own functions
    (patients.facts.derive_facts), as the rules will see them once it is saved, and in
    words: what each needs when it cannot be derived yet."""
    complete = {key: inputs.items[key] for p in scores if p.score for key in p.scale.keys}
    on = timezone.localdate(inputs.assessed_at)
    hours = hours_between(inputs.last_dose_at, inputs.assessed_at) if inputs.last_dose_at else None
    facts = derive_facts(
        {**inputs.entered, **complete},
        age_years=age_in_years(patient.date_of_birth, on),
        sex=patient.sex,
        hours_since_last_dose=hours,
        irls_previous_total=previous.total if previous else None,
    )
    on_text = date_format(on, "j M Y")
    if not inputs.assessed_at_entered:
        on_text += "; no valid assessment time entered"
    rows = [PanelFact("age_years", "Age", f"{facts['age_years']} years", f"on {on_text}")]

    if hours is not None:
        # Tenths of an hour, rounded down, so that 23.96 h is not shown as 24 beside
        # "under 24 h".
        shown_hours = f"{math.floor(hours * 10) / 10:g} h ago"
        rows.append(PanelFact("hours_since_last_dose", "Last kratom dose", shown_hours))
        window = describe("withdrawal_window", facts["withdrawal_window"])
        rows.append(PanelFact("withdrawal_window", "Withdrawal window", window))
    else:
        unknown = describe("hours_since_last_dose", None)
        rows.append(
            PanelFact(
                "hours_since_last_dose", "Last kratom dose", unknown, inputs.last_dose_problem or ""
            )
        )
        rows.append(PanelFact("withdrawal_window", "Withdrawal window", "needs the last dose time"))

    if facts["crcl_ml_min"] is not None:
        crcl = facts["crcl_ml_min"]
        shown = f"{crcl:.0f}" if crcl >= 10 else f"{crcl:.1f}"
        rows.append(
            PanelFact("crcl_ml_min", "Creatinine clearance", f"{shown} mL/min", "Cockcroft–Gault")
        )
    else:
        needed = []
        for name in ("weight_kg", "serum_creatinine_mg_dl"):
            fact = FACT_BY_NAME[name]
            if name in inputs.not_valid:
                needed.append(f"a valid {fact.label.lower()} ({fact.range_text()})")
            elif inputs.entered.get(name) is None:
                needed.append(fact.label.lower())
        needs = "needs " + " and ".join(needed)
        rows.append(PanelFact("crcl_ml_min", "Creatinine clearance", needs))

    met = sum(bool(facts[name]) for name in CRITERIA)
    rows.append(
        PanelFact(
            "rls_criteria_met",
            "IRLSSG criteria",
            f"{met} of {len(CRITERIA)} essential criteria met",
            describe("rls_criteria_met", facts["rls_criteria_met"]),
        )
    )

    note = ""
    if previous:
        score = SCALES["irls"].score_of(previous.total)
        band = f" ({score.band.label})" if score else ""
        when = date_format(timezone.localdate(previous.at), "j M Y")
        note = f"previous IRLS {previous.total}{band}, {previous.source} of {when}"
    if facts["irls_change"] is not None:
        change = describe("irls_change", facts["irls_change"])
    elif previous:
        change = "complete the IRLS to compare"
    else:
        change = describe("irls_previous_total", None)
    rows.append(PanelFact("irls_change", "IRLS change", change, note))
    return rows


def _fingerprint(text: str) -> str:
    return f"{zlib.crc32(text.encode()):08x}"


def assessment_panel(
    inputs: LiveInputs, *, patient: Patient, previous: PreviousScore | None, said: str = ""
) -> Panel:
    """The live panel: the totals by the scale registry, the derived facts by the fact
    table, and, against `said` (what the panel said before, as posted back), the parts
    that changed, so that a screen reader hears what changed rather than everything."""
    scores = live_scores(inputs.items)
    facts = panel_facts(inputs, scores, patient=patient, previous=previous)
    parts = [(p.scale.code, spoken_total(p)) for p in scores]
    parts += [(fact.name, fact.spoken) for fact in facts]
    before = dict(pair.partition("=")[::2] for pair in said[:2000].split(";"))
    changed = [text for key, text in parts if before.get(key) != _fingerprint(text)]
    return Panel(
        scores=scores,
        facts=facts,
        said=";".join(f"{key}={_fingerprint(text)}" for key, text in parts),
        announcement=". ".join(changed) if said else "",
    )
