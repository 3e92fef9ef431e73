"""The assessment page: the entered values by section, and the cards in the order of
product.md section 5. card_page reads the assessment's cards, with their rules,
decisions and dismissals (three queries); the rest shapes what it is given."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.text import capfirst

from clinic.forms.assessments import ASSESSMENT_SECTIONS, DecisionForm
from clinic.pages.history import display_value, field_label, measured
from clinic.pages.patients import addresses
from guidance.cards import Placed, arrange, because_words
from guidance.models import (
    CardStatus,
    Category,
    Decision,
    DeclineReason,
    Dismissal,
    Kind,
    Recommendation,
    Strength,
)
from patients.mimics import MIMIC_NAMES
from patients.models import Assessment
from patients.scales import SCALES


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
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = measured(name, value)
            rows.append({"label": capfirst(field_label(Assessment, name)), "value": value})
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
    # A caution carried by a second option is shown in full once, under the first: here
    # it is named and linked (one card, one id, one decision). The first option's title.
    shown_under: str | None = None

    @property
    def is_option(self) -> bool:
        return bool(self.card.rule.kind == Kind.OPTION)

    @property
    def unacknowledged(self) -> list["CardView"]:
        """The cautions this option carries that accepting it would acknowledge: every one
        not yet acknowledged, whatever its indicator (product.md 5.1)."""
        return [c for c in self.cautions if c.card.status != CardStatus.ACKNOWLEDGED]

    @property
    def acknowledged_with_it(self) -> list["CardView"]:
        """The cautions acknowledged when this option was accepted (named on the folded
        card: "accepted with: ...")."""
        return [
            caution
            for caution in self.cautions
            if any(d.with_option_id == self.card.pk for d in caution.decisions)
        ]

    @property
    def against_standard_use(self) -> bool:
        return bool(self.card.rule.strength == Strength.AGAINST_STANDARD_USE)


@dataclass
class CardSection:
    key: str
    title: str
    cards: list[CardView]

    @property
    def open(self) -> list[CardView]:
        """The cards one decision for the section may still decide: neither accepted nor
        declined (the lifestyle block's "Give this advice" and "Defer all")."""
        return [c for c in self.cards if c.card.status in (CardStatus.PENDING, CardStatus.DEFERRED)]


# The section titles of the assessment page, by guidance.cards.arrange's section keys.
SECTION_TITLES = {
    "critical": "Critical cautions",
    "lifestyle": "Lifestyle advice",
    "cautions": "Other cautions",
}


DECLINE_REASONS = [("", "Choose a reason"), *DeclineReason.choices]


@dataclass(frozen=True)
class PlanLine:
    """One line of the plan at the top of the card page (product.md 5.5): a stand-alone
    critical caution, an option (with its strength and the cautions it carries), or the
    lifestyle advice as one line; each links to its card."""

    title: str
    anchor: str  # the id on the page it links to
    status: str  # the card's status label, or for the lifestyle line how many are undecided
    strength: str = ""  # an option's strength as product.md 5.4 says it ("" when none)
    cautions: int = 0  # the cautions an option carries
    critical: bool = False
    against_standard_use: bool = False


def plan(sections: list[CardSection]) -> list[PlanLine]:
    """The plan: the stand-alone critical cautions, then each option in page order, the
    lifestyle options as one line."""
    lines = []
    for section in sections:
        if section.key == "cautions":
            continue
        if section.key == "lifestyle":
            waiting = sum(not item.card.is_decided for item in section.cards)
            status = f"{waiting} of {len(section.cards)} undecided" if waiting else "decided"
            lines.append(PlanLine("Lifestyle advice", "section-lifestyle", status))
            continue
        for item in section.cards:
            rule = item.card.rule
            strength = Strength(rule.strength) if rule.strength else None
            lines.append(
                PlanLine(
                    title=rule.short_title,
                    anchor=f"card-{item.card.uuid}",
                    status=item.card.get_status_display(),
                    strength=strength.label if strength and strength != "not_graded" else "",
                    cautions=len(item.cautions),
                    critical=section.key == "critical",
                    against_standard_use=item.against_standard_use,
                )
            )
    return lines


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

    shown: dict[int, str] = {}  # a caution shown in full, and the option it is shown in

    def view(placed: Placed, within: str = "") -> CardView:
        card = placed.card
        elsewhere = shown.get(card.pk)
        if elsewhere is None:
            shown[card.pk] = within
        return CardView(
            card=card,
            because=because_words(card),
            decide_url=decide_url(card.uuid),
            form=failed_form if card.pk == failed_id else None,
            cautions=[view(Placed(caution), card.rule.title) for caution in placed.cautions],
            decisions=list(card.decisions.all()),
            dismissals=list(card.dismissals.all()),
            shown_under=elsewhere,
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
        "plan": plan(sections),
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
