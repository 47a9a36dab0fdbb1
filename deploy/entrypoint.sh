#!/bin/sh
# Chooses the role. Migrations run once, under a database lock, before web processes start.
set -eu
role="${1:-web}"
export LOCKERBRIDGE_ROLE="$role"
case "$role" in
  web)
    lockerbridge db upgrade
    exec gunicorn --config python:bridge.gunicorn_conf "bridge.wsgi:app"
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
