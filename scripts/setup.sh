#!/usr/bin/env bash
# Prepare a machine to run the project: Python virtualenv with pinned requirements, MariaDB
# server binaries and a running Redis. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "== installing MariaDB server binaries"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "== installing Redis"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "== starting Redis on 127.0.0.1:6379"
  mkdir -p /tmp/dtle-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/dtle-redis --logfile /tmp/dtle-redis/redis.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
if ! cmp -s requirements-dev.txt .venv/.installed-dev 2>/dev/null || ! cmp -s requirements.txt .venv/.installed 2>/dev/null; then
  echo "== installing requirements"
  # (this machine's pip configuration names local index folders that may not exist: hush that)
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  cp requirements.txt .venv/.installed
  cp requirements-dev.txt .venv/.installed-dev
fi
.venv/bin/python manage.py migrate --noinput -v 0
