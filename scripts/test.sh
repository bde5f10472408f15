#!/usr/bin/env bash
# The test command: set up what is missing, run the static checks (scripts/check.sh), then the
# whole suite (unit and integration). Any failing check or test fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/check.sh
exec .venv/bin/pytest "$@"
