"""`python -m bench.compilers`: does the rule preview still need its own compiler?

The preview runs a draft rule over every past assessment. It uses the fast matcher
(guidance.engine.matcher), a second compiler of the condition language, rather than
rule-engine's own evaluation (compile_condition(...).matches, cached per condition). The
rule kept since issue 20: if the cached rule-engine evaluation is within 2x of the matcher
at 100,000 assessments, the matcher goes and the preview keeps one compiler.

Fact sets are made up (seeded, repeatable), as varied as the engine's tests make them;
no database is needed. Prints µs per assessment for each, and the ratio.
"""

import argparse
import random
import time
from datetime import UTC, datetime
from typing import Any

from guidance.default_rules import DEFAULT_RULES
from guidance.engine import compile_condition, compile_matcher
from patients.facts import BOOL, FACTS

# The preview's usual draft: a short condition and one of the longest of the defaults.
CODES = ("CBT-ANXIETY", "IRON-SUPPLEMENT", "SAFE-GABA-RESPIRATORY")


def made_up_facts(rng: random.Random) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for fact in FACTS:
        if fact.type == BOOL:
            facts[fact.name] = rng.random() < 0.5
        elif fact.name == "age_years":
            facts[fact.name] = rng.randint(12, 90)
        elif rng.random() < 0.3:
            facts[fact.name] = None
        elif fact.choices:
            facts[fact.name] = rng.choice(fact.choices)
        elif fact.type == "int":
            facts[fact.name] = rng.randint(0, 40)
        elif fact.type == "float":
            facts[fact.name] = rng.uniform(0, 400)
        else:
            facts[fact.name] = datetime(2026, 11, 1, tzinfo=UTC)
    return facts


def per_assessment_us(check: Any, fact_sets: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for facts in fact_sets:
        try:
            check(facts)
        except Exception:  # noqa: S112 (a null comparison: "not evaluated", as in the preview)
            continue
    return (time.perf_counter() - started) / len(fact_sets) * 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assessments", type=int, default=100_000)
    options = parser.parse_args()
    rng = random.Random(2026)
    fact_sets = [made_up_facts(rng) for _ in range(options.assessments)]
    conditions = {rule["code"]: rule["condition"] for rule in DEFAULT_RULES}
    print(f"{options.assessments:,} made-up assessments; µs per assessment")
    print(f"{'rule':<24}{'rule-engine':>12}{'matcher':>10}{'ratio':>8}")
    for code in CODES:
        compiled = compile_condition(conditions[code])  # cached, as the preview would have it
        matcher = compile_matcher(conditions[code])
        slow = per_assessment_us(compiled.matches, fact_sets)
        fast = per_assessment_us(matcher, fact_sets)
        print(f"{code:<24}{slow:>12.2f}{fast:>10.2f}{slow / fast:>7.1f}x")


if __name__ == "__main__":
    main()
