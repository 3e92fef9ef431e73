"""The default guidance rules of product.md section 5 (version 3 of that document).

Codes, categories, indicators, kinds, strengths, qualified options and conditions are
product.md's, exactly. Titles and details are ours, grounded in clinical-reference.md
(cited by section) and the source document (cited by heading), with the wording points of
product.md 5.3. A fact tagged U there is said to be unverified here.

Loaded by the migration guidance/0009 on a fresh install; guidance/0009 and
`python manage.py load_default_rules` bring an existing database up to this set (see
load_default_rules).
"""

from datetime import timedelta
from typing import Any

from django.utils import timezone

IRLS11 = "rls_criteria_met and irls_total != null and irls_total >= 11"

AASM = "AASM 2024 RLS guideline, Winkelman et al., J Clin Sleep Med 2025;21:137"
DOC = "Source document"

# Fact sets for the rules' own test cases.
MODERATE_RLS = {"rls_criteria_met": True, "irls_total": 11}
MILD_RLS = {"rls_criteria_met": True, "irls_total": 10}


def case(name: str, fires: bool, **facts: Any) -> dict[str, Any]:
    return {"name": name, "facts": facts, "fires": fires}


DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "code": "MED-GABAPENTINOID",
        "category": "medication",
        "indicator": "info",
        "condition": f"{IRLS11} and not on_gabapentinoid and not pregnant",
        "title": "Consider an alpha-2-delta ligand: gabapentin, gabapentin enacarbil or pregabalin",
        "detail": (
            "RLS criteria are met and the IRLS is moderate or worse (11 or more). The source "
            "document names gabapentin. The AASM 2024 guideline recommends gabapentin "
            "enacarbil, gabapentin and pregabalin for RLS. Gabapentin is off-label for RLS; "
            "gabapentin enacarbil is labelled for moderate-to-severe primary RLS at 600 mg "
            "once daily with food at about 5 PM (1200 mg added no benefit). The labels warn "
            "of somnolence and impaired driving, of breathing problems with opioids or other "
            "CNS depressants, and of suicidal thoughts. Weigh the cautions shown with this "
            "card before dosing."
        ),
        "source": f"{DOC}: Treatment Options Available (Medications). {AASM}; Horizant "
        "label (clinical-reference.md 5.2, 6.1).",
        "evidence": "AASM 2024: strong for, moderate certainty (gabapentin enacarbil V; "
        "gabapentin and pregabalin V2). Label dose and warnings (V).",
        "test_cases": [
            case("moderate RLS", True, **MODERATE_RLS),
            case("mild RLS", False, **MILD_RLS),
            case("already on one", False, **MODERATE_RLS, on_gabapentinoid=True),
        ],
    },
    {
        "code": "MED-DOPAMINE-AGONIST",
        "category": "medication",
        "indicator": "warning",
        "condition": f"{IRLS11} and not on_dopamine_agonist and not pregnant",
        "title": "Pramipexole: named by the source document, but not advised as standard use",
        "detail": (
            "The source document lists pramipexole. The AASM 2024 guideline suggests against "
            "its standard use because of augmentation (about 8% a year in a community "
            "sample); a patient who puts short-term relief first may still choose it. "
            "Impulse-control disorders affect roughly 5-17% of treated patients and are "
            "linked to a history of drug use, so this population is at higher risk: screen "
            "before starting and at every visit. Pramipexole is about 90% excreted unchanged "
            "by the kidneys (clearance about 60% lower at a creatinine clearance near 40 "
            "mL/min), and its label warns of sudden sleep episodes: ask about driving."
        ),
        "source": f"{DOC}: Treatment Options Available (Medications). {AASM}; Allen 2011; "
        "Voon 2011; pramipexole label (clinical-reference.md 5.2, 6.2).",
        "evidence": "AASM 2024: conditional against standard use, moderate certainty (V); "
        "impulse-control range 5-17% (V2).",
        "test_cases": [
            case("moderate RLS", True, **MODERATE_RLS),
            case("already on one", False, **MODERATE_RLS, on_dopamine_agonist=True),
        ],
    },
    {
        "code": "SAFE-GABA-RESPIRATORY",
        "category": "safety",
        "indicator": "critical",
        "condition": f"{IRLS11} and (on_opioid_agonist_treatment or uses_other_opioids or "
        "on_cns_depressant or on_sedating_antihistamine or on_serotonergic_antidepressant or "
        "respiratory_disease or age_years >= 65 or hours_since_last_dose == null or "
        "hours_since_last_dose < 24)",
        "title": "Breathing risk with gabapentinoids: opioids (kratom included), sedatives, "
        "antidepressants, antihistamines, lung disease or older age",
        "detail": (
            "The FDA warned in 2019 of serious breathing problems when gabapentin or "
            "pregabalin is taken with opioids or other CNS depressants (it names anti-anxiety "
            "drugs, antidepressants and antihistamines), with COPD or reduced lung function, "
            "or by older people; in 49 reported cases 12 died, all with a risk factor. Kratom "
            "acts on opioid receptors. A last dose under 24 hours ago, or an unknown "
            "last-dose time, counts as possibly still using: that 24-hour cut-off is this "
            "application's (mitragynine's half-life is about a day), not the FDA's. If a "
            "gabapentinoid is used, start at the lowest dose and watch for confusion, extreme "
            "sleepiness, slow or shallow breathing and blue lips or fingers."
        ),
        "source": "FDA Drug Safety Communication, 19 Dec 2019; Trakulsrichai 2015 "
        "(clinical-reference.md 4.1, 6.1).",
        "evidence": "FDA safety communication (V); the 24 h cut-off is this application's, "
        "from a half-life of about 23 h (V2).",
        "test_cases": [
            case("recent kratom dose", True, **MODERATE_RLS, hours_since_last_dose=23.5),
            case("last dose time unknown", True, **MODERATE_RLS, age_years=40),
            case("on methadone", True, **MODERATE_RLS, on_opioid_agonist_treatment=True),
            case(
                "on an SSRI",
                True,
                **MODERATE_RLS,
                on_serotonergic_antidepressant=True,
                hours_since_last_dose=48,
            ),
            case(
                "on hydroxyzine",
                True,
                **MODERATE_RLS,
                on_sedating_antihistamine=True,
                hours_since_last_dose=48,
            ),
            case("aged 65", True, **MODERATE_RLS, age_years=65, hours_since_last_dose=48),
            case("no risk factor", False, **MODERATE_RLS, age_years=64, hours_since_last_dose=24),
            case("mild RLS", False, **MILD_RLS, age_years=70),
        ],
    },
    {
        "code": "SAFE-GABA-RENAL",
        "category": "safety",
        "indicator": "warning",
        "condition": f"{IRLS11} and crcl_ml_min != null and crcl_ml_min < 60",
        "title": "Creatinine clearance under 60 mL/min: adjust any gabapentinoid dose",
        "detail": (
            "Gabapentin's label lowers the daily dose by clearance: 30-59 mL/min 400-1400 mg "
            "in two doses; 15-29 mL/min 200-700 mg once daily; under 15 mL/min 100-300 mg "
            "once daily. Gabapentin enacarbil for RLS: start 300 mg/day at 30-59, 300 mg/day "
            "at 15-29, 300 mg every other day under 15, not on haemodialysis. Pregabalin's "
            "renal table was not collected: use its current label."
        ),
        "source": "Neurontin label section 2.3 (DailyMed); Horizant label "
        "(clinical-reference.md 6.1).",
        "evidence": "Drug labels (V); pregabalin's renal dosing unverified (U).",
        "test_cases": [
            case("clearance 59.9", True, **MODERATE_RLS, crcl_ml_min=59.9),
            case("clearance 60", False, **MODERATE_RLS, crcl_ml_min=60),
        ],
    },
    {
        "code": "SAFE-GABA-RENAL-UNKNOWN",
        "category": "safety",
        "indicator": "info",
        "condition": f"{IRLS11} and crcl_ml_min == null",
        "title": "Estimate creatinine clearance before dosing a gabapentinoid",
        "detail": (
            "Serum creatinine or weight is missing, so creatinine clearance (Cockcroft-Gault) "
            "cannot be estimated. Gabapentin and gabapentin enacarbil doses depend on it."
        ),
        "source": "Neurontin and Horizant labels (clinical-reference.md 6.1, 9).",
        "evidence": "Drug labels (V).",
        "test_cases": [
            case("no clearance", True, **MODERATE_RLS),
            case("clearance known", False, **MODERATE_RLS, crcl_ml_min=90),
        ],
    },
    {
        "code": "SAFE-GABA-MISUSE",
        "category": "safety",
        "indicator": "warning",
        "condition": IRLS11,
        "title": "Gabapentinoid misuse is commoner with opioid or other substance use disorders",
        "detail": (
            "Opioid use disorder is the strongest known risk factor for gabapentinoid misuse, "
            "and misuse is more frequent with pregabalin than with gabapentin. Avoid "
            "prescribing a gabapentinoid where possible in a substance use disorder; "
            "otherwise prescribe limited supplies and watch for misuse (Hägg 2020). "
            "Pregabalin is Schedule V in the US."
        ),
        "source": "Evoy et al., Drugs 2021; Hägg et al., Drug Saf 2020; FDA 2019 "
        "(clinical-reference.md 6.1).",
        "evidence": "Systematic reviews (V).",
        "test_cases": [
            case("moderate RLS", True, **MODERATE_RLS),
            case("mild RLS", False, **MILD_RLS),
        ],
    },
    {
        "code": "SAFE-AUGMENTATION",
        "category": "safety",
        "indicator": "warning",
        "condition": "on_dopamine_agonist",
        "title": "On a dopamine agonist: check for augmentation",
        "detail": (
            "Augmentation is RLS made worse by its treatment: symptoms start earlier in the "
            "day, spread to the arms or trunk, come on sooner at rest, or each dose relieves "
            "them for less time. About 8% a year of people on dopaminergic treatment develop "
            "it; in pooled data from 60 studies it was far commoner with levodopa (about 27%) "
            "than with dopamine agonists (about 6%). Screen for impulse-control disorders at "
            "the same visit."
        ),
        "source": "IRLSSG/Max Planck augmentation criteria; Allen 2011; meta-analysis 2016; "
        "AASM 2024 summary (clinical-reference.md 6.2).",
        "evidence": "V.",
        "test_cases": [
            case("on an agonist", True, on_dopamine_agonist=True),
            case("not on one", False),
        ],
    },
    {
        "code": "SAFE-DA-RENAL",
        "category": "safety",
        "indicator": "warning",
        "condition": f"{IRLS11} and crcl_ml_min != null and crcl_ml_min < 60",
        "title": "Creatinine clearance under 60 mL/min: pramipexole needs a low start and a "
        "slow titration",
        "detail": (
            "About 90% of pramipexole is excreted unchanged by the kidneys: its clearance is "
            "about 60% lower at a creatinine clearance near 40 mL/min and about 75% lower "
            "near 20. Start at the lowest dose (0.125 mg 2-3 h before bed) and titrate "
            "slowly. The label's renal titration interval for RLS (14 days at 20-60 mL/min) "
            "is unverified."
        ),
        "source": "Mirapex label, clinical pharmacology (clinical-reference.md 6.2).",
        "evidence": "Renal excretion and clearance V; the 14-day RLS interval U.",
        "test_cases": [
            case("clearance 59.9", True, **MODERATE_RLS, crcl_ml_min=59.9),
            case("clearance 60", False, **MODERATE_RLS, crcl_ml_min=60),
            case("clearance unknown", False, **MODERATE_RLS),
        ],
    },
    {
        "code": "SAFE-AGGRAVATING-MEDS",
        "category": "safety",
        "indicator": "warning",
        "condition": "on_serotonergic_antidepressant or on_sedating_antihistamine or "
        "on_dopamine_antagonist",
        "title": "A current medicine can worsen RLS",
        "detail": (
            "Serotonergic antidepressants (SSRI, SNRI, tricyclic, mirtazapine), sedating "
            "antihistamines (diphenhydramine, hydroxyzine, promethazine) and dopamine blockers "
            "(antipsychotics, metoclopramide, prochlorperazine) can aggravate RLS. Several "
            "are given for withdrawal symptoms. Review whether each is needed, or has an "
            "alternative, before or alongside RLS treatment."
        ),
        "source": "UpToDate RLS treatment algorithm; summaries of the AASM 2024 guideline "
        "(clinical-reference.md 4.5, 5.4).",
        "evidence": "UpToDate (V); the guideline's exact wording unverified (V2/U).",
        "test_cases": [
            case("on hydroxyzine", True, on_sedating_antihistamine=True),
            case("none of them", False),
        ],
    },
    {
        "code": "SAFE-PREGNANCY",
        "category": "safety",
        "indicator": "critical",
        "condition": "pregnant",
        "title": "Pregnancy: drug suggestions withheld; non-drug measures and iron status first",
        "detail": (
            "This rule set does not suggest gabapentinoids or dopamine agonists in pregnancy "
            "(gabapentin enacarbil: possible fetal harm in animal data). RLS affects about one "
            "pregnant woman in five; non-drug measures come first, and iron is considered when "
            "ferritin is low. Co-manage with obstetrics. Kratom in pregnancy risks neonatal "
            "abstinence syndrome. Pregnancy-specific iron thresholds are unverified."
        ),
        "source": "Jahani Kondori 2020; Horizant label; Striley 2022 (clinical-reference.md 6.5).",
        "evidence": "V; IRLSSG pregnancy iron thresholds unverified (U).",
        "test_cases": [case("pregnant", True, pregnant=True), case("not pregnant", False)],
    },
    {
        "code": "SAFE-ADOLESCENT",
        "category": "safety",
        "indicator": "critical",
        "condition": "age_years < 18",
        "title": "Under 18: these rules are written for adults",
        "detail": (
            "Thresholds differ for children and adolescents; for example, iron is suggested "
            "below a ferritin of 50 ng/mL rather than 75. Check every suggestion against "
            "paediatric guidance."
        ),
        "source": "Summaries of the AASM 2024 guideline (clinical-reference.md 5.1, 5.3).",
        "evidence": "V2.",
        "test_cases": [case("aged 17", True, age_years=17), case("aged 18", False, age_years=18)],
    },
    {
        "code": "IRON-STUDIES",
        "category": "iron",
        "indicator": "info",
        "condition": "rls_criteria_met and (ferritin_ng_ml == null or tsat_percent == null)",
        "title": "Order morning ferritin and transferrin saturation",
        "detail": (
            "Iron studies are advised for everyone with clinically significant RLS: serum "
            "ferritin and transferrin saturation (TSAT), drawn in the morning with no iron "
            "supplement or iron-rich food for 24 hours before. Ferritin rises with "
            "inflammation, when TSAT can be the better marker."
        ),
        "source": f"{AASM}, good-practice statement (clinical-reference.md 5.1).",
        "evidence": "AASM good-practice statement (V).",
        "test_cases": [
            case("no TSAT", True, rls_criteria_met=True, ferritin_ng_ml=40),
            case("both known", False, rls_criteria_met=True, ferritin_ng_ml=40, tsat_percent=25),
        ],
    },
    {
        "code": "IRON-SUPPLEMENT",
        "category": "iron",
        "indicator": "warning",
        "condition": "rls_criteria_met and not iron_overload and ((ferritin_ng_ml != null and "
        "ferritin_ng_ml <= 75) or (tsat_percent != null and tsat_percent < 20))",
        "title": "Iron supplementation: ferritin 75 ng/mL or less, or TSAT under 20%",
        "detail": (
            "The source document suggests iron when iron is low. In adults with RLS the AASM "
            "2024 guideline supports oral or IV iron at these levels (consensus thresholds, "
            "not trial-tested): IV ferric carboxymaltose strong for, oral ferrous sulfate "
            "conditional for. These thresholds are for non-pregnant adults: children and "
            "pregnancy differ. Ferric carboxymaltose lowers phosphate in about half of "
            "patients; recheck iron studies during treatment."
        ),
        "source": f"{DOC}: Treatment Options Available (Iron Supplementation). {AASM} "
        "(clinical-reference.md 5.1, 5.2, 6.4).",
        "evidence": "Thresholds V; ferric carboxymaltose strong for and ferrous sulfate "
        "conditional for (V2).",
        "test_cases": [
            case("ferritin 75", True, rls_criteria_met=True, ferritin_ng_ml=75),
            case("TSAT 19.9", True, rls_criteria_met=True, tsat_percent=19.9),
            case(
                "ferritin 76, TSAT 20",
                False,
                rls_criteria_met=True,
                ferritin_ng_ml=76,
                tsat_percent=20,
            ),
        ],
    },
    {
        "code": "IRON-IV-ONLY",
        "category": "iron",
        "indicator": "info",
        "condition": "rls_criteria_met and not iron_overload and ferritin_ng_ml != null and "
        "ferritin_ng_ml > 75 and ferritin_ng_ml <= 100 and "
        "(tsat_percent == null or tsat_percent >= 20)",
        "title": "Ferritin 75-100 ng/mL: oral iron unlikely to help; IV iron may",
        "detail": (
            "In this range the AASM 2024 guideline reserves iron for the IV route; oral iron "
            "is not suggested. The upper bound of 100 ng/mL comes from secondary summaries. "
            "Ferric carboxymaltose causes low phosphate in about half of patients (51%, "
            "against 22% after iron sucrose), lasting months; severe hypersensitivity is "
            "rare (under 1% in trials)."
        ),
        "source": f"{AASM} (clinical-reference.md 5.1, 6.4).",
        "evidence": "V; upper bound of 100 V2; phosphate and hypersensitivity figures V.",
        "test_cases": [
            case("ferritin 100", True, rls_criteria_met=True, ferritin_ng_ml=100),
            case("ferritin 101", False, rls_criteria_met=True, ferritin_ng_ml=101),
        ],
    },
    {
        "code": "IRON-DEFICIENCY-WORKUP",
        "category": "iron",
        "indicator": "warning",
        "condition": "ferritin_ng_ml != null and ferritin_ng_ml < 30",
        "title": "Ferritin under 30 ng/mL: look for the cause of iron deficiency",
        "detail": (
            "An adult with ferritin under 30 ng/mL should have the cause investigated, such "
            "as gastrointestinal blood loss, especially after the age of 40-50."
        ),
        "source": "UpToDate RLS treatment algorithm (clinical-reference.md 5.1).",
        "evidence": "V.",
        "test_cases": [
            case("ferritin 29", True, ferritin_ng_ml=29),
            case("ferritin 30", False, ferritin_ng_ml=30),
        ],
    },
    {
        "code": "IRON-OVERLOAD",
        "category": "safety",
        "indicator": "critical",
        "condition": "iron_overload",
        "title": "Known iron overload: avoid empirical iron",
        "detail": (
            "Haemochromatosis or iron overload is recorded. Do not give iron without "
            "specialist advice. No ferritin or TSAT ceiling for iron treatment was found in "
            "the sources consulted (unverified)."
        ),
        "source": "clinical-reference.md 6.4 (a design suggestion there).",
        "evidence": "U: contraindication thresholds unverified.",
        "test_cases": [case("overload", True, iron_overload=True), case("none", False)],
    },
    {
        "code": "CBT-ANXIETY",
        "category": "behavioural",
        "indicator": "info",
        "condition": "gad7_total != null and gad7_total >= 10",
        "title": "CBT for anxiety and restlessness during withdrawal",
        "detail": (
            "GAD-7 is 10 or more (moderate anxiety or worse). The source document suggests "
            "cognitive-behavioural therapy for the anxiety and restlessness of withdrawal. "
            "An RLS-specific CBT programme improved quality of life and mental health in a "
            "small study (n = 25)."
        ),
        "source": f"{DOC}: Treatment Options Available (Behavioral Therapies). Hornyak 2008 "
        "(clinical-reference.md 5.6).",
        "evidence": "Proof-of-concept study (V).",
        "test_cases": [
            case("GAD-7 10", True, gad7_total=10),
            case("GAD-7 9", False, gad7_total=9),
        ],
    },
    {
        "code": "CBT-INSOMNIA",
        "category": "behavioural",
        "indicator": "info",
        "condition": "sleep_hours_per_night != null and sleep_hours_per_night < 6",
        "title": "CBT for insomnia",
        "detail": (
            "Sleep is under 6 hours a night. In a randomised trial in RLS (n = 25), CBT for "
            "insomnia improved insomnia and anxiety, but not RLS severity."
        ),
        "source": "CBT-I in RLS, Sleep Med 2020;74:227 (clinical-reference.md 5.6).",
        "evidence": "Randomised trial (V).",
        "test_cases": [
            case("5.9 h", True, sleep_hours_per_night=5.9),
            case("6 h", False, sleep_hours_per_night=6),
        ],
    },
    {
        "code": "WD-FIRST",
        "category": "withdrawal",
        "indicator": "warning",
        "condition": "rls_criteria_met and cows_total != null and cows_total >= 13 and "
        "(hours_since_last_dose == null or hours_since_last_dose < 72)",
        "title": "Moderate or worse withdrawal in its first 72 hours: stabilise it alongside "
        "any RLS treatment",
        "detail": (
            "COWS is 13 or more and the last dose was under 72 hours ago (or its time is "
            "unknown). Stabilise the withdrawal alongside any RLS treatment: medical "
            "supervision, and a referral for buprenorphine where it fits. Withdrawal "
            "restlessness overlaps the RLS symptoms being scored: after opioid abstinence, "
            "RLS appeared after a mean 1.7 days (Gupta 2018). Re-score the IRLS once the COWS "
            "is below 13, before committing to a long-term RLS drug. The 72 hours and the "
            "re-score are this application's design, not a source's advice."
        ),
        "source": f"{DOC}: Understanding Kratom Withdrawal. Gupta 2018, Sleep Med 45:39; "
        "the withdrawal mimic (clinical-reference.md 7, 8).",
        "evidence": "Overlap and onset V (opioid withdrawal); the 72 h and the re-score are "
        "this application's design.",
        "test_cases": [
            case(
                "COWS 13 at 30 h",
                True,
                rls_criteria_met=True,
                cows_total=13,
                hours_since_last_dose=30,
            ),
            case("last dose unknown", True, rls_criteria_met=True, cows_total=15),
            case("COWS 12", False, rls_criteria_met=True, cows_total=12, hours_since_last_dose=30),
            case("at 72 h", False, rls_criteria_met=True, cows_total=15, hours_since_last_dose=72),
            case("criteria not met", False, cows_total=15, hours_since_last_dose=30),
        ],
    },
    {
        "code": "WD-SUPERVISION",
        "category": "withdrawal",
        "indicator": "warning",
        "condition": "cows_total != null and cows_total >= 13",
        "title": "Moderate or worse withdrawal: medical supervision",
        "detail": (
            "COWS is 13 or more (moderate or worse). The source document recommends medical "
            "supervision through kratom withdrawal. No scale is validated for kratom; the "
            "COWS has been used for it. RLS itself can raise the COWS restlessness and "
            "tremor items, so part of the score may be RLS rather than withdrawal."
        ),
        "source": f"{DOC}: Understanding Kratom Withdrawal. COWS bands and its overlap "
        "with RLS, Singh 2018 (clinical-reference.md 3.1, 3.3).",
        "evidence": "COWS bands V; supervision advice from the source document.",
        "test_cases": [
            case("COWS 13", True, cows_total=13),
            case("COWS 12", False, cows_total=12),
        ],
    },
    {
        "code": "WD-BUPRENORPHINE",
        "category": "withdrawal",
        "indicator": "info",
        "condition": "cows_total != null and cows_total >= 13 and not on_opioid_agonist_treatment",
        "title": "Refer to addiction medicine: buprenorphine/naloxone",
        "detail": (
            "Buprenorphine/naloxone has case-series support in kratom use disorder (induction "
            "as early as 8 h after the last dose in a VA series). There is no formal guideline "
            "for kratom use disorder. Buprenorphine may also ease RLS (IRLS 27.8 to 11.4 at one "
            "year in a clinic cohort). Refer, rather than prescribe it as an RLS treatment."
        ),
        "source": "VA case series; Weiss & Douglas 2021; Cleveland Clinic cohort "
        "(clinical-reference.md 4.5, 6.3).",
        "evidence": "Case series (V); no guideline.",
        "test_cases": [
            case("COWS 13", True, cows_total=13),
            case("already on treatment", False, cows_total=20, on_opioid_agonist_treatment=True),
        ],
    },
    {
        "code": "WD-PEAK-WINDOW",
        "category": "withdrawal",
        "indicator": "info",
        "condition": "hours_since_last_dose != null and hours_since_last_dose >= 24 and "
        "hours_since_last_dose <= 72",
        "title": "Inside the source document's 24-72 h window: plan an evening check",
        "detail": (
            "The last dose was 24 to 72 hours ago: the source document's onset-to-peak window. "
            "No peer-reviewed time course exists for kratom, so this timing is unverified. "
            "RLS is worse in the evening and at night: plan an evening check of symptoms and "
            "sleep."
        ),
        "source": f"{DOC}: Understanding Kratom Withdrawal (clinical-reference.md 4.2).",
        "evidence": "U: timeline from the source document only.",
        "test_cases": [
            case("24 h", True, hours_since_last_dose=24),
            case("72.1 h", False, hours_since_last_dose=72.1),
        ],
    },
    {
        "code": "LIFE-EXERCISE",
        "category": "lifestyle",
        "indicator": "info",
        "condition": "rls_criteria_met",
        "title": "Regular moderate exercise, walking and stretching",
        "detail": (
            "The source document suggests regular exercise such as walking or stretching. "
            "In a randomised trial, 12 weeks of aerobic and lower-body resistance training "
            "three times a week improved IRLS scores; yoga helped in a small exploratory trial."
        ),
        "source": f"{DOC}: Lifestyle Modifications for Relief. Aukerman 2006; Innes 2020 "
        "(clinical-reference.md 5.6).",
        "evidence": "Randomised trials (V).",
        "test_cases": [case("RLS", True, rls_criteria_met=True), case("no RLS", False)],
    },
    {
        "code": "LIFE-SLEEP",
        "category": "lifestyle",
        "indicator": "info",
        "condition": "rls_criteria_met",
        "title": "A consistent sleep schedule and a restful bedroom",
        "detail": (
            "The source document suggests a consistent sleep schedule and a restful sleep "
            "environment. Sleep deprivation aggravates RLS. Guideline summaries recommend "
            "sleep hygiene; no trial was found."
        ),
        "source": f"{DOC}: Lifestyle Modifications for Relief. UpToDate "
        "(clinical-reference.md 5.4, 5.6).",
        "evidence": "V2: no randomised trial.",
        "test_cases": [case("RLS", True, rls_criteria_met=True), case("no RLS", False)],
    },
    {
        "code": "LIFE-CAFFEINE",
        "category": "lifestyle",
        "indicator": "info",
        "condition": "rls_criteria_met and caffeine_mg_per_day != null and caffeine_mg_per_day > 0",
        "title": "Cut down caffeine",
        "detail": (
            "Caffeine intake is recorded. The source document and guideline summaries advise "
            "cutting down stimulants such as caffeine, which can worsen RLS and disturb sleep."
        ),
        "source": f"{DOC}: Lifestyle Modifications for Relief (clinical-reference.md 5.4, 5.6).",
        "evidence": "V2; the guideline's exact wording unverified (U).",
        "test_cases": [
            case("100 mg", True, rls_criteria_met=True, caffeine_mg_per_day=100),
            case("none", False, rls_criteria_met=True, caffeine_mg_per_day=0),
        ],
    },
    {
        "code": "LIFE-NICOTINE",
        "category": "lifestyle",
        "indicator": "info",
        "condition": "rls_criteria_met and nicotine_use",
        "title": "Cut down or stop nicotine",
        "detail": (
            "Nicotine use is recorded. The source document advises reducing stimulants such "
            "as nicotine; guideline summaries encourage stopping smoking."
        ),
        "source": f"{DOC}: Lifestyle Modifications for Relief (clinical-reference.md 5.4).",
        "evidence": "V2; the guideline's exact wording unverified (U).",
        "test_cases": [
            case("smoker", True, rls_criteria_met=True, nicotine_use=True),
            case("non-smoker", False, rls_criteria_met=True),
        ],
    },
    {
        "code": "LIFE-ALCOHOL",
        "category": "lifestyle",
        "indicator": "info",
        "condition": "rls_criteria_met and alcohol_drinks_per_week != null and "
        "alcohol_drinks_per_week > 0",
        "title": "Alcohol aggravates RLS",
        "detail": (
            "Alcohol intake is recorded. Guideline summaries list alcohol among the factors "
            "to address before or alongside drug treatment."
        ),
        "source": "Summaries of the AASM 2024 guideline (clinical-reference.md 5.4).",
        "evidence": "V2; the guideline's exact wording unverified (U).",
        "test_cases": [
            case("1 drink", True, rls_criteria_met=True, alcohol_drinks_per_week=1),
            case("none", False, rls_criteria_met=True, alcohol_drinks_per_week=0),
        ],
    },
    {
        "code": "LIFE-RELAXATION",
        "category": "lifestyle",
        "indicator": "info",
        "condition": "rls_criteria_met or (gad7_total != null and gad7_total >= 5)",
        "title": "Relaxation: mindfulness meditation, deep breathing",
        "detail": (
            "The source document suggests mindfulness meditation or deep breathing to ease "
            "the discomfort. The clinical reference holds no trial of these techniques in RLS."
        ),
        "source": f"{DOC}: Lifestyle Modifications for Relief.",
        "evidence": "Source document only; not trial-tested in the reference.",
        "test_cases": [
            case("GAD-7 5", True, gad7_total=5),
            case("GAD-7 4, no RLS", False, gad7_total=4),
        ],
    },
    {
        "code": "LIFE-DIET",
        "category": "lifestyle",
        "indicator": "info",
        "condition": "rls_criteria_met",
        "title": "Hydration and an iron- and magnesium-rich diet",
        "detail": (
            "Named by the source document. No trial shows that hydration or diet helps RLS "
            "(unverified); magnesium supplements have insufficient evidence; and diet is no "
            "substitute for iron therapy when iron is low."
        ),
        "source": f"{DOC}: Lifestyle Modifications for Relief. Marshall 2019 "
        "(clinical-reference.md 5.6).",
        "evidence": "U: benefit for RLS unverified.",
        "test_cases": [case("RLS", True, rls_criteria_met=True), case("no RLS", False)],
    },
    {
        "code": "DDX-CRITERIA-NOT-MET",
        "category": "diagnosis",
        "indicator": "info",
        "condition": "not rls_criteria_met and irls_total != null and irls_total > 0",
        "title": "Not all IRLSSG criteria met: consider mimics, withdrawal restlessness first",
        "detail": (
            "Symptoms are rated on the IRLS but not all five essential criteria are met. "
            "Consider generalised withdrawal restlessness (whole body, autonomic signs, no "
            "evening pattern), akathisia, cramps, neuropathy and the other mimics. The four "
            "older criteria alone are not specific: 126 of 788 people without RLS met them."
        ),
        "source": "IRLSSG consensus criteria, Allen 2014; Hening 2009 "
        "(clinical-reference.md 1.1, 7).",
        "evidence": "V.",
        "test_cases": [
            case("IRLS 1 without criteria", True, irls_total=1),
            case("IRLS 0", False, irls_total=0),
        ],
    },
    {
        "code": "DDX-AKATHISIA",
        "category": "diagnosis",
        "indicator": "warning",
        "condition": "akathisia_suspected",
        "title": "Consider drug-induced akathisia",
        "detail": (
            "Akathisia is an inner, whole-body restlessness after a dopamine blocker or SSRI "
            "is started or raised, with little evening pattern and no reliable relief from "
            "moving. It is managed differently from RLS: reduce or stop the drug; propranolol "
            "or anticholinergics may help."
        ),
        "source": "UpToDate and Medscape differential tables; Springer chapter on akathisia "
        "(clinical-reference.md 7).",
        "evidence": "V.",
        "test_cases": [case("suspected", True, akathisia_suspected=True), case("not", False)],
    },
    {
        "code": "TREND-IRLS-WORSE",
        "category": "monitoring",
        "indicator": "warning",
        "condition": "irls_change != null and irls_change >= 5",
        "title": "IRLS at least 5 points worse than the last score",
        "detail": (
            "A change of 5 points or more was treated as clinically relevant in a 36-month "
            "cohort of 2,751 patients. Look for augmentation if on a dopamine agonist, for "
            "falling iron (recheck ferritin and TSAT), for medicines that aggravate RLS, and "
            "at the withdrawal course: after opioid tapers RLS was most frequent about two "
            "weeks after the last dose (how it runs after kratom is unverified)."
        ),
        "source": "Fuhs et al. (German/Swiss cohort); McCarter 2023 "
        "(clinical-reference.md 2.3, 5.4, 6.2, 8).",
        "evidence": "5-point change V (one cohort); the course after kratom U.",
        "test_cases": [
            case("5 points worse", True, irls_change=5),
            case("4 points worse", False, irls_change=4),
            case("no earlier score", False),
        ],
    },
    {
        "code": "TREND-IRLS-BETTER",
        "category": "monitoring",
        "indicator": "info",
        "condition": "irls_change != null and irls_change <= -5",
        "title": "IRLS at least 5 points better than the last score",
        "detail": (
            "A fall of 5 points or more is a clinically relevant improvement by the measure "
            "of a 36-month cohort of 2,751 patients: keep the plan that is working, and "
            "review it at the next follow-up."
        ),
        "source": "Fuhs et al. (German/Swiss cohort) (clinical-reference.md 2.3).",
        "evidence": "5-point change V (one cohort).",
        "test_cases": [
            case("5 points better", True, irls_change=-5),
            case("4 points better", False, irls_change=-4),
            case("no earlier score", False),
        ],
    },
    {
        "code": "WD-RLS-RECHECK",
        "category": "monitoring",
        "indicator": "info",
        "condition": "rls_criteria_met and hours_since_last_dose != null and "
        "hours_since_last_dose <= 336",
        "title": "Re-score the IRLS about 2 and 4 weeks after the last dose",
        "detail": (
            "After supervised opioid tapers, RLS was most frequent about 2 weeks after "
            "discharge and the IRLS peaked at about 1 month, near baseline by 3 months. "
            "Schedule follow-ups that re-score the IRLS at about 2 and 4 weeks after the last "
            "dose. How RLS runs after kratom has not been studied (unverified)."
        ),
        "source": "McCarter 2023, J Clin Sleep Med 19:741 (clinical-reference.md 8).",
        "evidence": "Opioid taper cohort (V); the course after kratom U.",
        "test_cases": [
            case("3 days after", True, rls_criteria_met=True, hours_since_last_dose=72),
            case("14 days after", True, rls_criteria_met=True, hours_since_last_dose=336),
            case("15 days after", False, rls_criteria_met=True, hours_since_last_dose=360),
            case("last dose unknown", False, rls_criteria_met=True),
        ],
    },
]

