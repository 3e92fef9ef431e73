"""`python -m bench` (`make bench`): seed a separate benchmark database and print timings.

python -m bench                           # 10,000 patients, SQLite (bench-10000.sqlite3)
DATABASE_URL=postgres://… python -m bench --patients 100000 --json
python -m bench --patients 100000 --seed-only   # seed now, measure later
"""

import argparse
import json
import os
import sys
from typing import Any

import django


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(result: dict[str, Any]) -> str:
    engine = result["engine_us_per_assessment"]
    preview = result["rule_preview"]
    lines = [
        f"{result['patients']:,} patients on {result['database']}, "
        f"{result['requests_per_page']} requests per page",
        f"engine: {engine['median']} µs per assessment (median), {engine['p95']} µs (p95)",
        f"rule preview: one draft of {preview['rule']} against the active version over every "
        f"assessment ({preview['assessments']:,}) as a background task, queued to result in "
        f"{preview['seconds_as_task']} s, {preview['us_per_assessment']} µs per assessment "
        f"(median of 3), {preview['queries']} queries",
        "",
        f"{'page or request':<24}{'p50 ms':>10}{'p95 ms':>10}{'queries':>10}",
    ]
    requests = {
        **result["pages"],
        **{
            name: result[name]
            for name in (
                "cds_patient_view",
                "rule_stats",
                "assessment_save",
                "assessment_correction",
            )
        },
    }
    for name, figures in requests.items():
        queries = str(figures["queries"])
        if figures.get("queries_fewest", figures["queries"]) != figures["queries"]:
            queries = f"{figures['queries_fewest']}–{queries}"
        lines.append(f"{name:<24}{figures['p50_ms']:>10}{figures['p95_ms']:>10}{queries:>10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the engine and the main pages on a separate database of "
        "fictional patients.",
    )
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--reseed", action="store_true", help="seed again even if the size fits")
    parser.add_argument(
        "--seed-only",
        action="store_true",
        help="seed (if needed) and stop: seeding several sizes at once is fine, measuring is not",
    )
    options = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    django.setup()
    # Only now: these import models, which need the app registry.
    from bench import measure, seed
    from patients.models import Patient

    name = seed.use_benchmark_database(options.patients)
    progress(f"benchmark database: {name}")
    if options.reseed or Patient.objects.count() != options.patients:
        progress(f"seeding {options.patients:,} fictional patients…")
        seed.reset_and_seed(options.patients, progress)
    else:
        progress(
            f"reusing the {options.patients:,} patients already seeded (--reseed to start again)"
        )
    if options.seed_only:
        return
    progress(f"measuring ({options.requests} requests per page)…")
    result = measure.report(options.patients, options.requests)
    print(json.dumps(result, indent=2) if options.json else table(result))


if __name__ == "__main__":
    main()
