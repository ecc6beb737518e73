#!/usr/bin/env bash
# The official RealWorld Postman collection, unmodified, run by newman against a real server:
# `python -m mainspring serve` on a free port with a fresh SQLite database, the RealWorld API at
# its default prefix. Exits non-zero when any request or assertion of the collection fails.
#
# Conduit.postman_collection.json is a verbatim copy of the RealWorld project's collection
# (https://github.com/realworld-apps/realworld, api/Conduit.postman_collection.json).
# newman comes from the npm registry (npx). Without node/npx the run is skipped, unless CI is
# set: there a missing tool is a failure, as a missing server is for the test suite.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '\n=== %s\n' "$*"; }

if ! command -v npx >/dev/null; then
  if [ -n "${CI:-}" ]; then
    echo "newman needs node and npx, which are missing (CI is set: a missing tool is a failure)" >&2
    exit 1
  fi
  echo "newman needs node and npx: skipped" >&2
  exit 0
fi

WORK=$(mktemp -d /tmp/mainspring-newman.XXXXXX)
SERVER_PID=
cleanup() {
  set +e
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "mainspring serve on 127.0.0.1:$PORT (SQLite in $WORK)"
# A hermetic server: its own database and signing key, embedded backends whatever the caller's
# environment says.
env -u MAINSPRING_REDIS_URL -u MAINSPRING_BROKER_URL -u MAINSPRING_CACHE_URL \
  -u MAINSPRING_RATELIMIT_URL -u MAINSPRING_PUBSUB_URL -u MAINSPRING_JWT_SIGNING_KEYS \
  MAINSPRING_ENV=development \
  MAINSPRING_DATABASE_URL="sqlite+aiosqlite:///$WORK/newman.db" \
  MAINSPRING_JWT_KEYS_DIR="$WORK" \
  MAINSPRING_MAIL_URL="file:$WORK/mail" \
  MAINSPRING_LOG_LEVEL=WARNING \
  .venv/bin/python -m mainspring serve --host 127.0.0.1 --port "$PORT" --no-demo >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

up() {
  .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$PORT/healthz" 2>/dev/null
}
for _ in $(seq 100); do
  up && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$WORK/server.log" >&2
    echo "the server did not start" >&2
    exit 1
  fi
  sleep 0.2
done
up || { cat "$WORK/server.log" >&2; echo "the server does not answer" >&2; exit 1; }

log "newman run Conduit.postman_collection.json"
status=0
npx --yes newman@6 run tests/realworld/Conduit.postman_collection.json \
  --global-var "APIURL=http://127.0.0.1:$PORT/realworld/api" \
  --global-var "USERNAME=conduit_$RANDOM" \
  --global-var "EMAIL=conduit_$RANDOM@example.com" \
  --global-var "PASSWORD=Correct-Horse-Battery-$RANDOM" \
  --reporters cli --color off || status=$?
if [ "$status" -ne 0 ]; then
  log "server log"
  cat "$WORK/server.log" >&2
fi
exit "$status"
