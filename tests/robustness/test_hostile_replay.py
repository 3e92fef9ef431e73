"""Hostile replay: every route of clinic/urls.py, for every role, answers hostile input
with a page, a redirect or a 4xx, never a server error, and never leaves a write half done.

The routes are enumerated from the URL resolver, so a new route is replayed without
changing this file. Path parameters are filled with a real record of the right kind (or
one of each kind when the kind cannot be told from the path), then with hostile values
(a random UUID, a 20-digit version, a NUL in a rule code...).

Value classes are chosen per field type, every field of a form at once, rather than as a
full cross-product: a 5,000-digit number where a number goes, 100,000 characters where
text goes, a deeply nested array where JSON goes. The fields are found on the page's own
form (or, for a route that only takes POSTs, on every form of clinic.forms). Each route
gets every class, GET and POST, from one role allowed to use it (the least privileged),
and a mixed hostile GET and POST (each field a different class) and a UTF-16 body from
every other role. Then, for each route with a known valid body, each field alone gets
the values that pass its own validation but might break what comes after it (a 20-digit
expected version, the year 9999, a NUL in a JSON string), the rest of the body valid.
The admin's routes (Django's own views over our read-only configuration) get the mixed
requests from every role, and its lists every GET class, on their filters too.

Each request is made inside a savepoint that is rolled back, so that every request meets
the same records, and the client's cookies are restored after it, so that a sign-out or
a sign-in does not change who sends the next one.

"Partial" means a write that half happened. A refused request (anything but a redirect
after a POST) must change no row of the clinical models, their history (history rows
make an update visible as well as an insert) or the users; the access log and the
sign-in throttle record refusals by design. After every redirect, the invariants that
the services keep in one transaction must hold.

The Django test client re-raises any exception that a view lets out: each one is kept
with its traceback, and the test fails listing them all, as it does for a 5xx status.
"""

import copy
import logging
import re
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from unittest import mock
from urllib.parse import quote, urlencode

import pytest
import time_machine
from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MaxValueValidator
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.shortcuts import resolve_url
from django.template.base import Template
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

import clinic.forms.accounts
import clinic.forms.assessments
import clinic.forms.case_rows
import clinic.forms.followups
import clinic.forms.patients
import clinic.forms.rules
from clinic.tasks import governance
from guidance.models import Decision, Job, JobKind, Recommendation, Rule
from guidance.services import evaluate_assessment
from guidance.tasks import preview
from patients.invitations import Invitation
from patients.models import Assessment, FollowUp, Patient
from tests.base import (
    COMPLETE_COWS,
    COMPLETE_IRLS,
    CRITERIA_MET,
    NOW,
    PASSWORD,
    VALID,
    make_patient,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 26)
ROLES = ["anonymous", "clinician", "staff", "guidance_admin", "outsider", "superuser"]
# Who gets every value class on a route: the first of these the route does not turn away.
PRIMARY_ORDER = ["clinician", "staff", "guidance_admin", "superuser", "outsider", "anonymous"]
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 2_000_000  # under DATA_UPLOAD_MAX_MEMORY_SIZE, so that the body is read

HUGE = "99999999999999999999"  # past a 64-bit integer
DIGITS = "9" * 5000  # past Python's 4,300-digit int-from-string limit
LONG = "x" * 100_000
UNICODE = "\u202eevil\u200f \U0001f600 e\u0301 \u0663 \ufeff"  # RTL, emoji, combining, ٣, BOM
NUL = "a\x00b"
MARKUP = "<script>alert(1)</script>{{ 7|add:7 }}{% debug %}\"'><!--"
NESTED_TEXT = "not " * 490 + "(" * 10 + "true" + ")" * 10  # deep for a recursive parser
NESTED_JSON = "[" * 100_000 + "]" * 100_000


def case(name: str = '"x"', facts: str = "{}") -> str:
    """Rule test cases as the rule form takes them, with raw JSON for the name and facts."""
    return f'[{{"name": {name}, "facts": {facts}, "fires": true}}]'


