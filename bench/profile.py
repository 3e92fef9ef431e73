"""`python -m bench.profile` (`make profile`): where the time of one patient-list request goes.

The list is served through Django's WSGI handler, as gunicorn calls it (no test client,
whose template signals would add their own cost), signed in as a clinician, on the
benchmark database. A few functions on the request's path are wrapped with timers; each
one's time is counted without the wrapped functions it calls, and a query's time goes to
the part that ran it, so that the parts add up to the request. The health probe is
measured the same way, for scale: `make load` compares the two.

python -m bench.profile                     # 10,000 patients on SQLite (bench-10000.sqlite3)
DATABASE_URL=postgres://… python -m bench.profile --patients 100000 --requests 2000
"""

import argparse
import gc
import importlib
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import django

# What is timed: (label, module, attribute path). Besides these, every query (with the part
# that ran it) and the rows' {% for %} loop (Timers.wrap_query, Timers.wrap_for_rows).
PARTS = [
    ("session: read and decode", "django.contrib.sessions.backends.db", "SessionStore.load"),
    ("session: write (once a minute)", "django.contrib.sessions.backends.db", "SessionStore.save"),
    ("user: read with account, session hash checked", "django.contrib.auth", "get_user"),
    ("permission checks", "django.contrib.auth.models", "PermissionsMixin.has_perm"),
    ("page: capped count and 26 rows", "clinic.paging", "CappedPage.__init__"),
    ("rows shaped for the template", "clinic.views.patients", "patient_rows"),
    ("template: everything but the rows", "django.template.backends.django", "Template.render"),
]
ROWS_LABEL = "template: the 25 rows"


@dataclass
class Frame:
    label: str
    started: float
    in_children: float = 0.0


class Timers:
    """Exclusive time per label: a timer stops its parent's clock while it runs."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.stack: list[Frame] = []

    @contextmanager
    def timing(self, label: str) -> Iterator[None]:
        frame = Frame(label, time.perf_counter())
        self.stack.append(frame)
        try:
            yield
        finally:
            self.stack.pop()
            elapsed = time.perf_counter() - frame.started
            self.totals[label] += elapsed - frame.in_children
            if self.stack:
                self.stack[-1].in_children += elapsed

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(label):
                return function(*args, **kwargs)

        return timed

    def wrap_query(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """A query's time under "<part>: database", for the part that ran it."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            owner = self.stack[-1].label if self.stack else "request handling"
            with self.timing(f"{owner.split(':')[0]}: database"):
                return function(*args, **kwargs)

        return timed

    def wrap_for_rows(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """The template's {% for row in rows %} loop, apart from the rest of the template."""

        def timed(node: Any, context: Any) -> Any:
            if node.loopvars != ["row"]:
                return function(node, context)
            with self.timing(ROWS_LABEL):
                return function(node, context)

        return timed


@contextmanager
def installed(timers: Timers) -> Iterator[None]:
    """The timers around PARTS, every query and the rows' loop; taken off again on exit."""
    from django.db.backends import utils
    from django.template import defaulttags

    with ExitStack() as stack:
        for label, module_name, path in PARTS:
            owner: Any = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            timed = timers.wrap(label, getattr(owner, name))
            stack.enter_context(mock.patch.object(owner, name, timed))
        execute = timers.wrap_query(utils.CursorWrapper.execute)
        stack.enter_context(mock.patch.object(utils.CursorWrapper, "execute", execute))
        render = timers.wrap_for_rows(defaulttags.ForNode.render)
        stack.enter_context(mock.patch.object(defaulttags.ForNode, "render", render))
        yield


def requester(path: str, cookie: str) -> Callable[[], None]:
    """One GET of `path` through Django's WSGI handler, which must answer 200."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    handler = WSGIHandler()
    environ = RequestFactory().get(path, HTTP_COOKIE=cookie).environ
    statuses: list[int] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(int(status.split()[0]))
        return None

    def get() -> None:
        response = handler(dict(environ), start_response)
        b"".join(response)
        response.close()
        if (status := statuses.pop()) != 200:
            raise RuntimeError(f"{path} answered {status}")

    return get


def signed_in_cookie() -> str:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="bench_clinician"))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def measure(
    get: Callable[[], None], requests: int, timers: Timers, warm: int = 50
) -> dict[str, Any]:
    for _ in range(warm):  # caches, compiled templates, the session's minute
        get()
    timers.totals.clear()
    gc.collect()
    totals = []
    for _ in range(requests):
        with timers.timing("request handling: Django's handler and the middleware"):
            started = time.perf_counter()
            get()
            totals.append(time.perf_counter() - started)
    parts = {label: round(1000 * spent / requests, 3) for label, spent in timers.totals.items()}
    return {
        "requests": requests,
        "median_ms": round(1000 * statistics.median(totals), 3),
        "mean_ms": round(1000 * sum(totals) / requests, 3),
        "parts_ms": dict(sorted(parts.items(), key=lambda item: -item[1])),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    django.setup()
    from bench import seed
    from patients.models import Patient

    seed.use_benchmark_database(options.patients)
    if Patient.objects.count() != options.patients:
        sys.exit(f"seed first: python -m bench --patients {options.patients} --seed-only")
    cookie = signed_in_cookie()
    timers = Timers()
    pages = [("patient list", "/patients/", cookie), ("health probe", "/healthz", "")]
    for name, path, sent in pages:
        get = requester(path, sent)
        bare = measure(get, options.requests, Timers())  # the timers cost time too
        with installed(timers):
            figures = measure(get, options.requests, timers)
        print(
            f"{name} ({path}): {figures['mean_ms']} ms a request on average "
            f"(median {figures['median_ms']}) over {figures['requests']} requests; "
            f"without the timers {bare['mean_ms']} ms"
        )
        for label, spent in figures["parts_ms"].items():
            print(f"  {spent:>7.3f} ms  {label}")


if __name__ == "__main__":
    main()
