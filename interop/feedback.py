"""Feedback: what the EHR user did with our cards, recorded as their decision here.

- accepted (an option's suggestion): the option accepted, as in the app, so that its
  cautions are all acknowledged with it (product.md 5.1);
- overridden, an option: declined, with the override reason mapped to our coded reasons
  (interop.cards; anything else is "other", its code and display kept in the comment);
- overridden, a caution: acknowledged (a caution is weighed, never declined);
- overridden with neither a reason nor a comment (a plain "Dismiss"): no decision at all.
  The card was seen and put aside; that is kept on the card as a dismissal, counted apart
  from decisions, and the card stays undecided.

Each decision is made by the client's account, with the calling EHR and the EHR user of
the hook call in its comment, and only on the version of the card that was sent: when the
card was decided (or changed) in the app meanwhile, or by earlier feedback, that decision
stands and the feedback is kept as stale; so is feedback on an archived patient's card.
The same feedback twice (same card, outcome and time) is recorded once, so it makes one
decision. A batch is checked whole before anything is recorded, then recorded in one
transaction: all of it or none.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime

from guidance.models import CardStatus, DeclineReason, Kind, Recommendation
from interop.cards import DECLINE_REASON_OF_CODE, override_displays
from interop.hook_request import read_json
from interop.models import CdsClient, HookCard, HookFeedback, Outcome
from interop.responses import bad_request
from patients.models import EditConflict

MAX_ITEMS = 100
MAX_COMMENT = 2000
# What HookFeedback keeps of the override reason's Coding (PostgreSQL refuses longer values).
REASON_LIMITS = {"code": 100, "system": 300, "display": 300}


@dataclass(frozen=True)
class Item:
    hook_card: HookCard
    outcome: str
    at: datetime
    reason_code: str = ""
    reason_system: str = ""
    reason_display: str = ""
    comment: str = ""

    @property
    def is_dismissal(self) -> bool:
        """Overridden with nothing said: no reason (code, or at least its words) and no
        comment. The EHR's plain dismiss."""
        said = self.reason_code or self.reason_display or self.comment
        return self.outcome == Outcome.OVERRIDDEN and not said


def read_feedback(body: bytes, client: CdsClient, service_id: str) -> list[Item]:
    """Every feedback item of the body, each naming a card this service sent this client.
    Raises CdsError (400) naming the first item that is not: then nothing is recorded."""
    data = read_json(body)
    entries = data.get("feedback")
    if not isinstance(entries, list) or not entries:
        raise bad_request("feedback is required: a non-empty list.", "required")
    if len(entries) > MAX_ITEMS:
        raise bad_request(f"At most {MAX_ITEMS} feedback items at once.", "too-long")
    return [_item(entry, f"feedback[{n}]", client, service_id) for n, entry in enumerate(entries)]


def _item(entry: Any, where: str, client: CdsClient, service_id: str) -> Item:
    if not isinstance(entry, dict):
        raise bad_request(f"{where} must be an object.", "structure")
    hook_card = _card(entry.get("card"), where, client, service_id)
    outcome = entry.get("outcome")
    if outcome not in Outcome.values:
        raise bad_request(f"{where}.outcome must be accepted or overridden.")
    at = _timestamp(entry.get("outcomeTimestamp"), where)
    if outcome == Outcome.ACCEPTED:
        accepted = entry.get("acceptedSuggestions")
        ids = (
            [s.get("id") for s in accepted if isinstance(s, dict)]
            if isinstance(accepted, list)
            else []
        )
        if hook_card.suggestion_uuid is None:
            raise bad_request(f"{where}: a caution has no suggestion to accept.", "business-rule")
        if str(hook_card.suggestion_uuid) not in ids:
            raise bad_request(
                f"{where}.acceptedSuggestions must name the card's suggestion.", "required"
            )
        return Item(hook_card, outcome, at)
    override = entry.get("overrideReason")
    if override is None:
        override = {}
    if not isinstance(override, dict):
        raise bad_request(f"{where}.overrideReason must be an object.")
    reason = override.get("reason")
    if reason is None:
        reason = {}
    if not isinstance(reason, dict):
        raise bad_request(f"{where}.overrideReason.reason must be a Coding (an object).")
    code, system, display = (
        _text(reason, key, where, REASON_LIMITS[key]) for key in ("code", "system", "display")
    )
    comment = _text(override, "userComment", where, MAX_COMMENT)
    return Item(hook_card, outcome, at, code, system, display, comment)


