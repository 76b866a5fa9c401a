# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint format check-migrations reliability bench dist matrix messages clean help

help:
	@echo "make demo   - run the example site on http://$(HOST):$(PORT) (SQLite, console provider)"
	@echo "make test   - lint and run the whole test suite"
	@echo "make reliability - fault, race, hostile-input and secrets suites; writes docs/reliability.md"
	@echo "make bench  - benchmarks against plain Django and django-otp; writes docs/benchmarks.md"
	@echo "make dist   - build the wheel and sdist, install each in a fresh virtualenv and check it"
	@echo "make matrix - the test suite on Django 4.2, 5.2 and 6.x, with and without DRF"
	@echo "make messages - refresh and compile the translation catalogs (LANGUAGE=xx for one)"
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

# The race and two-server suites need PostgreSQL and Redis (see .ci/run); the
# race suite runs a second time on MariaDB.
RELIABILITY_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
RELIABILITY_CACHE_URL ?= redis://127.0.0.1:6379/1
RELIABILITY_MARIADB_URL ?= mysql://root@127.0.0.1:3306/test
RELIABILITY_ROWS := build/reliability-rows.json

reliability: $(STAMP)
	rm -f $(RELIABILITY_ROWS)
	DATABASE_URL=$(RELIABILITY_DATABASE_URL) CACHE_URL=$(RELIABILITY_CACHE_URL) \
	AUTHY2FA_RELIABILITY_REPORT=docs/reliability.md AUTHY2FA_RELIABILITY_ROWS=$(RELIABILITY_ROWS) \
	$(BIN)/python -m pytest tests/faults tests/concurrency tests/deploy tests/hostile
	DATABASE_URL=$(RELIABILITY_MARIADB_URL) CACHE_URL=$(RELIABILITY_CACHE_URL) \
	AUTHY2FA_RELIABILITY_REPORT=docs/reliability.md AUTHY2FA_RELIABILITY_ROWS=$(RELIABILITY_ROWS) \
	$(BIN)/python -m pytest tests/concurrency

# Build both artefacts into a temporary directory and check them installed
# (DIST_DIR=dist keeps them).
dist:
	PYTHON=$(PYTHON) scripts/check_dist.sh

# One fresh virtualenv per leg under .matrix/; LEGS="py311-dj42 ..." for some.
matrix:
	scripts/matrix.sh $(LEGS)

# Needs GNU gettext. Commit the .po and the .mo files.
LANGUAGE ?=
messages: $(STAMP)
	cd django_authy2fa && $(abspath $(BIN))/django-admin makemessages \
		$(if $(LANGUAGE),--locale $(LANGUAGE),--all) --no-obsolete --add-location file
	cd django_authy2fa && $(abspath $(BIN))/django-admin compilemessages

# Needs PostgreSQL on 127.0.0.1:5432 for the 1,000,000-user rows (it creates and drops the
# database authy2fa_bench; without PostgreSQL those rows are skipped) and Debian's wrk for the
# real-server rows (installed here when missing). About 8 minutes on two cores.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	@command -v wrk >/dev/null || apt-get install -y -q --no-install-recommends wrk || \
		{ apt-get update -q && apt-get install -y -q --no-install-recommends wrk; } || \
		echo "wrk could not be installed: the real-server rows will be skipped"
	$(BIN)/python -m benchmarks.run --report docs/benchmarks.md --json build/benchmarks.json

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .matrix build dist *.egg-info db.sqlite3 staticfiles
