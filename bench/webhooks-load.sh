#!/usr/bin/env bash
# Load test of prm-webhooks: signed Twilio inbound webhooks against a release build with
# the real PostgreSQL, Redis and RabbitMQ on 127.0.0.1 (outbox relay publishing).
#
#   bench/webhooks-load.sh [duration=30s] [connections=16] [threads=2]
#   RATE=1000 bench/webhooks-load.sh [duration=30s] [connections=64]
#
# Without RATE: wrk, as fast as the connections go (closed loop). With RATE: a fixed
# arrival rate (services/webhooks/examples/fixed_rate_load.rs, latency from each
# request's due time). Needs python3 (to sign), psql, and wrk without RATE (installed
# with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-30s}
RATE=${RATE:-}
CONNECTIONS=${2:-$([ -n "$RATE" ] && echo 64 || echo 16)}
THREADS=${3:-2}
PORT=${WEBHOOKS_BENCH_PORT:-18001}
TOKEN=bench-twilio-auth-token
PUBLIC=http://bench.prm.local
ROUTE=/api/v1/prm/webhooks/twilio
DB=prm_webhooks_bench
PG=${PRM_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}

if [ -z "$RATE" ] && ! command -v wrk >/dev/null; then
  echo "wrk is missing; installing it with apt-get" >&2
  (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi

cargo build --release -p prm-webhooks --bin prm-webhooks
if [ -n "$RATE" ]; then cargo build --release -p prm-webhooks --example fixed_rate_load; fi

SECONDS_TOTAL=$(echo "$DURATION" | sed 's/s$//')
COUNT=$(( SECONDS_TOTAL * ${RATE:-4000} + 20000 ))
SIGNED=$(mktemp /tmp/webhooks-signed.XXXXXX)
python3 bench/webhooks-sign.py "$COUNT" "$PUBLIC$ROUTE" "$TOKEN" "$SIGNED"

psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
PREFIX="bench-$$:"

# One address stands in for Twilio's whole fleet: the limiter runs (its cost is part
# of the figures) with a rate this load never reaches.
HOST=127.0.0.1 PORT=$PORT RUST_LOG=warn \
RATE_LIMIT_WEBHOOKS_PER_SECOND=1000000 RATE_LIMIT_WEBHOOKS_BURST=1000000 \
DATABASE_URL="$PG/$DB" REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX="$PREFIX" \
AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f AMQP_NAME_PREFIX="bench-$$." \
PUBLIC_BASE_URL=$PUBLIC TWILIO_AUTH_TOKEN=$TOKEN PRM_API_KEYS=bench-key-0123456789abcdef \
  "${CARGO_TARGET_DIR:-target}/release/prm-webhooks" > /tmp/prm-webhooks-bench.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$SIGNED"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null && break
  sleep 0.2
done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
if [ -n "$RATE" ]; then
  echo "fixed_rate_load --rate $RATE --duration $SECONDS_TOTAL --connections $CONNECTIONS (signed Twilio webhooks, unique MessageSids)"
  "${CARGO_TARGET_DIR:-target}/release/examples/fixed_rate_load" "http://127.0.0.1:$PORT$ROUTE" "$SIGNED" \
    --rate "$RATE" --duration "$SECONDS_TOTAL" --connections "$CONNECTIONS"
else
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (signed Twilio webhooks, unique MessageSids)"
  WEBHOOKS_SIGNED_FILE=$SIGNED WEBHOOKS_THREADS=$THREADS \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/webhooks-load.lua "http://127.0.0.1:$PORT$ROUTE"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

sleep 2
echo "inbound_messages rows: $(psql "$PG/$DB" -tAc 'SELECT count(*) FROM inbound_messages')"
echo "outbox rows: $(psql "$PG/$DB" -tAc 'SELECT count(*) FROM webhooks_outbox'), unpublished: $(psql "$PG/$DB" -tAc 'SELECT count(*) FROM webhooks_outbox WHERE published_at IS NULL')"