# One class a request, every field at once: the value for a field of each kind ("*" for
# any other kind).
POST_CLASSES: dict[str, dict[str, str | list[str]]] = {
    "empty": {"*": ""},
    "huge": {
        "*": HUGE,
        "date": "99999-12-31",
        "datetime": "99999-12-31T00:00",
        "json": case(HUGE, '{"age_years": ' + HUGE + "}"),
    },
    "negative": {
        "*": "-" + HUGE,
        "date": "-0001-01-01",
        "datetime": "-0001-01-01T00:00",
        "json": case("-1", '{"age_years": -1}'),
    },
    "nan and infinity": {
        "*": "NaN",
        "float": "Infinity",
        "datetime": "inf",
        "json": case("NaN", '{"weight_kg": Infinity}'),
    },
    "5000 digits": {"*": DIGITS, "json": case(DIGITS, '{"age_years": ' + DIGITS + "}")},
    "unicode": {
        "*": UNICODE,
        "int": "\u00b2",  # "²": isdigit() is true, int() refuses it
        "choice": "\u00b2",
        "float": "\u0663.\u0665",
        "date": "\uff12\uff10\uff12\uff16-11-26",  # full-width digits
        "json": case('"\\u202e\\ud800"', '{"sex": "\\u202e"}'),
    },
    "markup and NUL": {"*": MARKUP + NUL, "json": case('"<script>\\u0000"', '{"<b>": 1}')},
    "100,000 characters": {"*": LONG, "json": "[" + ",".join(["{}"] * 30_000) + "]"},
    "nested": {"*": NESTED_TEXT, "json": NESTED_JSON},
    "a list where one value goes": {"*": ["1", HUGE, MARKUP]},
}

# Values that pass a field's own validation but may break what comes after it.
EXTREMES: dict[str, list[str]] = {
    "int": [HUGE, "-" + HUGE],
    "float": ["1e308", "-1e308"],
    "date": ["0001-01-01", "9999-12-31"],
    "datetime": ["0001-01-01T00:00", "9999-12-31T23:59"],
    "text": [UNICODE + MARKUP, "\u0130" * 76],  # İ lower-cases to two characters
    "long text": [UNICODE + MARKUP, LONG],
    "email": ["a@" + "b" * 63 + "." + "c" * 63],
    "json": [
        case('"\\u0000"'),
        case("NaN"),
        case("1e400"),
        case(HUGE, '{"irls_total": ' + HUGE + "}"),
        case('"\\ud83d"'),
        case("[" * 500 + "]" * 500),
    ],
}

QUERY_KEYS = [
    "page", "q", "next", "preview", "scales", "assignee", "kind",  # the app's own
    "o", "p", "e", "all", "_popup", "_to_field", "_changelist_filters", "id__exact",  # admin
]  # fmt: skip
GET_CLASSES: dict[str, str | list[str]] = {
    "huge": HUGE,
    "negative": "-" + HUGE,
    "not a number": "NaN",
    "5000 digits": DIGITS,
    "unicode and markup": UNICODE + MARKUP,
    "NUL": NUL,
    "10,000 characters": "x" * 10_000,
    "the same key three times": ["2", "abc", HUGE],
}
CHARSETS = ["utf-16", "utf-32", "no-such-charset"]


# The routes


@dataclass
class Route:
    template: str  # e.g. "patients/<uuid:uuid>/edit/"
    name: str
    pattern: URLPattern

    @property
    def is_admin(self) -> bool:
        return self.template.startswith("admin/")


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            yield Route(prefix + str(entry.pattern), namespace + (entry.name or ""), entry)


@dataclass
class World:
    """The records the replay addresses, and one client per role."""

    patient: Patient
    archived: Patient
    assessment: Assessment
    card: Recommendation
    accepted: Recommendation
    followup: FollowUp
    rule: Rule
    users: dict[str, Any]
    clients: dict[str, Client]
    preview_job: Job
    governance_job: Job
    invitation: Invitation
    invitation_token: str

    def records_after(self, segment: str) -> list[str]:
        """UUIDs to put after `segment` ("followups/<uuid>"...): a real record of the
        kind the segment names, or one of each kind for a segment not known here."""
        kinds = {
            "patients": self.patient.uuid,
            "assessments": self.assessment.uuid,
            "followups": self.followup.uuid,
            "cards": self.card.uuid,
            "jobs": self.preview_job.uuid,
            "governance": self.governance_job.uuid,
            "invitations": self.invitation.uuid,
        }
        return [str(kinds[segment])] if segment in kinds else [str(u) for u in kinds.values()]


from clinic.roles import CLINICIANS, GUIDANCE_ADMINS, STAFF, SUPERUSER  # noqa: E402
from clinic.views.accounts import ACTIONS as ACCOUNT_ACTIONS  # noqa: E402

