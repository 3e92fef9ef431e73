"""`manage.py rule_stats --json [--since DATE] [--until DATE] [--rule CODE]`: what each rule
version did over a period, exact (for operators; the governance page protects small
groups). Dates are the clinic's calendar days, both included; by default the last 90 days
to today. The figures and their formulas: clinic.governance."""

import json
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from clinic.governance import STATS_KEYS, Period, rule_figures
from guidance.models import Rule

DEFAULT_DAYS = 90


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {text!r}") from None


class Command(BaseCommand):
    help = "Print what each rule version did over a period (exact figures, as JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object (the only format)")
        parser.add_argument("--since", type=day, help="first day (default: 89 days before --until)")
        parser.add_argument("--until", type=day, help="last day, included (default: today)")
        parser.add_argument("--rule", help="one rule code")

    def handle(self, *args: Any, **options: Any) -> None:
        until: date = options["until"] or timezone.localdate()
        since: date = options["since"] or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise CommandError("--since is after --until.")
        code = options["rule"]
        if code is not None and not Rule.objects.filter(code=code).exists():
            raise CommandError(f"No rule {code!r}.")
        period = Period.of_days(since, until)
        result = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "rules": [
                {key: figures[key] for key in STATS_KEYS} for figures in rule_figures(period, code)
            ],
        }
        self.stdout.write(json.dumps(result, indent=2))
