"""Which drug a draft order is for: the gabapentinoids and dopamine agonists that the
guidance has options for (product.md 5.1), recognised by RxNorm code or by name.

Real orders carry RxNorm clinical-drug codes ("gabapentin 300 MG Oral Capsule", an SCD),
rarely ingredient codes. The codes below are only those checked against a named source;
everything else (the dopamine agonists' codes among them, which no source at hand could
confirm) is recognised by the ingredient's name in a coding's display or the concept's
text, so a missing code costs nothing when the order says what it is.

Sources of the codes:
- gabapentin, ingredient (IN) 25480: RxNorm's RXNCONSO entry "25480 | RXNORM | IN |
  gabapentin" (as quoted from the RxNorm release files on opendata.stackexchange.com,
  question 4858).
- the clinical drugs: the VSAC value set "Central Nervous System Depressants" (OID
  2.16.840.1.113762.1.4.1248.134, eCQM update 2025-05-08), which lists each code with its
  RxNorm name; 310431 "gabapentin 300 MG Oral Capsule" is also the code NLM's Pillbox data
  gives that name.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

GABAPENTIN = "gabapentin"
GABAPENTIN_ENACARBIL = "gabapentin enacarbil"
PREGABALIN = "pregabalin"
PRAMIPEXOLE = "pramipexole"
ROPINIROLE = "ropinirole"
ROTIGOTINE = "rotigotine"

# The guidance option each drug is an instance of (product.md section 5 and 5.1).
OPTION_OF = {
    GABAPENTIN: "MED-GABAPENTINOID",
    GABAPENTIN_ENACARBIL: "MED-GABAPENTINOID",
    PREGABALIN: "MED-GABAPENTINOID",
    PRAMIPEXOLE: "MED-DOPAMINE-AGONIST",
    ROPINIROLE: "MED-DOPAMINE-AGONIST",
    ROTIGOTINE: "MED-DOPAMINE-AGONIST",
}

RXNORM_CODES = {
    "25480": GABAPENTIN,  # gabapentin (IN)
    "310430": GABAPENTIN,  # gabapentin 100 MG Oral Capsule
    "310431": GABAPENTIN,  # gabapentin 300 MG Oral Capsule
    "310432": GABAPENTIN,  # gabapentin 400 MG Oral Capsule
    "310433": GABAPENTIN,  # gabapentin 600 MG Oral Tablet
    "310434": GABAPENTIN,  # gabapentin 800 MG Oral Tablet
    "283523": GABAPENTIN,  # gabapentin 50 MG/ML Oral Solution
    "1806380": GABAPENTIN,  # Once-Daily gabapentin 300 MG Oral Tablet
    "1806382": GABAPENTIN,  # Once-Daily gabapentin 600 MG Oral Tablet
    "1101338": GABAPENTIN_ENACARBIL,  # gabapentin enacarbil 600 MG Extended Release Oral Tablet
    "1482820": GABAPENTIN_ENACARBIL,  # gabapentin enacarbil 300 MG Extended Release Oral Tablet
    "483438": PREGABALIN,  # pregabalin 100 MG Oral Capsule
    "483440": PREGABALIN,  # pregabalin 150 MG Oral Capsule
    "483442": PREGABALIN,  # pregabalin 25 MG Oral Capsule
    "483444": PREGABALIN,  # pregabalin 300 MG Oral Capsule
    "483446": PREGABALIN,  # pregabalin 200 MG Oral Capsule
    "483448": PREGABALIN,  # pregabalin 50 MG Oral Capsule
    "483450": PREGABALIN,  # pregabalin 75 MG Oral Capsule
    "577127": PREGABALIN,  # pregabalin 225 MG Oral Capsule
    "1988974": PREGABALIN,  # 24 HR pregabalin 165 MG Extended Release Oral Tablet
    "1988977": PREGABALIN,  # 24 HR pregabalin 330 MG Extended Release Oral Tablet
    "1988980": PREGABALIN,  # 24 HR pregabalin 82.5 MG Extended Release Oral Tablet
}

# Names, longest first so that "gabapentin enacarbil" is not taken for gabapentin. The US
# brand names are those of the drugs' labels (Neurontin and Gralise: gabapentin; Horizant:
# gabapentin enacarbil; Lyrica: pregabalin; Mirapex: pramipexole; Requip: ropinirole;
# Neupro: rotigotine): a branded drug's RxNorm name ends with the brand in brackets.
NAMES = {
    GABAPENTIN_ENACARBIL: GABAPENTIN_ENACARBIL,
    GABAPENTIN: GABAPENTIN,
    PREGABALIN: PREGABALIN,
    PRAMIPEXOLE: PRAMIPEXOLE,
    ROPINIROLE: ROPINIROLE,
    ROTIGOTINE: ROTIGOTINE,
    "horizant": GABAPENTIN_ENACARBIL,
    "neurontin": GABAPENTIN,
    "gralise": GABAPENTIN,
    "lyrica": PREGABALIN,
    "mirapex": PRAMIPEXOLE,
    "requip": ROPINIROLE,
    "neupro": ROTIGOTINE,
}
_NAME_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(name) for name in sorted(NAMES, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Drug:
    name: str  # the ingredient
    option: str  # the guidance option's rule code


def recognise(concept: Any) -> Drug | None:
    """The drug a FHIR CodeableConcept names, by an RxNorm coding's code first, then by a
    name in a coding's display or the concept's text. None for anything else."""
    if not isinstance(concept, dict):
        return None
    codings = [c for c in _as_list(concept.get("coding")) if isinstance(c, dict)]
    for coding in codings:
        code = coding.get("code")
        if coding.get("system") == RXNORM and isinstance(code, str) and code in RXNORM_CODES:
            return _drug(RXNORM_CODES[code])
    texts = [c.get("display") for c in codings] + [concept.get("text")]
    for text in texts:
        match = _NAME_PATTERN.search(text) if isinstance(text, str) else None
        if match:
            return _drug(NAMES[match.group(1).lower()])
    return None


def _drug(name: str) -> Drug:
    return Drug(name, OPTION_OF[name])


def _as_list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else []
