"""Our guidance as CDS Hooks 2.0 cards.

A card says what the rule says (its title as the summary, its detail and "because" in the
detail), names the rule code and version that produced it, links back to the assessment,
and offers override reasons from the CDS Hooks override-reason code system. Only an option
carries a suggestion, and that suggestion has no actions: accepting it in the EHR records
the clinician's acceptance here, and creates nothing in the EHR. Never systemActions.
"""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

from guidance.models import DeclineReason, Kind, Rule
from interop.shapes import Card, Coding

OVERRIDE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
SUMMARY_LIMIT = 140  # the specification: a summary of fewer than 140 characters

# What a clinician in the EHR may give as the reason for overriding an option, mapped from
# our coded decline reasons (guidance.models.DeclineReason); an override with one of them
# is a decline with that reason. The nearest codes of the system:
# - patient_declined: patient-refuses, "Patient refuses/declines (no context given)";
# - contraindicated: patient-contraindication, word for word;
# - already_in_place: indication-order-exists, "Patient has indication/order for intended
#   action" (the treatment or order is already there); action-completed is taken back too;
# - not_appropriate: risk-benefit-ratio, "Recipient assessment of risk/benefit ratio": the
#   clinician's judgement that it does not fit this patient; patient-ineligible is taken
#   back too. "Other" has no code: the EHR user's comment says why.
OPTION_OVERRIDES = {
    DeclineReason.PATIENT_DECLINED: "patient-refuses",
    DeclineReason.CONTRAINDICATED: "patient-contraindication",
    DeclineReason.ALREADY_IN_PLACE: "indication-order-exists",
    DeclineReason.NOT_APPROPRIATE: "risk-benefit-ratio",
}
DECLINE_REASON_OF_CODE = {code: reason for reason, code in OPTION_OVERRIDES.items()} | {
    "action-completed": DeclineReason.ALREADY_IN_PLACE,
    "patient-ineligible": DeclineReason.NOT_APPROPRIATE,
}
# A caution is weighed, never declined (product.md 5.1): overriding one in the EHR records
# it as acknowledged here. So its reasons are the ones that say it was weighed: the risk was
# mitigated, the risk and benefit were weighed, or it is not a priority now.
CAUTION_OVERRIDES = ["mitigate-risk-negative-outcome", "risk-benefit-ratio", "action-not-priority"]


@cache
def override_displays() -> dict[str, str]:
    """Every code of the override-reason code system with its display (HL7's CDS Hooks 3.0
    vocabulary, kept beside this module), read once."""
    data = json.loads((Path(__file__).parent / "override_reason_codes.json").read_text())
    displays: dict[str, str] = {}

    def walk(concepts: list[dict[str, Any]]) -> None:
        for concept in concepts:
            displays[concept["code"]] = concept["display"]
            walk(concept.get("concept", []))

    walk(data["concept"])
    return displays


def override_reason(code: str) -> Coding:
    return {"code": code, "system": OVERRIDE_SYSTEM, "display": override_displays()[code]}


def override_reasons(kind: str) -> list[Coding]:
    codes = list(OPTION_OVERRIDES.values()) if kind == Kind.OPTION else CAUTION_OVERRIDES
    return [override_reason(code) for code in codes]


def summary(title: str) -> str:
    """The rule's title as a card summary: under 140 characters, cut at a word."""
    title = " ".join(title.split())
    if len(title) < SUMMARY_LIMIT:
        return title
    cut = title[: SUMMARY_LIMIT - 2].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return cut + "…"


def source_label(rule: Rule) -> str:
    return f"Kratom RLS guidance · {rule.code} v{rule.version}"


def card(
    *,
    uuid: UUID,
    rule: Rule,
    because: list[str],
    link: str,
    base_url: str,
    suggestion: UUID | None = None,
    acknowledges: list[str] | None = None,
) -> Card:
    """One card. `suggestion` (options only) is the uuid of its one suggestion: accepting
    it accepts the option here. `acknowledges` names the cautions that accepting
    the option acknowledges with it (product.md 5.1), so that the EHR user knows."""
    detail = [_text(rule.detail)]
    if because:
        detail.append("**Because:** " + _text(" · ".join(because)))
    if acknowledges:
        titles = "; ".join(_text(title) for title in acknowledges)
        detail.append(f"**Accepting this also records as weighed:** {titles}")
    detail.append(f"*Source:* {_text(rule.source)}")
    body: Card = {
        "uuid": str(uuid),
        "summary": summary(rule.title),
        "indicator": rule.indicator,
        "detail": "\n\n".join(detail),
        "source": {"label": source_label(rule), "url": base_url},
        "links": [{"label": "Open the assessment", "url": link, "type": "absolute"}],
        "overrideReasons": override_reasons(rule.kind),
    }
    if suggestion is not None:
        body["suggestions"] = [
            {
                "uuid": str(suggestion),
                "label": f"Accept: {summary(rule.title)}",
                "isRecommended": False,
            }
        ]
        body["selectionBehavior"] = "at-most-one"
    return body


_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# Markdown's link and image brackets, emphasis, code, headings, tables and strike-through:
# backslash-escaped, so that they show as the characters they are (CommonMark 2.4).
_MARKUP = re.compile(r"[<>&\\`*_\[\]#|~]")


def _text(text: str) -> str:
    """Rule text (written by guidance admins) for a Markdown detail, shown as written and
    never rendered: no HTML that an EHR's renderer might let through, and no Markdown
    (a link to follow or an image fetched whenever a chart opens: `[Sign in](https://…)`,
    `![](https://…)`; nor emphasis that would pass for the card's own headings)."""
    return _MARKUP.sub(lambda match: _ENTITIES.get(match[0], "\\" + match[0]), text)