def _card(value: Any, where: str, client: CdsClient, service_id: str) -> HookCard:
    try:
        card_uuid = uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        card_uuid = None
    hook_card = (
        HookCard.objects.select_related(
            "call", "rule", "recommendation__rule", "recommendation__assessment__patient"
        )
        .filter(uuid=card_uuid, call__client=client, call__service=service_id)
        .first()
        if card_uuid
        else None
    )
    if hook_card is None:
        raise bad_request(f"{where}.card is not a card this service sent to this client.")
    return hook_card


def _timestamp(value: Any, where: str) -> datetime:
    try:
        at = parse_datetime(value) if isinstance(value, str) else None
        # In UTC, as it is stored: 0001-01-01T00:00+05:00 has no UTC time (OverflowError).
        at = at.astimezone(UTC) if at and at.tzinfo else at
    except (ValueError, OverflowError):
        at = None
    if at is None:
        raise bad_request(f"{where}.outcomeTimestamp is required: an ISO 8601 date and time.")
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _text(data: dict[str, Any], key: str, where: str, limit: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request(f"{where}: {key} must be a string.")
    return value.strip()[:limit]


def record(items: list[Item], client: CdsClient) -> None:
    """The whole batch in one transaction: each item's feedback row, then the decision
    (or dismissal) it makes. An item already received is skipped, not an error."""
    with transaction.atomic():
        for item in items:
            try:
                with transaction.atomic():
                    feedback = HookFeedback.objects.create(
                        hook_card=item.hook_card,
                        outcome=item.outcome,
                        outcome_timestamp=item.at,
                        override_code=item.reason_code,
                        override_system=item.reason_system,
                        override_display=item.reason_display,
                        comment=item.comment,
                    )
            except IntegrityError:
                continue  # this very feedback came before: it has made its decision
            _decide(feedback, item, client)


def _decide(feedback: HookFeedback, item: Item, client: CdsClient) -> None:
    hook_card = item.hook_card
    card = hook_card.recommendation
    if card is None:
        # No card of ours to decide: an order-select caution with no undecided card, or a
        # card that a correction of the assessment has since removed (stale).
        feedback.stale = hook_card.card_version is not None
        feedback.save(update_fields=["stale"])
        return
    if card.rule_id != hook_card.rule_id or card.assessment.patient.is_archived:
        # Corrected in the app (not what the EHR showed), or the record archived since:
        # an archived record takes no decisions (clinic.access), from the EHR neither.
        feedback.stale = True
        feedback.save(update_fields=["stale"])
        return
    if item.is_dismissal:
        # Put aside with nothing said: not a decision, so the card's status and version
        # stay. On a card decided (or changed) since it was sent, it is stale like the rest.
        # Read again, locked: an earlier item of the batch, or a clinician in the app at
        # this moment, may have decided the card since it was loaded.
        current = Recommendation.objects.select_for_update().filter(pk=card.pk)
        if current.values_list("version", flat=True).get() != hook_card.card_version:
            feedback.stale = True
        else:
            feedback.dismissal = card.dismiss(by=client.user, where=_where(item, client))
        feedback.save(update_fields=["dismissal", "stale"])
        return
    status, reason = CardStatus.ACKNOWLEDGED, ""
    if item.outcome == Outcome.ACCEPTED:
        status = CardStatus.ACCEPTED
    elif card.rule.kind == Kind.OPTION:
        status = CardStatus.DECLINED
        reason = DECLINE_REASON_OF_CODE.get(item.reason_code, DeclineReason.OTHER)
    try:
        feedback.decision = card.decide(
            status=status,
            by=client.user,
            expected_version=hook_card.card_version,
            reason=reason,
            comment=_comment(item, client, named=reason != DeclineReason.OTHER and bool(reason)),
        )
    except EditConflict:
        feedback.stale = True  # decided in the app since the card was sent: that stands
    feedback.save(update_fields=["decision", "stale"])


def _where(item: Item, client: CdsClient) -> str:
    return f"{client.name} feedback, EHR user {item.hook_card.call.ehr_user}"


def _comment(item: Item, client: CdsClient, *, named: bool) -> str:
    """Where the decision came from, and the EHR user's reason and words. A reason that
    the decision's coded reason already says is not repeated."""
    parts = [f"From {_where(item, client)}."]
    if item.reason_code and not named:
        display = item.reason_display or override_displays().get(item.reason_code, "")
        parts.append(
            f"Override reason: {display} ({item.reason_code})."
            if display
            else f"Override reason: {item.reason_code}."
        )
    elif item.reason_display and not named:
        parts.append(f"Override reason: {item.reason_display}.")
    if item.comment:
        parts.append(f"Comment: {item.comment}")
    return " ".join(parts)
