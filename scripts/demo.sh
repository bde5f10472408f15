#!/usr/bin/env bash
# The main job end to end: set up, then run a live migration between two local MariaDB servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m scripts.demo "$@"
