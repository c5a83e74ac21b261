#!/usr/bin/env bash
# Checks that the server does what its OpenAPI document says, with schemathesis (PyPI):
# builds `prm`, starts it on a fresh PostgreSQL database with the demo clinic, and runs
# every schemathesis check against the document it serves at /openapi.json (the same
# document as openapi/prm.json): no 5xx, every status, header and body documented,
# schema-valid input accepted, schema-invalid input refused, 405 with `Allow` for
# methods a path does not have. Any finding fails the script (`make check-api`).
#
#   scripts/schemathesis.sh install    install schemathesis into $PRM_SCHEMATHESIS_HOME once
#   scripts/schemathesis.sh [run]      install if needed, then check the API
#
# Environment: PRM_SCHEMATHESIS_HOME (default ${XDG_CACHE_HOME:-$HOME/.cache}/prm/
# schemathesis-<version>), PRM_TEST_POSTGRES_URL (an admin connection, default
# postgres://postgres@127.0.0.1:5432/postgres), MAX_EXAMPLES (default 50 per operation),
# SEED (default 1, for the same cases on every run), and any option after `run`
# goes to `schemathesis run` as it is (e.g. `--include-path-regex patients`).
#
# scripts/schemathesis.toml names the operations whose rules JSON Schema cannot state
# (a referenced record must exist, a start must be a free slot…), which may answer 422
# to a schema-valid body.
#
# Left out, because they cannot be checked meaningfully from outside without secrets:
# the signed webhook POSTs (Twilio, its status callback, Meta's WhatsApp deliveries, the
# voice agent) and the n8n callbacks, which refuse every body not signed with the
# provider's or n8n's secret, so only their 403 would ever be seen; and the SSE stream
# (GET /api/v1/prm/conversations/stream), which never ends a response for the checks to read.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
PRM_SCHEMATHESIS_HOME="${PRM_SCHEMATHESIS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/prm/schemathesis-$SCHEMATHESIS_VERSION}"
ST_BIN="$PRM_SCHEMATHESIS_HOME/venv/bin/schemathesis"
ADMIN_URL="${PRM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
MAX_EXAMPLES="${MAX_EXAMPLES:-50}"
SEED="${SEED:-1}"

say() { echo "schemathesis: $*"; }
die() { echo "schemathesis: ERROR: $*" >&2; exit 1; }

install() {
  mkdir -p "$PRM_SCHEMATHESIS_HOME"
  exec 9>"$PRM_SCHEMATHESIS_HOME/.lock"
  command -v flock >/dev/null && flock 9
  if [ -x "$ST_BIN" ] && "$ST_BIN" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    say "schemathesis $SCHEMATHESIS_VERSION is installed in $PRM_SCHEMATHESIS_HOME"
    return
  fi
  command -v python3 >/dev/null || die "python3 (3.9 or later) is needed to install schemathesis"
  say "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $PRM_SCHEMATHESIS_HOME (once)"
  rm -rf "$PRM_SCHEMATHESIS_HOME/venv"
  python3 -m venv "$PRM_SCHEMATHESIS_HOME/venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$PRM_SCHEMATHESIS_HOME/venv/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
  say "installed $("$ST_BIN" --version)"
}

run() {
  install
  command -v psql >/dev/null || die "psql is needed to create the throwaway database"
  psql "$ADMIN_URL" -qAtc 'select 1' >/dev/null || die "PostgreSQL does not answer at $ADMIN_URL (make services)"

  say "building prm"
  cargo build --quiet -p prm --bin prm
  local bin="${CARGO_TARGET_DIR:-target}/debug/prm"
  [ -x "$bin" ] || die "cargo built no $bin"

  work=$(mktemp -d "${TMPDIR:-/tmp}/prm-schemathesis.XXXXXX")
  database="prm_schemathesis_$$_$RANDOM"
  server_pid=
  trap cleanup EXIT
  psql "$ADMIN_URL" -qc "CREATE DATABASE $database" >/dev/null
  local database_url="${ADMIN_URL%/*}/$database"
  local key
  key="schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

  # Its own database; the in-memory state store and in-process bus (nothing else to clean);
  # no rate limit (schemathesis sends hundreds of requests a second).
  env -u REDIS_URL -u AMQP_URL \
    DATABASE_URL="$database_url" PRM_API_KEYS="$key" HOST=127.0.0.1 PORT=0 \
    RATE_LIMIT_API_PER_SECOND=0 RATE_LIMIT_WEBHOOKS_PER_SECOND=0 LOG_FORMAT=json RUST_LOG=warn \
    "$bin" --demo >"$work/server.log" 2>&1 &
  server_pid=$!
  local base= _
  for _ in $(seq 1 300); do
    base=$(sed -n 's|^PRM is running on \(http://[^ ]*\) .*|\1|p' "$work/server.log")
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "prm exited before serving"; }
    sleep 0.1
  done
  [ -n "$base" ] || die "prm did not start within 30 s"
  say "prm serves $base on database $database"

  local started=$SECONDS status=0
  "$ST_BIN" --config-file scripts/schemathesis.toml run "$base/openapi.json" \
    --checks all \
    -H "Authorization: Bearer $key" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 10 \
    --exclude-operation-id webhooks_inbound \
    --exclude-operation-id webhooks_status \
    --exclude-operation-id webhooks_deliver \
    --exclude-operation-id webhooks_voice_agent \
    --exclude-operation-id n8n_intake_response \
    --exclude-operation-id n8n_triage_response \
    --exclude-operation-id n8n_booking_response \
    --exclude-operation-id stream_conversations \
    "$@" || status=$?
  say "finished in $((SECONDS - started))s"
  # Errors the server logged, for the record: a 5xx already fails the not_a_server_error
  # check. (actix's "request parse error" lines come from schemathesis probing whether a
  # NUL byte in a header is accepted; the request is refused before any route.)
  if grep '"level":"ERROR"' "$work/server.log" | grep -vq 'request parse error'; then
    say "the server logged errors:"
    grep '"level":"ERROR"' "$work/server.log" | grep -v 'request parse error' | tail -20 >&2
  fi
  [ "$status" -eq 0 ] || die "schemathesis reported findings (exit $status); fix the server or the document"
  say "no findings"
}

cleanup() {
  if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "${database:-}" ]; then
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null || true
  fi
  [ -n "${work:-}" ] && rm -rf "$work"
}

command=${1:-run}
shift || true
case $command in
  install) install ;;
  run) run "$@" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
