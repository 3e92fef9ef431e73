"""`python manage.py evaluate FILE|-`: facts in, scores, derived facts and guidance out.

The contract is product.md section 6. Invalid input exits with status 2 and one line per
problem on standard error; nothing is printed on standard output then.
"""

import json
import math
import sys
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from guidance import engine
from guidance.models import Rule
from patients.fact_input import parse_input
from patients.scales import SCALES


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _json_int(digits: str) -> int | float:
    """A JSON integer. One too long for Python to convert (over 4,300 digits) is beyond
    every fact's range: it reads as infinity, refused like any out-of-range number, by
    its field's name."""
    try:
        return int(digits)
    except ValueError:
        return -math.inf if digits.startswith("-") else math.inf


class Command(BaseCommand):
    help = "Evaluate one JSON object of entered facts; print scores, facts and recommendations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a JSON file, or - for standard input")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        try:
            text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()  # noqa: SIM115
        except OSError as error:
            self.fail([f"input: cannot read {file}: {error.strerror}"])
        try:
            raw = json.loads(text, parse_int=_json_int)
        except json.JSONDecodeError as error:
            self.fail([f"input: not valid JSON ({error.msg} at line {error.lineno})"])
        except RecursionError:
            self.fail(["input: nested too deeply; each fact is one value, not a list or object"])
        except UnicodeDecodeError:
            self.fail(["input: not UTF-8 text"])

        facts, problems = parse_input(raw, now=timezone.now())
        if problems:
            self.fail(problems)
        guidance = engine.evaluate(facts, Rule.objects.active())

        result = {
            "scores": {
                code: (
                    {"total": facts[f"{code}_total"], "band": facts[f"{code}_band"]}
                    if facts[f"{code}_total"] is not None
                    else None
                )
                for code in SCALES
            },
            "facts": facts,
            "recommendations": [
                {
                    "rule": rule.code,
                    "version": rule.version,
                    "category": rule.category,
                    "indicator": rule.indicator,
                    "kind": rule.kind,
                    "strength": rule.strength,
                    "qualifies": list(rule.qualifies),
                    "because": engine.because(rule.condition, facts),
                    "title": rule.title,
                    "detail": rule.detail,
                    "source": rule.source,
                    "evidence": rule.evidence,
                }
                for rule in guidance.fired
            ],
            "not_evaluated": [
                {"rule": item.rule.code, "version": item.rule.version, "reason": item.reason}
                for item in guidance.not_evaluated
            ],
        }
        self.stdout.write(json.dumps(result, default=_json_default, indent=2))

    def fail(self, problems: list[str]) -> None:
        for problem in problems:
            self.stderr.write(problem)
        raise SystemExit(2)
