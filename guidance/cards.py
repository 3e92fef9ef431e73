"""Cards as people read them: in the order of product.md section 5, and why each fired, in
words. One arrangement for every place that shows cards (the assessment page, the cards
an EHR gets through CDS Hooks), so that they never disagree."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guidance.default_rules import DEFAULT_RULES
from guidance.engine import INDICATOR_ORDER
from guidance.models import STRENGTH_ORDER, Indicator, Kind, Recommendation
from patients.fact_words import describe

# product.md section 5 (version 3): the options' categories, in the order they are shown
# (withdrawal first); within a category by strength (5.4), then the order of its table.
DEFAULT_ORDER = {spec["code"]: number for number, spec in enumerate(DEFAULT_RULES)}
OPTION_CATEGORIES = ["withdrawal", "medication", "iron", "behavioural", "lifestyle", "monitoring"]


def because_words(card: Recommendation) -> list[str]:
    """The facts that made the card fire, in words ("IRLS 24 (severe)", "on an SSRI/SNRI")."""
    return describe_because(card.because, card.rule.condition)


def describe_because(because: Mapping[str, Any], condition: str) -> list[str]:
    """A "because" (guidance.engine.because) in words, in the order the condition names its
    facts (PostgreSQL's jsonb keeps no key order)."""
    return [
        describe(name, value)
        for name, value in sorted(because.items(), key=lambda item: condition.find(item[0]))
    ]


@dataclass
class Placed:
    """A card in its place; an option carries the cautions that qualify it."""

    card: Recommendation
    cautions: list[Recommendation] = field(default_factory=list)


@dataclass
class Section:
    key: str  # "critical", an option category, or "cautions"
    entries: list[Placed]


def arrange(cards: Iterable[Recommendation]) -> list[Section]:
    """The cards (with their rules loaded) in the order of product.md section 5:
    stand-alone critical cautions; then the options by category (withdrawal first) and by
    strength, each carrying the cautions that qualify it; then the other stand-alone
    cautions, critical before warning before info. A caution whose options did not fire
    stands alone; one that qualifies two options that fired is carried by both. Empty
    sections are left out."""
    cards = sorted(cards, key=lambda card: card.rule_code)

    def rank(card: Recommendation) -> tuple[int, str]:
        return INDICATOR_ORDER.get(card.rule.indicator, 9), card.rule_code

    def table_order(placed: Placed) -> tuple[int, int, str]:
        """Options by strength (strong first, against standard use last), then in
        product.md's table order."""
        code = placed.card.rule_code
        strength = STRENGTH_ORDER.get(placed.card.rule.strength or "", len(STRENGTH_ORDER))
        return strength, DEFAULT_ORDER.get(code, len(DEFAULT_ORDER)), code

    options = {card.rule_code: Placed(card) for card in cards if card.rule.kind == Kind.OPTION}
    standalone = []
    for card in cards:
        if card.rule.kind != Kind.CAUTION:
            continue
        carriers = [options[code] for code in card.rule.qualifies if code in options]
        for option in carriers:
            option.cautions.append(card)
        if not carriers:
            standalone.append(card)
    for option in options.values():
        option.cautions.sort(key=rank)
    standalone.sort(key=rank)

    sections = [
        Section(
            "critical",
            [Placed(card) for card in standalone if card.rule.indicator == Indicator.CRITICAL],
        )
    ]
    for category in OPTION_CATEGORIES:
        in_category = [o for o in options.values() if o.card.rule.category == category]
        sections.append(Section(category, sorted(in_category, key=table_order)))
    sections.append(
        Section(
            "cautions",
            [Placed(card) for card in standalone if card.rule.indicator != Indicator.CRITICAL],
        )
    )
    return [section for section in sections if section.entries]


def in_page_order(cards: Iterable[Recommendation]) -> list[Recommendation]:
    """The cards one after another as the page shows them: each option followed by the
    cautions inside it; a caution that qualifies two options comes once, after the first."""
    ordered: dict[int, Recommendation] = {}
    for section in arrange(cards):
        for placed in section.entries:
            for card in [placed.card, *placed.cautions]:
                ordered.setdefault(card.pk, card)
    return list(ordered.values())
