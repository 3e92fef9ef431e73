"""`make bench` measures every key on a handful of seeded patients, and leaves the seeded
records as they were; `make profile` splits a patient-list request into parts that add up."""

import random
from numbers import Number
from unittest import mock

import pytest
from django.core import signals
from django.db import close_old_connections
from django.db.backends.utils import CursorWrapper

from bench import measure, profile
from bench.saves import measure_assessment_save
from bench.seed import Seeder
from guidance.models import Recommendation
from patients.models import Assessment, Patient

PAGES = {
    "patient_list",
    "patient_search",
    "patient_detail",
    "assessment_detail",
    "worklist",
    "awaiting_review",
    "assessment_cards",
}


def seed(patients: int) -> None:
    Seeder(patients, progress=lambda message: None).run()


def test_every_key_is_measured_on_a_few_seeded_patients(db):
    seed(6)
    # The preview is measured through the task worker, which closes old connections
    # between tasks; here that would be the test's own, inside its transaction.
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        result = measure.report(6, 2)
    assert set(result["pages"]) == PAGES
    for figures in [
        *result["pages"].values(),
        result["cds_patient_view"],
        result["assessment_save"],
        result["assessment_correction"],
    ]:
        assert isinstance(figures["p50_ms"], Number)
        assert figures["p50_ms"] > 0
        assert figures["p95_ms"] >= figures["p50_ms"]
        assert isinstance(figures["queries"], int)
        assert figures["queries"] > 0
    assert result["assessment_save"]["saves"] == result["assessment_correction"]["saves"] == 2
    assert result["rule_preview"]["assessments"] == Assessment.objects.count()
    assert result["engine_us_per_assessment"]["median"] > 0
    assert result["cds_patient_view"]["matched_share"] == 1  # each call found its patient


def record_counts() -> tuple[int, ...]:
    return (
        Assessment.objects.count(),
        Assessment.history.count(),
        Recommendation.objects.count(),
        Recommendation.history.count(),
    )


def test_the_saves_measured_leave_no_assessment_card_or_history_behind(db):
    seed(4)
    latest = dict(Patient.objects.values_list("pk", "latest_irls_total"))
    records = record_counts()
    figures = measure_assessment_save(4, random.Random(1))
    assert figures["assessment_save"]["saves"] == 4
    assert record_counts() == records
    assert dict(Patient.objects.values_list("pk", "latest_irls_total")) == latest


@pytest.fixture
def connection_kept():
    """What Django's test client does around a request: without it, the handler closes the
    database connection when a request ends (CONN_MAX_AGE is 0 in tests), and with it the
    test's transaction (on PostgreSQL)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


def test_the_profiles_parts_add_up_to_the_request_and_the_timers_come_off(db, connection_kept):
    seed(3)
    execute = CursorWrapper.execute
    timers = profile.Timers()
    get = profile.requester("/patients/", profile.signed_in_cookie())
    with profile.installed(timers):
        figures = profile.measure(get, 20, timers, warm=2)
    parts = figures["parts_ms"]
    assert {
        "session: read and decode",
        "session: database",
        "user: read with account, session hash checked",
        "permission checks",
        "page: capped count and 26 rows",
        "page: database",
        "rows shaped for the template",
        "template: the 25 rows",
        "template: everything but the rows",
        "request handling: Django's handler and the middleware",
    } <= set(parts)
    assert all(spent > 0 for spent in parts.values())
    # Each part is counted without the parts it calls: together they are the request.
    assert sum(parts.values()) == pytest.approx(figures["mean_ms"], rel=0.1)
    assert CursorWrapper.execute is execute


def test_the_profile_stops_at_a_page_that_fails(db, connection_kept):
    seed(1)
    with pytest.raises(RuntimeError, match="/patients/ answered 302"):
        profile.requester("/patients/", cookie="")()  # signed out: sent to sign in


def test_the_compiler_benchmark_prints_both_compilers_for_each_rule(monkeypatch, capsys):
    from bench import compilers

    monkeypatch.setattr("sys.argv", ["compilers", "--assessments", "50"])
    compilers.main()
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split()[0] for row in rows] == list(compilers.CODES)
    assert all(row.endswith("x") and float(row.split()[-1][:-1]) > 0 for row in rows)
