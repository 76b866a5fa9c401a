# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint format check-migrations reliability bench clean help

help:
	@echo "make demo   - run the example site on http://$(HOST):$(PORT) (SQLite, console provider)"
	@echo "make test   - lint and run the whole test suite"
	@echo "make reliability - fault, race, hostile-input and secrets suites; writes docs/reliability.md"
	@echo "make bench  - benchmarks against plain Django and django-otp; writes docs/benchmarks.md"
	@echo "make format - format the code with ruff"
	@echo "make clean  - remove the virtualenv, the demo database and build files"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_data
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP) lint check-migrations
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-migrations: $(STAMP)
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python -m django makemigrations --check --dry-run django_authy2fa

# The race and two-server suites need PostgreSQL and Redis (see .ci/run).
RELIABILITY_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
RELIABILITY_CACHE_URL ?= redis://127.0.0.1:6379/1

reliability: $(STAMP)
	DATABASE_URL=$(RELIABILITY_DATABASE_URL) CACHE_URL=$(RELIABILITY_CACHE_URL) \
	AUTHY2FA_RELIABILITY_REPORT=docs/reliability.md \
	$(BIN)/python -m pytest tests/faults tests/concurrency tests/deploy tests/hostile

# Needs PostgreSQL on 127.0.0.1:5432 for the 1,000,000-user rows (it creates and drops the
# database authy2fa_bench; without PostgreSQL those rows are skipped) and Debian's wrk for the
# real-server rows (installed here when missing). About 8 minutes on two cores.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	@command -v wrk >/dev/null || apt-get install -y -q --no-install-recommends wrk || \
		{ apt-get update -q && apt-get install -y -q --no-install-recommends wrk; } || \
		echo "wrk could not be installed: the real-server rows will be skipped"
	$(BIN)/python -m benchmarks.run --report docs/benchmarks.md

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info db.sqlite3 staticfiles
