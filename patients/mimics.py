"""Conditions that can look like RLS, each with the question that tells them apart.

Paraphrased from clinical-reference.md section 7 (UpToDate and Medscape differential
tables, the akathisia chapter, the BMC Neurology primary-care algorithm; tagged V).
Recorded as structured answers so the E5 judgement ("not solely explained by another
condition") can be audited.
"""

MIMICS: tuple[tuple[str, str, str], ...] = (
    (
        "withdrawal_restlessness",
        "Generalised withdrawal restlessness",
        "Whole-body restlessness with yawning, runny nose, gooseflesh, large pupils or GI upset; "
        "no leg focus and no evening pattern. Score it with the COWS.",
    ),
    (
        "akathisia",
        "Drug-induced akathisia",
        "Inner, whole-body restlessness after starting or raising a dopamine blocker or SSRI; "
        "little evening pattern; moving does not reliably relieve it.",
    ),
    (
        "leg_cramps",
        "Nocturnal leg cramps",
        "Sudden painful hardening of a muscle, often one leg; eased by stretching it, "
        "not by walking on.",
    ),
    (
        "positional_discomfort",
        "Positional discomfort",
        "Goes with a single change of position; no ongoing urge.",
    ),
    (
        "neuropathy",
        "Peripheral neuropathy",
        "Numbness, tingling or burning not relieved by movement, no steady evening rise. "
        "Can coexist with RLS.",
    ),
    (
        "venous",
        "Venous stasis or varicose veins",
        "Better with the legs raised; swelling or skin changes.",
    ),
    (
        "claudication",
        "Vascular claudication",
        "Brought on by walking and eased by rest: the opposite of RLS.",
    ),
    ("arthritis_myalgia", "Arthritis or myalgia", "Tenderness in a joint or muscle."),
    ("radiculopathy", "Radiculopathy", "Follows a dermatome, often one side, with nerve signs."),
    (
        "hypotensive_akathisia",
        "Hypotensive akathisia",
        "Restless sitting but not lying down; low blood pressure on standing.",
    ),
    (
        "foot_tapping",
        "Habitual foot tapping or leg rocking",
        "No discomfort or urge, not bothersome, no evening pattern.",
    ),
    (
        "painful_legs_moving_toes",
        "Painful legs and moving toes",
        "Involuntary writhing of the toes; no evening pattern.",
    ),
    ("orthostatic_tremor", "Orthostatic tremor", "Only when standing still."),
)

MIMIC_CHOICES = [(code, name) for code, name, _ in MIMICS]
MIMIC_HELP = {code: help_text for code, _, help_text in MIMICS}
MIMIC_NAMES = dict(MIMIC_CHOICES)
