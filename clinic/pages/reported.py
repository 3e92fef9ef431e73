"""A patient's own answers (patients.invitations) on their way into an assessment: the
clinician starts from them, sees each marked, and saves; only then do they count."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from clinic.forms.selfreport import shown
from patients.invitations import Invitation
from patients.models import Assessment, Patient


class AnswersTaken(Exception):
    """The answers were taken into an assessment by someone else meanwhile."""


@dataclass(frozen=True)
class ReportedAnswers:
    invitation: Invitation

    def values(self) -> dict[str, Any]:
        return shown(self.invitation.answers)

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