# product.md 5.1: which rules are cautions (the rest are options), and which options each
# caution qualifies. A caution whose options did not fire stands alone.
DRUG_OPTIONS = ["MED-GABAPENTINOID", "MED-DOPAMINE-AGONIST"]
CAUTIONS = {
    "SAFE-GABA-RESPIRATORY": ["MED-GABAPENTINOID"],
    "SAFE-GABA-RENAL": ["MED-GABAPENTINOID"],
    "SAFE-GABA-RENAL-UNKNOWN": ["MED-GABAPENTINOID"],
    "SAFE-GABA-MISUSE": ["MED-GABAPENTINOID"],
    "SAFE-DA-RENAL": ["MED-DOPAMINE-AGONIST"],
    "SAFE-AUGMENTATION": ["MED-DOPAMINE-AGONIST"],
    # Address aggravating medicines before or alongside drug treatment (5.4); stabilise
    # early withdrawal alongside it (WD-FIRST): both shown inside both drug options.
    "SAFE-AGGRAVATING-MEDS": DRUG_OPTIONS,
    "WD-FIRST": DRUG_OPTIONS,
    "SAFE-PREGNANCY": [
        "MED-GABAPENTINOID",
        "MED-DOPAMINE-AGONIST",
        "IRON-SUPPLEMENT",
        "IRON-IV-ONLY",
    ],
    "SAFE-ADOLESCENT": [],
    "IRON-OVERLOAD": ["IRON-SUPPLEMENT", "IRON-IV-ONLY"],
    "WD-PEAK-WINDOW": [],
    "DDX-CRITERIA-NOT-MET": [],
    "DDX-AKATHISIA": [],
    "TREND-IRLS-WORSE": [],
    "TREND-IRLS-BETTER": [],
}
# product.md 5.4: each option's strength in the AASM 2024 table (clinical-reference.md 5.2);
# every other option is not graded, and a caution has none. IV ferric carboxymaltose is
# strong for; oral iron is conditional, which IRON-SUPPLEMENT's text says.
STRENGTHS = {
    "MED-GABAPENTINOID": "strong",
    "IRON-SUPPLEMENT": "strong",
    "IRON-IV-ONLY": "strong",
    "MED-DOPAMINE-AGONIST": "against_standard_use",
}
for _spec in DEFAULT_RULES:
    _spec["kind"] = "caution" if _spec["code"] in CAUTIONS else "option"
    _spec["qualifies"] = list(CAUTIONS.get(_spec["code"], []))
    _spec["strength"] = (
        None if _spec["code"] in CAUTIONS else STRENGTHS.get(_spec["code"], "not_graded")
    )

