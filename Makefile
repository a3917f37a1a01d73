# CellTrack: `make run` to try it, `make test` to check it. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stamps: each install reruns only when its requirements file changes.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run serve serve-check test lint bench install clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Test, lint and benchmark tools, on top of the application's requirements.
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

install: $(STAMP)

run: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py createcachetable --verbosity 0
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# Production: gunicorn on PostgreSQL with DEBUG off. Needs DATABASE_URL (postgres://…),
# SECRET_KEY, ALLOWED_HOSTS and AUDIT_CHECKPOINT_KEY in the environment (.env.example).
SERVE_VARS := DATABASE_URL SECRET_KEY ALLOWED_HOSTS AUDIT_CHECKPOINT_KEY
serve-check:
	@missing=""; for v in $(SERVE_VARS); do [ -n "$$(printenv $$v)" ] || missing="$$missing $$v"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make serve: set$$missing in the environment (see .env.example and README, Production)." >&2; exit 2; fi
	@case "$$DATABASE_URL" in postgres://*|postgresql://*) ;; \
	  *) echo "make serve: DATABASE_URL must be a PostgreSQL URL (postgres://user@host:5432/name)." >&2; exit 2;; esac

# serve-check first: a missing variable stops before anything is installed or migrated.
serve: serve-check $(STAMP)
	DEBUG=0 $(BIN)/python manage.py migrate --noinput
	DEBUG=0 $(BIN)/python manage.py createcachetable --verbosity 0
	DEBUG=0 $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=0 $(BIN)/python manage.py check --deploy
	DEBUG=0 $(BIN)/gunicorn -c config/gunicorn.py config.wsgi

# The suite on every core (pytest-xdist: one database per worker; PYTEST_ARGS="-n 0" runs
# it in one process).
test: lint
	DEBUG=1 $(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

bench: $(DEV_STAMP)
	DEBUG=1 $(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache staticfiles