PIECE = re.compile(r"<(?:(\w+):)?(\w+)>")


TEXT_IDS = [quote(NUL), quote(UNICODE), "X" * 10_000]
NUMBER_IDS = [HUGE, DIGITS, "0"]
# Path parameters other than UUIDs: (real values, hostile values), by converter and name.
PARAMETERS = {
    ("str", "code"): lambda world, template: ([world.rule.code], TEXT_IDS),
    ("int", "version"): lambda world, template: ([str(world.rule.version)], NUMBER_IDS),
    ("int", "pk"): lambda world, template: (
        [str(world.users["staff"].pk)],
        NUMBER_IDS,
    ),  # an account
    ("str", "service_id"): lambda world, template: (
        ["rls-patient-view", "rls-order-select"],
        TEXT_IDS,
    ),
    ("str", "token"): lambda world, template: ([world.invitation_token], TEXT_IDS),
    # A SMART launch's answer, by EHR: without a launch of this browser, refused whoever.
    ("int", "ehr"): lambda world, template: (["1"], NUMBER_IDS),
    ("slug", "action"): lambda world, template: (
        ["revoke", "resend"] if "invitations/" in template else list(ACCOUNT_ACTIONS),
        ["delete", "X" * 10_000],
    ),
}


def addresses(route: Route, world: World) -> list[tuple[str, str]]:
    """(address, what) pairs: the route with real records, then with hostile parameters."""
    if route.is_admin:
        return admin_addresses(route, world)
    template = route.template
    real: dict[str, list[str]] = {}
    hostile: dict[str, list[str]] = {}
    for match in PIECE.finditer(template):
        converter, name = match.groups()
        if converter == "uuid":
            segment = template[: match.start()].rstrip("/").split("/")[-1]
            real[name] = world.records_after(segment)
            hostile[name] = [str(uuid.uuid4())]
            if segment == "patients":
                hostile[name].append(str(world.archived.uuid))
        elif (converter, name) in PARAMETERS:
            real[name], hostile[name] = PARAMETERS[converter, name](world, template)
        else:
            raise AssertionError(f"teach addresses() a value for {match.group()} in {template}")

    def build(values: dict[str, str]) -> str:
        return "/" + PIECE.sub(lambda m: values[m.group(2)], template)

    results: list[tuple[str, str]] = [("/" + template, "")] if not real else []
    first = {name: choices[0] for name, choices in real.items()}
    for name, choices in real.items():
        results += [(build({**first, name: choice}), "") for choice in choices]
    for name, choices in hostile.items():
        results += [(build({**first, name: choice}), f"{name}={choice[:20]}") for choice in choices]
    return list(dict.fromkeys(results))


def admin_addresses(route: Route, world: World) -> list[tuple[str, str]]:
    """An admin route with a real object of its model (named by admin/<app>/<model>/),
    then with hostile object ids."""
    parts = route.template.split("/")
    try:
        model = apps.get_model(parts[1], parts[2])
    except (LookupError, ValueError, IndexError):
        model = Patient
    obj = model._default_manager.order_by("pk").first() or world.patient
    history = getattr(obj, "history", None)
    record = history.order_by("history_id").first() if history is not None else None
    values = {
        "<path:object_id>": str(obj.pk),
        "<id>": str(world.users["staff"].pk),
        "<int:pk>": str(obj.pk),
        "<path:content_type_id>": str(ContentType.objects.get_for_model(Patient).pk),
        "^([^/]+)/history/([^/]+)/$": f"{obj.pk}/history/{record.history_id if record else 1}/",
        "(?P<url>.*)$": "no-such-page/",
    }

    def build(object_id: str) -> str:
        address = route.template
        for piece, value in {**values, "<path:object_id>": object_id}.items():
            address = address.replace(piece, value)
        address = re.sub(r"\^\(\?P<app_label>([^|)]+)[^)]*\)/\$", r"\1/", address)
        assert not re.search(r"[<(^$]", address), f"teach admin_addresses(): {route.template}"
        return "/" + address

    results = [(build(str(obj.pk)), "")]
    if "<path:object_id>" in route.template:
        results.append((build(quote(NUL)), "object_id=NUL"))
    if "history/([^/]+)" in route.template:
        for hostile in (f"{quote(NUL)}/history/1/", f"{obj.pk}/history/{quote(NUL)}/"):
            values["^([^/]+)/history/([^/]+)/$"] = hostile
            results.append((build(str(obj.pk)), f"history ids={hostile}"))
    return results


