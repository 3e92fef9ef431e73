from typing import Any

from django.core.management.base import BaseCommand

from guidance.default_rules import DEFAULT_RULES, load_default_rules
from guidance.models import Rule


class Command(BaseCommand):
    help = "Add any default rule whose code is missing (never overwrites an edited rule)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = load_default_rules(Rule)
        self.stdout.write(f"Default rules: {created} added, {len(DEFAULT_RULES)} in the set.")
