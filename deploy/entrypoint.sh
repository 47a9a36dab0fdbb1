#!/bin/sh
# Chooses the role. Migrations run once, under a database lock, before web processes start.
set -eu
role="${1:-web}"
export LOCKERBRIDGE_ROLE="$role"
case "$role" in
  web)
    lockerbridge db upgrade
    # Counters of earlier runs must not be added to this run's (prometheus_client multiprocess).
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
      find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
    fi
    exec gunicorn --config python:bridge.entrypoints.gunicorn_conf "bridge.entrypoints.wsgi:app"
    ;;
  worker)
    exec lockerbridge worker
    ;;
  scheduler)
    exec lockerbridge scheduler
    ;;
  *)
    exec "$@"
    ;;
esac