# Fields and bodies


def kind_of(form_field: forms.Field) -> str:
    if isinstance(form_field, forms.JSONField) or "JSON" in (type(form_field).__doc__ or ""):
        return "json"
    if isinstance(form_field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
        return "multi"
    if isinstance(form_field, forms.ChoiceField | forms.ModelChoiceField):
        return "choice"
    if isinstance(form_field, forms.BooleanField):
        return "bool"
    if isinstance(form_field, forms.FloatField | forms.DecimalField):
        return "float"
    if isinstance(form_field, forms.IntegerField):
        return "int"
    if isinstance(form_field, forms.DateTimeField):
        return "datetime"
    if isinstance(form_field, forms.DateField):
        return "date"
    if isinstance(form_field, forms.EmailField):
        return "email"
    if isinstance(form_field, forms.CharField) and form_field.max_length is None:
        return "long text"
    return "text"


@dataclass
class Field:
    kind: str
    shown: str | list[str] | None  # what the page would post; None: nothing
    bounded: bool  # a number with an upper bound (its own or its model field's)
    required: bool
    max_length: int | None = None


NEXT = Field("text", None, bounded=False, required=False)


def posted(bound: forms.BoundField) -> str | list[str] | None:
    value = bound.value()
    widget = bound.field.widget
    if isinstance(widget, forms.CheckboxInput):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if value is None:
        return ""
    if isinstance(widget, forms.DateInput | forms.DateTimeInput):
        return str(widget.format_value(value))
    return str(value)


def describe(form: forms.BaseForm, name: str) -> Field:
    form_field = form.fields[name]
    validators = list(form_field.validators)
    model = getattr(getattr(form, "_meta", None), "model", None)
    if model is not None:
        with suppress(FieldDoesNotExist):  # a form-only field
            validators += model._meta.get_field(name).validators
    bounded = any(isinstance(v, MaxValueValidator) for v in validators)
    max_length = getattr(form_field, "max_length", None)
    return Field(kind_of(form_field), posted(form[name]), bounded, form_field.required, max_length)


def form_fields(response: Any) -> dict[str, Field]:
    """Every field of the forms a page shows, by posted name."""
    found: dict[str, Field] = {}
    context = getattr(response, "context", None)
    if context is None:
        return found
    contexts = context if isinstance(context, list) else [context]  # a ContextList, or one
    for value in [value for each in contexts for value in each.flatten().values()]:
        form = value if isinstance(value, forms.BaseForm) else getattr(value, "form", None)
        if isinstance(form, forms.BaseForm):
            for name in form.fields:
                found.setdefault(form[name].html_name, describe(form, name))
    return found


def query_keys(response: Any) -> list[str]:
    """The query parameters a page reads beyond QUERY_KEYS: an admin list's filters."""
    changelist = (getattr(response, "context", None) or {}).get("cl")
    if changelist is None:
        return []
    keys = [key for spec in changelist.filter_specs for key in spec.expected_parameters()]
    if changelist.date_hierarchy:
        keys += [f"{changelist.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    return keys


def catalogue() -> dict[str, Field]:
    """Every field of every form in clinic.forms that can be made without arguments: the
    fields for a route that shows no form of its own (one that only takes POSTs)."""
    found: dict[str, Field] = {}
    modules = [
        clinic.forms.accounts,
        clinic.forms.assessments,
        clinic.forms.case_rows,
        clinic.forms.followups,
        clinic.forms.patients,
        clinic.forms.rules,
    ]
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, forms.BaseForm):
                try:
                    form = value()
                except Exception:  # noqa: S112 (it needs a patient, a user...)
                    continue
                for name in form.fields:
                    found.setdefault(name, describe(form, name))
    return found


def value_for(value_class: dict[str, str | list[str]], kind: str) -> str | list[str]:
    kind = "text" if kind == "long text" else kind
    return value_class.get(kind, value_class["*"])


def hostile_body(fields: dict[str, Field], value_class: dict[str, str | list[str]]) -> dict:
    """Every field gets the class's value for its kind, as many as fit in a body that
    Django reads (the rest are left out)."""
    body: dict[str, Any] = {}
    size = 0
    for name, described in fields.items():
        value = value_for(value_class, described.kind)
        size += sum(map(len, value)) if isinstance(value, list) else len(value)
        if body and size > MAX_BODY:
            break
        body[name] = value
    return body


def mixed_body(fields: dict[str, Field]) -> dict:
    """One request's worth of every class: field i gets class i (mod the classes)."""
    classes = list(POST_CLASSES.values())
    body = {
        name: value_for(classes[i % len(classes)], described.kind)
        for i, (name, described) in enumerate(fields.items())
    }
    return {k: (v[:10_000] if isinstance(v, str) else v) for k, v in body.items()}


def baselines(world: World) -> dict[str, tuple[str, dict[str, Any]]]:
    """A valid body, and who posts it, for each route whose writes the per-field replay
    drives all the way. A route missing here still gets every class, but from the values
    its page shows (enough for an edit) rather than from a body known to be saved."""
    items = {key: str(value) for key, value in (COMPLETE_IRLS | COMPLETE_COWS).items()}
    return {
        "login": ("anonymous", {"username": "clinician", "password": PASSWORD}),
        "patients:list": ("clinician", {"q": "Family", "archived": "on"}),
        "patients:create": (
            "staff",
            {
                "mrn": "NEW-1",
                "given_name": "New",
                "family_name": "Patient",
                "date_of_birth": "1980-01-01",
                "sex": "female",
                "phone": "+44 20 7946 0000",
                "email": "new@example.org",
                "notes": "Notes",
            },
        ),
        "patients:archive": ("staff", {"reason": "Moved away"}),
        "patients:assessment_create": ("clinician", dict(VALID, notes="Notes")),
        "patients:assessment_scores": ("clinician", items),
        "patients:assessment_create_live": ("clinician", dict(VALID, panel_said="irls=0")),
        "patients:assessment_edit_live": ("clinician", dict(VALID, panel_said="irls=0")),
        "patients:followup_schedule": (
            "staff",
            {"due_date": "2026-12-03", "kind": "visit", "assigned_to": "", "plan_notes": "Sleep"},
        ),
        "patients:followup_record": (
            "staff",
            {
                "outcome": "completed",
                "happened_on": "2026-11-26",
                "expected_version": "1",
                "next_due_date": "2026-12-10",
                "next_kind": "visit",
                f"adherence_{world.accepted.uuid}": "yes",
                "side_effects": "None",
                "notes": "Better",
                "next": "/patients/worklist/",
                **items,
            },
        ),
        "patients:followup_cancel": ("staff", {"reason": "Moved away"}),
        "guidance:decide": (
            "clinician",
            {"status": "declined", "reason": "other", "comment": "No", "expected_version": "1"},
        ),
        "guidance:rule_create": (
            "guidance_admin",
            {
                "code": "NEW-RULE",
                "title": "New rule",
                "detail": "Detail",
                "category": "diagnosis",
                "indicator": "info",
                "condition": "rls_criteria_met and irls_total != null and irls_total >= 11",
                "source": "clinical-reference.md",
                "evidence": "U",
                "test_cases": case('"met"', '{"rls_criteria_met": true, "irls_total": 20}'),
                "change_note": "New",
            },
        ),
    }


# Sending and checking


class Replay:
    """Sends the requests, counts them, and keeps every failure with its traceback."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.count = 0
        self.failures: list[str] = []
        self.tables = [
            model._meta.db_table
            for model in apps.get_models()
            if model._meta.app_label in ("patients", "guidance", "auth")
            # The access log is written by reading, as it should be.
            and model._meta.model_name
            not in ("patientaccess", "patientlistaccess", "listaccesspatient")
        ]
        self.baseline = self.fingerprint()
        self.login_urls = (resolve_url(settings.LOGIN_URL), "/admin/login/")

    def fingerprint(self) -> tuple[int, ...]:
        """Row counts of the clinical tables, their history and the users, in one query."""
        name = connection.ops.quote_name
        counts = [f"(SELECT COUNT(*) FROM {name(table)})" for table in self.tables]  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(counts))  # the models' own table names
            return tuple(cursor.fetchone())

    def send(
        self,
        role: str,
        method: str,
        address: str,
        *,
        query: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str = FORM,
        what: str = "",
        context: bool = False,
    ) -> Any:
        """Send one request in a savepoint that is rolled back. `context`: keep what the
        templates were given (response.context), which costs a copy per template."""
        client = self.world.clients[role]
        cookies = copy.deepcopy(client.cookies)
        url = address + ("?" + urlencode(query, doseq=True) if query else "")
        if body is None and method != "GET":
            body = urlencode(data or {}, doseq=True).encode()
        label = f"{role} {method} {address[:120]} [{what}]"
        self.count += 1
        try:
            with transaction.atomic(), self.rendering(context):
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.generic(method, url, body, content_type=content_type)
                changed = self.fingerprint() != self.baseline
                broken = invariants() if method == "POST" and response.status_code == 302 else []
                transaction.set_rollback(True)
        except Exception:
            self.failures.append(f"{label}: raised\n{traceback.format_exc(limit=-8)}")
            return None
        finally:
            client.cookies = cookies
        if response.status_code >= 500:
            self.failures.append(f"{label}: status {response.status_code}")
        if changed and not (method == "POST" and response.status_code == 302):
            self.failures.append(f"{label}: status {response.status_code}, yet rows changed")
        self.failures.extend(f"{label}: {problem}" for problem in broken)
        return response

    def rendering(self, context: bool) -> Any:
        """The test client copies every template's context for response.context (a third
        of the time of a big form); only the pages whose forms are read need it."""
        if context:
            return nullcontext()
        return mock.patch.object(Template, "_render", lambda self, c: self.nodelist.render(c))

    def turned_away(self, response: Any) -> bool:
        """Refused whatever the method: 403, or sign in first (a redirect to a sign-in
        page that comes back here, unlike the one after signing out)."""
        if response is None:
            return False
        location = response.get("Location", "")
        return response.status_code == 403 or (
            response.status_code == 302
            and location.startswith(self.login_urls)
            and "next=" in location
        )

    def refused(self, response: Any) -> bool:
        """Turned away before the view reads the request: also 404 and 405."""
        return response is not None and (
            response.status_code in (404, 405) or self.turned_away(response)
        )


def invariants() -> list[str]:
    """What the multi-record workflows keep true, each in one transaction."""
    problems = []
    if Assessment.objects.filter(evaluation__isnull=True).exists():
        problems.append("an assessment without its evaluation")
    cards = Recommendation.objects.annotate(decided=Count("decisions"))
    if cards.exclude(version=F("decided") + 1).exists():
        problems.append("a card whose version does not count its decisions")
    for card in cards.filter(decided__gt=0).only("status"):
        if card.status != Decision.objects.filter(recommendation=card).last().status:
            problems.append("a card whose status is not its latest decision's")
    if cards.filter(~Q(status="pending"), decided=0).exists():
        problems.append("a decided card without a decision")
    recorded = FollowUp.objects.filter(status__in=["completed", "missed"])
    if recorded.filter(Q(recorded_by__isnull=True) | Q(recorded_at__isnull=True)).exists():
        problems.append("a follow-up recorded without who and when")
    if FollowUp.objects.filter(status="scheduled", patient__archived_at__isnull=False).exists():
        problems.append("an archived patient with a scheduled follow-up")
    return problems


# The replay


def replay_route(
    replay: Replay,
    route: Route,
    address: str,
    everything: dict[str, Field],
    bodies: dict[str, tuple[str, dict[str, Any]]],
    *,
    hostile_path: bool,
) -> bool:
    """Replay one address; whether any role got past the door (a page or a form)."""
    if hostile_path:  # the path is the hostile part: a GET and a POST from who gets furthest
        for role in ["superuser"] if route.is_admin else ["superuser", "clinician"]:
            replay.send(role, "GET", address, what="hostile path")
            replay.send(role, "POST", address, data=mixed_body(everything), what="hostile path")
        return True
    # The admin turns away everyone but superusers before any of its views runs.
    probed = ["superuser"] if route.is_admin else ROLES
    pages = {
        role: replay.send(role, "GET", address, what="as shown", context=True) for role in probed
    }
    shown_by = next((r for r in PRIMARY_ORDER if r in pages and not replay.refused(pages[r])), None)
    fields = form_fields(pages[shown_by]) if shown_by else {}
    primary, valid = bodies.get(route.name, (None, None))
    base = valid or {k: f.shown for k, f in fields.items() if f.shown is not None}
    posts = {
        # Turned away at the door on a GET (sign in first, 403): the POST would be too.
        role: None
        if role not in pages or replay.turned_away(pages[role])
        else replay.send(role, "POST", address, data=base, what="as shown")
        for role in ROLES
    }
    if valid is not None:
        refused = f"the valid body for {route.name} is refused: update baselines()"
        assert posts[primary] is not None, refused
        assert posts[primary].status_code in (200, 302), refused
    if route.is_admin:
        primary = None  # Django's own views, over our read-only configuration
    elif primary is None:
        primary = next(
            (r for r in PRIMARY_ORDER if posts[r] is not None and not replay.refused(posts[r])),
            shown_by,
        )
    shown = bool(fields)
    fields = (fields or everything) | {"next": NEXT}  # the return address many views take
    keys = [*QUERY_KEYS, *query_keys(pages.get(shown_by)), *fields]
    listing = route.is_admin and bool(query_keys(pages.get(shown_by)))
    if listing:
        send_every_get(replay, "superuser", address, keys)  # a list, with its filters
    for role in ROLES:
        if role == primary:
            send_every_get(replay, role, address, keys)
            send_every_post(replay, role, address, fields, base)
            if valid is not None:
                # Fields of a page's own form, or else only those of the valid body.
                own = fields if shown else {k: f for k, f in fields.items() if k in valid}
                send_extremes(replay, role, address, own, valid)
            continue
        mixed = [value for name, value in GET_CLASSES.items() if name != "NUL"]  # a 400 alone
        query = {key: mixed[i % len(mixed)] for i, key in enumerate(keys)}
        if not (listing and role == "superuser"):  # it has just had every class
            replay.send(role, "GET", address, query=query, what="mixed")
        replay.send(role, "POST", address, data=mixed_body(fields), what="mixed")
        if posts[role] is not None and not replay.refused(posts[role]):
            send_charset(replay, role, address, base, "utf-16")
    return shown_by is not None or any(
        p is not None and not replay.refused(p) for p in posts.values()
    )


def send_every_get(replay: Replay, role: str, address: str, keys: list[str]) -> None:
    for name, value in GET_CLASSES.items():
        long = isinstance(value, str) and len(value) > 1000
        query = dict.fromkeys(keys[:20] if long else keys, value)
        replay.send(role, "GET", address, query=query, what=name)


def send_every_post(
    replay: Replay, role: str, address: str, fields: dict[str, Field], base: dict
) -> None:
    for name, value_class in POST_CLASSES.items():
        replay.send(role, "POST", address, data=hostile_body(fields, value_class), what=name)
    for charset in CHARSETS:
        send_charset(replay, role, address, base, charset)
    replay.send(role, "POST", address, data={}, what="every field missing")
    twice = {
        key: [MARKUP, value] if isinstance(value, str) else value for key, value in base.items()
    }
    replay.send(role, "POST", address, data=twice, what="every field twice, the last valid")
    boundary = "hostile-boundary"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{UNICODE}{NUL}\r\n'
        for key in list(fields)[:100]
    )
    replay.send(
        role,
        "POST",
        address,
        body=(parts + f"--{boundary}--\r\n").encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
        what="multipart",
    )


def send_charset(replay: Replay, role: str, address: str, base: dict, charset: str) -> None:
    text = urlencode(base or {"q": "x"}, doseq=True)
    body = text.encode() if charset == "no-such-charset" else text.encode(charset)
    replay.send(
        role,
        "POST",
        address,
        body=body,
        content_type=f"{FORM}; charset={charset}",
        what=f"charset={charset}",
    )


def send_extremes(
    replay: Replay, role: str, address: str, fields: dict[str, Field], valid: dict
) -> None:
    for key, described in fields.items():
        if described.kind in ("int", "float") and described.bounded:
            continue  # its range refuses these before anything else sees them
        for value in EXTREMES.get(described.kind, []) if described is not NEXT else []:
            value = value[: described.max_length or None]  # a longer one is simply refused
            replay.send(role, "POST", address, data={**valid, key: value}, what=f"{key} extreme")
        if key in valid and described.required:
            rest = {k: v for k, v in valid.items() if k != key}
            replay.send(role, "POST", address, data=rest, what=f"{key} missing")


@pytest.fixture
def world(clinician, staff, guidance_admin, outsider, superuser, caplog) -> Iterator[World]:
    # Refusals are logged as warnings, with a traceback each; errors are still shown.
    caplog.set_level(logging.ERROR, logger="django.request")
    caplog.set_level(logging.CRITICAL, logger="django.security")
    with time_machine.travel(NOW, tick=False):
        patient = make_patient(family_name="Family")
        archived = make_patient(family_name="Archived")
        archived.archive(by=staff, reason="Moved away")
        assessment = Assessment.objects.create(
            patient=patient,
            assessed_by=clinician,
            assessed_at=datetime(2026, 11, 26, 10, tzinfo=UTC),
            **CRITERIA_MET,
            **COMPLETE_IRLS,
        )
        evaluate_assessment(assessment=assessment)
        card, accepted = list(assessment.recommendations.order_by("pk")[:2])
        accepted.decide(status="accepted", by=clinician, expected_version=1)
        followup = FollowUp.objects.create(patient=patient, due_date=TODAY, scheduled_by=staff)
        active = Rule.objects.active().exclude(test_cases=[]).order_by("code").first()
        assert active is not None
        draft = Rule.objects.get(pk=active.pk)
        draft.pk = None
        draft.save_as_new_version(by=guidance_admin)
        users = {
            "clinician": clinician,
            "staff": staff,
            "guidance_admin": guidance_admin,
            "outsider": outsider,
            "superuser": superuser,
        }
        clients = {role: Client(enforce_csrf_checks=False) for role in ROLES}
        for role, user in users.items():
            clients[role].force_login(user)
            session = clients[role].session
            session["_touched"] = int(time.time())  # the clock is frozen: no idle-expiry write
            session.save()
        preview_job = Job.objects.create(
            kind=JobKind.PREVIEW, rule=draft, requested_by=guidance_admin
        )
        preview.call(preview_job.pk)
        governance_job = Job.objects.create(
            kind=JobKind.GOVERNANCE,
            requested_by=guidance_admin,
            parameters={"since": "2026-08-29", "until": "2026-11-26"},
        )
        governance.call(governance_job.pk)
        invitation, token = Invitation.make(patient=patient, questionnaires=["gad7"], by=staff)
        yield World(
            patient,
            archived,
            assessment,
            card,
            accepted,
            followup,
            draft,
            users,
            clients,
            preview_job,
            governance_job,
            invitation,
            token,
        )


def every_route() -> list[Route]:
    """The routes of the URL configuration, read when the tests are collected (pytest-django
    has set Django up by then): one test each, named by its template."""
    routes = list(walk(get_resolver().url_patterns))
    assert len(routes) > 25, "the URL patterns were not enumerated"
    return routes


# The routes of signing in and of accounts, replayed again with two-factor sign-in
# required of every role: the sign-in form then asks for a code with the password.
SIGN_IN_ROUTES = {
    "login",
    "sign_in_code",
    "two_factor_enrol",
    "account",
    "account_list",
    "account_action",
}


@pytest.mark.parametrize(
    "route",
    [route for route in every_route() if route.name in SIGN_IN_ROUTES],
    ids=lambda route: route.template,
)
def test_the_sign_in_routes_survive_hostile_input_with_two_factor_required(
    world, route, record_property, settings
):
    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({CLINICIANS, STAFF, GUIDANCE_ADMINS, SUPERUSER})
    test_every_route_for_every_role_survives_hostile_input(world, route, record_property)


@pytest.mark.parametrize("route", every_route(), ids=lambda route: route.template or "/")
def test_every_route_for_every_role_survives_hostile_input(world, route, record_property):
    started, cpu = time.monotonic(), time.process_time()
    replay = Replay(world)
    everything = catalogue()
    bodies = baselines(world)
    reached_any = False
    with time_machine.travel(NOW, tick=False):
        for address, hostile_path in addresses(route, world):
            reached = replay_route(
                replay, route, address, everything, bodies, hostile_path=bool(hostile_path)
            )
            reached_any = reached_any or reached or route.is_admin  # the admin refuses some
            if not reached and not route.is_admin:
                replay.failures.append(f"{address}: no role was let in (never replayed)")
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    summary = (
        f"hostile replay of {route.template or '/'}: {replay.count} requests "
        f"in {elapsed:.1f} s ({cpu:.1f} s of CPU)"
    )
    record_property("hostile_replay_requests", replay.count)
    record_property("hostile_replay_seconds", round(elapsed, 1))
    assert replay.count > 0, summary
    assert reached_any, summary
    assert not replay.failures, f"{summary}, {len(replay.failures)} failures:\n\n" + "\n\n".join(
        replay.failures
    )
