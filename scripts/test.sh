#!/usr/bin/env bash
# The test command: set up what is missing, then run the whole suite (unit and integration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/pytest "$@"
