"""`python manage.py bench`: seed a separate benchmark database and print timings.

python manage.py bench                    # 10,000 patients, SQLite (bench.sqlite3)
DATABASE_URL=postgres://… python manage.py bench --patients 100000 --json
"""

import json
import sys

from django.core.management.base import BaseCommand

from clinic import bench
from patients.models import Patient


class Command(BaseCommand):
    help = "Benchmark the engine and the main pages on a separate database of fictional patients."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=10_000)
        parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--reseed", action="store_true", help="seed again even if the size fits"
        )

    def handle(self, *args, patients: int, requests: int, reseed: bool, **options):
        def progress(message: str) -> None:
            print(message, file=sys.stderr, flush=True)

        name = bench.use_benchmark_database()
        progress(f"benchmark database: {name}")
        if reseed or Patient.objects.count() != patients:
            progress(f"seeding {patients:,} fictional patients…")
            bench.reset_and_seed(patients, progress)
        else:
            progress(f"reusing the {patients:,} patients already seeded (--reseed to start again)")
        progress(f"measuring ({requests} requests per page)…")
        result = bench.report(patients, requests)
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self.stdout.write(self.table(result))

    def table(self, result: dict) -> str:
        engine = result["engine_us_per_assessment"]
        lines = [
            f"{result['patients']:,} patients on {result['database']}, "
            f"{result['requests_per_page']} requests per page",
            f"engine: {engine['median']} µs per assessment (median), {engine['p95']} µs (p95)",
            "",
            f"{'page':<20}{'p50 ms':>10}{'p95 ms':>10}{'queries':>10}",
        ]
        for page, figures in result["pages"].items():
            lines.append(
                f"{page:<20}{figures['p50_ms']:>10}{figures['p95_ms']:>10}{figures['queries']:>10}"
            )
        return "\n".join(lines)
