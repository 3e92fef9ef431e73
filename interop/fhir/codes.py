"""The systems, codes and units of our FHIR resources, in one place.

Our own code systems and identifier systems are canonical URIs under LOCAL_BASE: the
deployment's own address (DJANGO_PUBLIC_BASE_URL) followed by /fhir, e.g.
https://rls.example.org/fhir/CodeSystem/rule. FHIR asks that a system URI be its owner's
and stable, not that it resolve; the clinic's own address is both. An EHR that maps our
codes keys its mapping on these, so the address should not change once exports are in
use. Without DJANGO_PUBLIC_BASE_URL (a server that takes no EHR calls) they fall under
https://kratom-rls.invalid/fhir, a name that can never be anyone's (RFC 2606), and
`check --deploy` says so (interop.checks).
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

UNCONFIGURED_BASE = "https://kratom-rls.invalid"
LOCAL_BASE = f"{settings.PUBLIC_BASE_URL or UNCONFIGURED_BASE}/fhir"

# Names in our code systems and identifiers.
MRN_SYSTEM = f"{LOCAL_BASE}/NamingSystem/mrn"
USERNAME_SYSTEM = f"{LOCAL_BASE}/NamingSystem/username"
RULE_SYSTEM = f"{LOCAL_BASE}/CodeSystem/rule"
SCALE_TOTAL_SYSTEM = f"{LOCAL_BASE}/CodeSystem/scale-total"
ITEM_SCORE_SYSTEM = f"{LOCAL_BASE}/CodeSystem/item-score"
DECISION_SYSTEM = f"{LOCAL_BASE}/CodeSystem/decision"
DECLINE_REASON_SYSTEM = f"{LOCAL_BASE}/CodeSystem/decline-reason"


def band_system(scale_code: str) -> str:
    """Each scale's bands are a code system of their own ("mild" is not the same band on
    the IRLS as on the GAD-7)."""
    return f"{LOCAL_BASE}/CodeSystem/{scale_code}-band"


def questionnaire_url(scale_code: str) -> str:
    return f"{LOCAL_BASE}/Questionnaire/{scale_code}"


# Stable ids: a resource made from a record gets the same UUID on every export, derived
# from the record's own UUID where it has one, else from this namespace. Fixed (it was
# derived from the first, placeholder base), so that ids do not change with the address.
NAMESPACE = uuid.UUID("0ef70d58-36a4-5ada-a525-5dcaba99f871")

# Other people's systems.
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
URI = "urn:ietf:rfc:3986"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types (MR)
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

# Answer weights. R4's core extension for a score on an answer is ordinalValue (FHIR 4.0.1,
# extension-ordinalvalue.html: decimal, used on Questionnaire.item.answerOption among
# others); the FHIR extensions pack renamed it itemWeight ("This extension used to be
# called http://hl7.org/fhir/StructureDefinition/ordinalValue. In questionnaires, this
# extension goes on answerOption"), the name R5 and current SDC readers look for. We put
# both on every answerOption, with the same value, so that R4 tools and newer ones alike
# can add up a score.
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"

# The GAD-7 total has a LOINC code; the IRLS and COWS totals get ours.
GAD7_TOTAL_LOINC = "70274-6"


@dataclass(frozen=True)
class Unit:
    """A unit we read: the factor that takes a value in it to the lab's stored unit."""

    factor: Decimal
    name: str  # as we say it back ("µmol/L")


@dataclass(frozen=True)
class Lab:
    """A lab (or weight) of the assessment: the field that stores it, the LOINC code we
    export it under, the codes we accept on import, and its units."""

    field: str  # the Assessment field and fact name
    name: str
    loinc: str
    loinc_display: str
    accepted_loinc: tuple[str, ...]
    ucum: str  # the stored unit, as UCUM writes it
    category: str  # observation-category code
    decimals: int  # a converted value is rounded to these
    units: dict[str, Unit]  # keyed by normalise_unit()


def normalise_unit(unit: str) -> str:
    """A unit as given, made comparable: no spaces, micro written u, lower case. UCUM is
    case-sensitive, but none of the units we accept differ only by case, while labs and
    EHRs write "ng/ml", "mcg/L" and "µg/L" freely."""
    unit = "".join(unit.split()).replace("µ", "u").replace("μ", "u").lower()
    return "ug" + unit[3:] if unit.startswith("mcg") else unit


_SAME = Decimal(1)
# Creatinine's molar mass is 113.12 g/mol, so 1 mg/dL = 10 mg/L ÷ 113.12 g/mol
# = 0.0884 mmol/L = 88.4 µmol/L: the factor of the usual SI conversion tables.
CREATININE_UMOL_L_PER_MG_DL = Decimal("88.4")
# The international avoirdupois pound is exactly 0.45359237 kg (UCUM's [lb_av]).
KG_PER_POUND = Decimal("0.45359237")

LABS: tuple[Lab, ...] = (
    Lab(
        field="ferritin_ng_ml",
        name="ferritin",
        loinc="2276-4",
        loinc_display="Ferritin [Mass/volume] in Serum or Plasma",
        # Issue 13 lists these three. 20567-4 is serum ferritin by immunoassay (what Mayo
        # Clinic Laboratories and ARUP report under); 24373-3 is another ferritin mass
        # concentration code. All three come in mass per volume, so the units are shared.
        accepted_loinc=("2276-4", "20567-4", "24373-3"),
        ucum="ng/mL",
        category="laboratory",
        decimals=1,
        units={
            "ng/ml": Unit(_SAME, "ng/mL"),
            "ug/l": Unit(_SAME, "µg/L"),  # 1 µg/L = 1 ng/mL
        },
    ),
    Lab(
        field="tsat_percent",
        name="transferrin saturation",
        loinc="2502-3",
        loinc_display="Iron saturation [Mass Fraction] in Serum or Plasma",
        accepted_loinc=("2502-3",),
        ucum="%",
        category="laboratory",
        decimals=1,
        units={"%": Unit(_SAME, "%")},
    ),
    Lab(
        field="serum_creatinine_mg_dl",
        name="creatinine",
        loinc="2160-0",
        loinc_display="Creatinine [Mass/volume] in Serum or Plasma",
        accepted_loinc=("2160-0",),
        ucum="mg/dL",
        category="laboratory",
        decimals=2,
        units={
            "mg/dl": Unit(_SAME, "mg/dL"),
            "umol/l": Unit(1 / CREATININE_UMOL_L_PER_MG_DL, "µmol/L"),
        },
    ),
    Lab(
        field="weight_kg",
        name="body weight",
        loinc="29463-7",
        loinc_display="Body weight",
        accepted_loinc=("29463-7",),
        ucum="kg",
        category="vital-signs",
        decimals=1,
        units={
            "kg": Unit(_SAME, "kg"),
            "g": Unit(Decimal("0.001"), "g"),
            "[lb_av]": Unit(KG_PER_POUND, "lb"),
            "lb": Unit(KG_PER_POUND, "lb"),
            "lbs": Unit(KG_PER_POUND, "lb"),
        },
    ),
)

LAB_BY_FIELD = {lab.field: lab for lab in LABS}
LAB_BY_LOINC = {code: lab for lab in LABS for code in lab.accepted_loinc}