# What a rule says and does: the fields compared when an existing database is brought up
# to this set.
CLINICAL_FIELDS = [
    "title",
    "detail",
    "category",
    "indicator",
    "kind",
    "strength",
    "qualifies",
    "condition",
    "source",
    "evidence",
    "test_cases",
]
# What makes a version of a rule (Rule.CONTENT_FIELDS): the clinical fields and who keeps
# the rule current and when it is next reviewed (issue 23, knowledge currency); edited in
# the rule editor and shown side by side.
CONTENT_FIELDS = [*CLINICAL_FIELDS, "owner", "review_by"]
DEFAULT_NOTE = "Default rule"
# The default set's keeper, and its first review a year after it is loaded.
DEFAULT_OWNER = "Guidance admins"
REVIEW_CYCLE_DAYS = 365


def currency(rule_model: Any) -> dict[str, Any]:
    """The owner and next review of a default version, where the model has them (not the
    migrations' older models)."""
    names = {field.name for field in rule_model._meta.get_fields()}
    if "owner" not in names:
        return {}
    return {
        "owner": DEFAULT_OWNER,
        "review_by": timezone.localdate() + timedelta(days=REVIEW_CYCLE_DAYS),
    }


def load_default_rules(rule_model: Any) -> int:
    """Bring the database up to the default rule set; returns how many versions it added.

    A code that does not exist yet gets this content as active version 1. A code whose
    active version is a default one (its change note says so) and differs from this content
    gets it as a new active version; the old version is retired and kept, and cards keep
    the version that produced them. A code an admin has changed since is left alone.
    Takes the model as an argument so that a migration can pass its historical one.
    """
    added = 0
    for spec in DEFAULT_RULES:
        versions = rule_model.objects.filter(code=spec["code"])
        latest = versions.order_by("-version").first()
        keeper = currency(rule_model)
        if latest is None:
            rule_model.objects.create(
                version=1, status="active", change_note=DEFAULT_NOTE, **spec, **keeper
            )
            added += 1
            continue
        active = versions.filter(status="active").first()
        if active is None or not active.change_note.startswith(DEFAULT_NOTE):
            continue  # retired by an admin, or edited: theirs to keep
        if all(getattr(active, name) == spec[name] for name in CLINICAL_FIELDS):
            continue
        active.status = "retired"
        if hasattr(active, "retired_at"):  # not in the migrations' older models
            active.retired_at = timezone.now()
        active.save()
        rule_model.objects.create(
            version=latest.version + 1,
            status="active",
            change_note=f"{DEFAULT_NOTE}: product.md version 3",
            **spec,
            **keeper,
        )
        added += 1
    return added
