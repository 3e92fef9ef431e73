"""The assessment form's live panel, in one place: what it is derived from (the form as
posted so far, validated as the form validates it, or the assessment's own values), what it
shows (each scale's total and band by the scale registry, the derived facts by the fact
table, in words), and what it says to screen readers (only what changed). One entry point,
panel_for; the views render it (clinic.views.assessments). It reads the patient's previous
IRLS (one query) and saves nothing.
"""

import math
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.db import models
from django.http import QueryDict
from django.utils import timezone
from django.utils.formats import date_format

from clinic.forms.assessments import check_assessed_at, last_dose_problem, live_scores, posted_items
from patients.fact_words import describe
from patients.facts import (
    CRITERIA,
    FACT_BY_NAME,
    age_in_years,
    derive_facts,
    hours_between,
)
from patients.models import Assessment, Patient, PreviousScore
from patients.scales import SCALES, Progress


def panel_for(assessment: Assessment, data: QueryDict | None, *, live: bool = False) -> "Panel":
    """The live panel of the form for `assessment` (new, or the one being corrected):
    from what is posted, or else from the assessment's own values. `live`: an update of
    the panel in place, which says to screen readers what changed."""
    inputs = live_inputs(data, assessment)
    said = data.get("panel_said", "") if data is not None and live else ""
    return assessment_panel(
        inputs,
        patient=assessment.patient,
        previous=assessment.previous_irls(before=inputs.assessed_at),
        said=str(said),
    )


# What it is derived from


# The live panel's inputs: what the derived facts are derived from.
LIVE_INPUTS = ["assessed_at", "last_dose_at", "weight_kg", "serum_creatinine_mg_dl", *CRITERIA]


class LiveInputsForm(forms.Form):
    """The inputs of the derived facts, from an assessment form as posted so far: the
    assessment form's own fields, validated as there (the fact table's ranges included).
    Nothing is saved; a value that is not valid is left out, and the panel says so."""

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.fields.update(forms.fields_for_model(Assessment, LIVE_INPUTS))  # never shown
        for name, field in self.fields.items():
            field.required = False  # nothing is required while the form is being filled
            # A ModelForm checks the model's validators (the ranges) after the fields; a
            # plain form checks them with the field's own.
            model_field = Assessment._meta.get_field(name)
            assert isinstance(model_field, models.Field)
            field.validators = [*field.validators, *model_field.validators]

    def clean_assessed_at(self) -> Any:
        assessed_at = self.cleaned_data["assessed_at"]
        if assessed_at is not None:
            check_assessed_at(assessed_at, self.patient)
        return assessed_at


@dataclass(frozen=True)
class LiveInputs:
    """What the live panel derives its facts from."""

    assessed_at: datetime  # as entered, or else the default (now, or the saved time)
    assessed_at_entered: bool  # False: the entered time was missing or not valid
    last_dose_at: datetime | None
    last_dose_problem: str | None  # a time entered but not usable, and why
    entered: dict[str, Any]  # entered facts that are valid so far
    items: dict[str, int]  # scale answers that are allowed for their items
    not_valid: frozenset[str]  # inputs entered with a value that is not valid


def live_inputs(data: QueryDict | None, assessment: Assessment) -> LiveInputs:
    """The live panel's inputs: from the posted form, or, without one, from `assessment`
    (a new one with its defaults, or the one being corrected as saved)."""
    if data is None:
        values = assessment.entered_values()
        return LiveInputs(
            assessed_at=assessment.assessed_at,
            assessed_at_entered=True,
            last_dose_at=assessment.last_dose_at,
            last_dose_problem=None,
            entered={name: values[name] for name in LIVE_INPUTS if name != "assessed_at"},
            items={
                key: value for key, value in assessment.item_values().items() if value is not None
            },
            not_valid=frozenset(),
        )
    form = LiveInputsForm(data, patient=assessment.patient)
    form.is_valid()
    cleaned = form.cleaned_data
    entered_at = cleaned.get("assessed_at")
    assessed_at = entered_at or assessment.assessed_at
    last_dose_at = cleaned.get("last_dose_at")
    problem = None
    if "last_dose_at" in form.errors:
        problem = "The last dose time is not a valid date and time."
    elif last_dose_at is not None:
        problem = last_dose_problem(last_dose_at, assessed_at)
    return LiveInputs(
        assessed_at=assessed_at,
        assessed_at_entered=entered_at is not None,
        last_dose_at=None if problem else last_dose_at,
        last_dose_problem=problem,
        entered={name: cleaned.get(name) for name in LIVE_INPUTS if name != "assessed_at"},
        items=posted_items(data),
        not_valid=frozenset(form.errors),
    )


# What it shows


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
