# Two commands on a fresh machine: `make run` and `make test`. Each sets up what it needs.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PIP_INSTALL := $(PIP) install --build-constraint build-constraints.txt
# Debug on; the clinic's time zone is then the machine's unless DJANGO_TIME_ZONE says
# otherwise (clinic/settings.py, env_time_zone).
DEV_ENV := DJANGO_DEBUG=1

# Production-like settings for measuring: debug off, plain HTTP on the loopback only, and
# the demo accounts signing in with their password alone (scripts/load uses the sign-in form).
BENCH_ENV := DJANGO_SECRET_KEY=benchmark-only-key-never-used-in-production-0123456789 \
	DJANGO_ALLOWED_HOSTS=testserver,127.0.0.1,localhost DJANGO_SECURE_SSL_REDIRECT=0 \
	DJANGO_SECURE_COOKIES=0 DJANGO_TIME_ZONE=UTC DJANGO_2FA_REQUIRED_ROLES=none

# The Django version django-upgrade and djade write for, and the files they read (neither
# walks directories itself).
DJANGO_TARGET := 6.1
PY_FILES := find manage.py clinic guidance patients interop bench tests -name '*.py' -print0
TEMPLATE_FILES := find templates -name '*.html' -print0
UPGRADE := xargs -0 $(VENV)/bin/django-upgrade --target-version $(DJANGO_TARGET)
DJADE := xargs -0 $(VENV)/bin/djade --target-version $(DJANGO_TARGET)

.PHONY: run test test-quick lint format migrate clean bench bench-compilers load profile

$(PY):
	@python=$$(scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$python"; \
	$$python -m venv $(VENV)
	$(PIP) install pip==26.3

$(VENV)/.runtime: $(PY) requirements.txt build-constraints.txt
	@$(PIP_INSTALL) -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	@$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@

## Serve the app with demo data on http://127.0.0.1:8000 (SQLite unless DATABASE_URL is set),
## with the background worker (rule previews, governance figures) beside it; both stop together.
run: $(VENV)/.runtime
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py seed_demo
	@$(DEV_ENV) $(PY) manage.py db_worker --no-startup-delay & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	echo "Background worker started (manage.py db_worker, process $$worker)."; \
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# Test processes (pytest-xdist; each has its own test database). One test, at once:
# .venv/bin/python -m pytest tests/path/test_x.py::test_name
WORKERS ?= 2

## The whole suite, browser tests included (on PostgreSQL when DATABASE_URL says so), then
## line and branch coverage. A failing suite stops before the report (its figures would mean
## nothing); the report fails the build only below fail_under in pyproject.toml, when set.
test: $(VENV)/.dev
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest -n $(WORKERS)
	$(PY) -m coverage combine -q
	$(PY) -m coverage report

## CI's second leg (SQLite): the suite without the browser tests and the hostile families,
## and without coverage; both run, measured, on the PostgreSQL leg (make test).
test-quick: $(VENV)/.dev
	$(PY) -m pytest -n $(WORKERS) -m "not e2e and not hostile"

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check . scripts/edge-mutants
	$(VENV)/bin/ruff format --check . scripts/edge-mutants
	$(PY_FILES) | $(UPGRADE) --check
	$(TEMPLATE_FILES) | $(DJADE) --check
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

# djade exits 1 when it has reformatted a file: a --check run afterwards tells that apart from
# a template it could not format.
format: $(VENV)/.dev
	$(PY_FILES) | $(UPGRADE) --exit-zero-even-if-changed
	$(TEMPLATE_FILES) | $(DJADE) || $(TEMPLATE_FILES) | $(DJADE) --check
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Seed a separate benchmark database and print timings: make bench ARGS="--patients 100000"
bench: $(VENV)/.runtime
	@$(BENCH_ENV) $(PY) manage.py collectstatic --noinput -v0
	@$(BENCH_ENV) $(PY) -m bench $(ARGS)

## Does the rule preview still need its own compiler? (rule-engine's evaluation against the
## fast matcher, over 100,000 made-up assessments; no database)
bench-compilers: $(VENV)/.runtime
	@$(PY) -m bench.compilers $(ARGS)

## Where one patient-list request's time goes, part by part: make profile ARGS="--patients 1000"
profile: $(VENV)/.runtime
	@$(BENCH_ENV) $(PY) manage.py collectstatic --noinput -v0
	@$(BENCH_ENV) $(PY) -m bench.profile $(ARGS)

## gunicorn (2 workers) on 127.0.0.1 under wrk: patient list, patient page, health probe.
load: $(VENV)/.runtime
	$(BENCH_ENV) scripts/load

migrate: $(VENV)/.runtime
	$(DEV_ENV) $(PY) manage.py migrate

clean:
	rm -rf $(VENV) staticfiles bench-*.sqlite3 load.sqlite3 .coverage .coverage.*
