"""The Questionnaires of the export, one per scale, built from the scale registry (the one
place items, allowed values and bands are defined), and the codes of their totals."""

import uuid

from interop.fhir import codes
from interop.fhir import resources as fhir
from interop.fhir.resources import coding, concept
from patients.scales import Scale

# clinical-reference.md 2.4: the IRLS wording is copyrighted (NINDS CDE "Notice of
# Copyright"; a fee for for-profit use), distribution through Mapi Research Trust is
# commonly stated but unconfirmed. We export item ids, our paraphrases and scores only.
IRLS_COPYRIGHT = (
    "The International Restless Legs Syndrome Study Group Rating Scale (IRLS) is copyright "
    "of the International RLS Study Group (IRLSSG); its official wording is licensed "
    "(commonly said to be through Mapi Research Trust), and a fee applies to for-profit "
    "use. The item texts in this Questionnaire are this clinic's own paraphrases, not the "
    "licensed wording: only the item numbering, the 0-4 scoring and the bands follow the "
    "scale."
)
COPYRIGHTS = {"irls": IRLS_COPYRIGHT}


def questionnaire_id(scale_code: str) -> uuid.UUID:
    return uuid.uuid5(codes.NAMESPACE, f"Questionnaire/{scale_code}")


def questionnaire(scale: Scale) -> fhir.Questionnaire:
    resource: fhir.Questionnaire = {
        "resourceType": "Questionnaire",
        "url": codes.questionnaire_url(scale.code),
        "name": scale.code.upper(),
        "title": scale.title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": f"{scale.recall} Source: {scale.source}.",
        "item": [
            {
                "linkId": item.key,
                "text": item.label,
                "type": "choice",
                "required": True,
                "answerOption": [
                    {
                        "extension": [
                            {"url": codes.ORDINAL_VALUE, "valueDecimal": value},
                            {"url": codes.ITEM_WEIGHT, "valueDecimal": value},
                        ],
                        "valueCoding": coding(codes.ITEM_SCORE_SYSTEM, str(value), str(value)),
                    }
                    for value in item.allowed
                ],
                # What the values mean, in our words, shown with the question.
                "item": [
                    {"linkId": f"{item.key}.anchors", "text": item.anchors, "type": "display"}
                ],
            }
            for item in scale.items
        ],
    }
    if scale.code in COPYRIGHTS:
        resource["copyright"] = COPYRIGHTS[scale.code]
    return resource


def total_code(scale: Scale) -> fhir.CodeableConcept:
    if scale.code == "gad7":
        return concept(
            codes.LOINC,
            codes.GAD7_TOTAL_LOINC,
            "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
            "GAD-7 total",
        )
    return concept(codes.SCALE_TOTAL_SYSTEM, f"{scale.code}-total", f"{scale.name} total")
