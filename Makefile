# PaaS Studio: `make run` serves a demo on http://127.0.0.1:8000, `make test` checks everything.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON_FOR_VENV ?= $(shell command -v python3.12 || command -v python3)
DEMO_PASSWORD ?= studio-demo
HOST ?= 127.0.0.1
PORT ?= 8000
# Local runs and tests use development defaults; production sets DEBUG=0 and its own secrets.
export DEBUG ?= 1

.PHONY: run test install migrate seed lint format bench clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON_FOR_VENV) -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
		|| { echo "PaaS Studio needs Python 3.12 or newer (found $$($(PYTHON_FOR_VENV) --version))."; exit 1; }
	test -x $(BIN)/python || $(PYTHON_FOR_VENV) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	test -f .env || printf '# Local development settings (not for production; see .env.example).\nDEBUG=1\n' > .env
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py createcachetable

seed: migrate
	$(BIN)/python manage.py seed_demo --password "$(DEMO_PASSWORD)"

run: seed
	@echo ""
	@echo "  PaaS Studio is starting on http://$(HOST):$(PORT)/"
	@echo "  Log in as admin (superuser), alice (admin of platform), dave (admin of research),"
	@echo "  bob (member of research) or carol (member of finance); password: $(DEMO_PASSWORD)"
	@echo "  A background worker runs launches beside it; Ctrl-C stops both."
	@echo ""
	@$(BIN)/python manage.py db_worker --interval 1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The identity provider the sign-in tests run (Node.js oidc-provider, tests/idp).
tests/idp/node_modules/.package-lock.json: tests/idp/package-lock.json
	@command -v npm >/dev/null || { echo "The sign-in tests need Node.js and npm (Debian: apt-get install nodejs npm)."; exit 1; }
	npm ci --prefix tests/idp --no-audit --no-fund --loglevel=error

test: lint tests/idp/node_modules/.package-lock.json
	$(BIN)/python manage.py check --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Load benchmark, side by side: fills a throwaway PostgreSQL database (DATABASE_URL, default
# postgres://studio@127.0.0.1:5432/studio_bench; its name must end in _bench) with PROFILES
# service profiles (default 10,000), serves it with gunicorn and production settings, measures
# each page with wrk against a bare view and the admin changelist, and times `manage.py apply`
# of 1,000 documents; see benchmarks/load.py.
bench: install
	$(BIN)/python benchmarks/load.py --profiles $(or $(PROFILES),10000)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
