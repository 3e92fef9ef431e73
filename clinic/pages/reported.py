"""A patient's own answers (patients.invitations) on their way into an assessment: the
clinician starts from them, sees each marked, and saves; only then do they count."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from patients.invitations import Invitation
from patients.models import Assessment, Patient

# The answers that are assessment fields (the invitation also keeps which steps are done).
FIELDS_PREFIX = "_"


class AnswersTaken(Exception):
    """The answers were taken into an assessment by someone else meanwhile."""


@dataclass(frozen=True)
class ReportedAnswers:
    invitation: Invitation

    def values(self) -> dict[str, Any]:
        values = {}
        for name, value in self.invitation.answers.items():
            if name.startswith(FIELDS_PREFIX):
                continue
            if name == "last_dose_at":
                try:
                    value = datetime.fromisoformat(value)
                except (TypeError, ValueError):  # only the validated form writes it
                    continue
            values[name] = value
        return values

    @property
    def names(self) -> list[str]:
        return sorted(self.values())

    def kept_in(self, assessment: Assessment) -> list[str]:
        """The fields saved as the patient gave them (a clinician's change is theirs)."""
        return [name for name, value in self.values().items() if getattr(assessment, name) == value]

    def taken_into(self, assessment: Assessment) -> None:
        """Link the answers to the saved assessment (in its transaction), unless someone
        took them first: the invitation's row is locked while it is checked."""
        invitation = Invitation.objects.select_for_update().get(pk=self.invitation.pk)
        if invitation.assessment_id is not None:
            raise AnswersTaken
        invitation.assessment = assessment
        invitation.save(update_fields=["assessment"])


def patient_answers(patient: Patient, uuid: str | None) -> ReportedAnswers | None:
    """The patient's sent answers named by `uuid`, while no assessment has taken them."""
    if not uuid:
        return None
    try:
        invitation = Invitation.objects.awaiting_review().filter(patient=patient, uuid=uuid).first()
    except ValidationError:  # not a UUID
        return None
    return ReportedAnswers(invitation) if invitation else None
