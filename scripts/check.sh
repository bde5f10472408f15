#!/usr/bin/env bash
# The static checks every change must pass (scripts/test.sh runs them before the tests): lint,
# types of the engine and the control plane, no model change without its migration, and an
# OpenAPI document that validates without a warning. The first failure stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# The checks import the settings; a throw-away data directory keeps them off the real one, and
# DEBUG keeps the development key's warning out of their output.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export DTLE_DATA_DIR="$scratch" DTLE_DEBUG=true
echo "== ruff check"
.venv/bin/ruff check .
echo "== mypy replication jobs bench scripts"
.venv/bin/mypy -p replication -p jobs -p bench -p scripts
echo "== makemigrations --check"
.venv/bin/python manage.py makemigrations --check --dry-run
echo "== spectacular --validate --fail-on-warn"
.venv/bin/python manage.py spectacular --validate --fail-on-warn --file "$scratch/openapi.yaml"
