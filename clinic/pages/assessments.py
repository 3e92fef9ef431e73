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

from clinic.forms.assessments import ASSESSMENT_SECTIONS, DecisionForm
from clinic.pages.history import display_value, field_label
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
