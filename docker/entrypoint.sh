#!/bin/sh
# One image, one role per container: api | worker NAME | beat | manage ARGS... | any command.
set -eu
cd "$(dirname "$0")/.."
role="${1:-api}"
[ "$#" -gt 0 ] && shift
case "$role" in
  api)
    python manage.py migrate --noinput
    exec gunicorn dtleweb.wsgi -c docker/gunicorn.conf.py "$@"
    ;;
  worker)
    name="${1:?worker needs a node name, e.g. worker node1}"
    shift
    exec celery -A dtleweb worker -n "$name@%h" -Q dtle -c "${DTLE_WORKER_CONCURRENCY:-8}" \
      --prefetch-multiplier 1 -O fair --loglevel INFO "$@"
    ;;
  beat)
    exec celery -A dtleweb beat --loglevel INFO -s "${DTLE_DATA_DIR:-/tmp}/beat-schedule" "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
