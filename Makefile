# RevOps Governance: `make run` brings the whole app up on the embedded default (SQLite, a
# filesystem Celery broker, web + worker + beat); `make test` runs the suite. Nothing but
# Python 3.11+ is needed: the first run creates .venv and installs the pinned dependencies.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# XStatic-Bootstrap builds from an sdist that needs setuptools < 81 (see build-constraints.txt).
PIP := PIP_CONSTRAINT=build-constraints.txt $(BIN)/pip

.PHONY: install run demo test test-fast test-production bench lint check-deploy demo-reset clean

$(BIN)/.installed: pyproject.toml build-constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py load_demo
	@$(BIN)/python manage.py welcome --port $(PORT)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile --port $(PORT)

# `make run` with the CRM simulator (manage.py simulate_crm) playing Salesforce and HubSpot against it
# for DEMO_SECONDS: run events, permit checks, decision requests, an admin deciding, signed webhooks;
# then one monitor pass, so findings, the decision queue and shadow reviews have filled up. The app
# keeps running afterwards; Ctrl-C stops everything.
DEMO_SECONDS ?= 180

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py load_demo
	@$(BIN)/python manage.py welcome --port $(PORT)
	@export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	honcho start --procfile Procfile --port $(PORT) & app=$$!; \
	trap 'kill -TERM $$app 2>/dev/null; wait $$app; exit 0' INT TERM; \
	python manage.py simulate_crm --url http://127.0.0.1:$(PORT) --create-tokens --wait-ready 60 \
		--duration $(DEMO_SECONDS) --rate 4 --automations 8; \
	celery --app revops_gov call health.tasks.monitors_run >/dev/null && \
	echo "A monitor pass is running on the worker: see /findings/ in a few seconds."; \
	python manage.py welcome --port $(PORT); \
	echo "The simulation is over and the app keeps running: /decisions/team/, /findings/, /automations/. Ctrl-C stops it."; \
	wait $$app

# The suite runs in TEST_PROCESSES processes (pytest-xdist; each has its own test database, var/ and
# cache prefix) in a random order (pytest-randomly; the seed is printed and `make test
# PYTEST_ARGS=--randomly-seed=N` replays it). Tests that share a fixed resource say so with an
# xdist_group and take turns.
TEST_PROCESSES ?= 4
PYTEST := $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadgroup

test: install
	$(PYTEST) $(PYTEST_ARGS)

test-fast: install
	$(PYTEST) -m "not browser and not worker and not schemathesis and not faults and not production and not openapi_client"

# The production shape natively (gunicorn, worker, beat) and the fault tests; needs PostgreSQL on
# 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (PRODSHAPE_DATABASE_URL / PRODSHAPE_REDIS to change).
test-production: install
	$(PYTEST) -m "production or faults"

bench: install
	$(BIN)/python -m bench.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-deploy: install
	DJANGO_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	DJANGO_SECURE_SSL_REDIRECT=true DJANGO_SECURE_COOKIES=true DJANGO_HSTS_SECONDS=31536000 \
	DJANGO_ALLOWED_HOSTS=revops.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
