# casehub — the two commands are `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-slow install install-dev migrate messages bench lint clean serve

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

## make demo: embedded default (SQLite, local object store, in-process tasks) on http://127.0.0.1:8000
demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py runserver 127.0.0.1:8000

## make test: the whole suite but the long runs (marked slow). Before the first test it checks what the
## selected tests need outside Python (Redis, chromium, pdfsig, ...) and names what is missing.
## CI=true runs it against PostgreSQL, Redis and an S3 server, slow tests included (small fuzz budget).
ifeq ($(CI),true)
test: export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/casehub
test: export CASEHUB_CACHE_URL ?= redis://127.0.0.1:6379/1
PYTEST_MARKERS ?=
else
PYTEST_MARKERS ?= not slow
endif
# Two workers: the CI machine has two cores (each worker gets its own test database). worksteal: a
# worker that runs out of tests takes some of the other's queue; with the default "load" schedule the
# other worker was left alone with a queue of long tests at the end (7 minutes of one idle core seen).
PYTEST_WORKERS ?= 2
test: install-dev
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS)

## The long runs (marked slow) with the full fuzz budget (hypothesis profile "long").
test-slow: install-dev
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -m slow $(PYTEST_ARGS)

## Rebuild the translation catalogues (needs GNU gettext); the compiled .mo files are committed.
messages: install-dev
	$(PY) manage.py makemessages -l en --no-location --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' \
	    --ignore 'bench/*' --ignore 'examples/*' --ignore 'artifacts/*'
	$(PY) casehub/locale/apply_translations.py casehub/locale/en/translations.json
	$(PY) manage.py compilemessages -l en

lint: install-dev
	$(VENV)/bin/ruff check .

bench: install-dev
	for b in bench/[!_]*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache
