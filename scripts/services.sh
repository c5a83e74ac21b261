#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ answer on 127.0.0.1, starting any that is
# installed but down, and prepares PostgreSQL for the tests. Fails loudly (exit 1)
# naming the server, its address and how it tried to start it when one cannot be
# reached: the test suite uses them for real.
set -uo pipefail

# The administration connection of the tests (crates/store/src/testing.rs): the
# `postgres` database, which every installation has.
PG_ADMIN_URL="${PRM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # check command, seconds
  local check=$1 seconds=$2
  for _ in $(seq 1 "$seconds"); do
    if eval "$check" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

ensure() { # name, address, check, start command ("" when it cannot be started), seconds, why not
  local name=$1 address=$2 check=$3 start=$4 seconds=$5 why=${6:-}
  if eval "$check" >/dev/null 2>&1; then echo "services: $name is up on $address"; return 0; fi
  if [ -z "$start" ]; then
    echo "services: ERROR: $name is not reachable on $address and cannot be started here:" \
      "$why; install it or start it yourself" >&2
    return 1
  fi
  echo "services: $name is not reachable on $address; starting it with: $start"
  local log rc=0
  log=$(mktemp)
  eval "$start" >"$log" 2>&1 || rc=$?
  if wait_for "$check" "$seconds"; then
    echo "services: $name is up on $address"
    rm -f "$log"
    return 0
  fi
  {
    echo "services: ERROR: $name is still not reachable on $address ${seconds}s after starting it"
    echo "services:   start command: $start (exit status $rc)"
    if [ -s "$log" ]; then
      echo "services:   its output (last 20 lines):"
      tail -n 20 "$log" | sed 's/^/services:     /'
    fi
  } >&2
  rm -f "$log"
  return 1
}

# A clean build of the workspace's tests takes about 5 GB under target/; a full disk
# shows up later as an obscure linker or rustc I/O error, so say it up front.
free_kb=$(df -Pk . 2>/dev/null | awk 'NR==2 {print $4}')
if [ -n "$free_kb" ] && [ "$free_kb" -lt $((6 * 1024 * 1024)) ]; then
  echo "services: WARNING: only $((free_kb / 1024)) MiB free here; a clean test build needs about 5 GiB" >&2
fi

# How each server is started when it is installed (Debian/Ubuntu layout).
pg_start="" pg_why=""
pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  pg_why="pg_ctlcluster (postgresql-common) is not installed"
elif [ -z "$pg_version" ]; then
  pg_why="no cluster under /etc/postgresql"
else
  pg_start="pg_ctlcluster --skip-systemctl-redirect $pg_version main start"
fi
redis_start="" redis_why="redis-server is not installed"
if command -v redis-server >/dev/null 2>&1; then
  redis_start='redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'
fi
rabbit_start="" rabbit_why="rabbitmq-server is not installed"
if command -v rabbitmq-server >/dev/null 2>&1; then
  rabbit_start="rabbitmq-server -detached"
fi

status=0
ensure PostgreSQL 127.0.0.1:5432 "pg_isready -h 127.0.0.1 -p 5432 -q || port_open 5432" "$pg_start" 30 "$pg_why" || status=1
ensure Redis 127.0.0.1:6379 "redis-cli -h 127.0.0.1 ping | grep -q PONG || port_open 6379" "$redis_start" 20 "$redis_why" || status=1
ensure RabbitMQ 127.0.0.1:5672 "port_open 5672" "$rabbit_start" 90 "$rabbit_why" || status=1

# Broker queues that an interrupted run left behind (the suites name theirs `test-…` and
# delete them when they finish): each holds file handles in RabbitMQ, and a few thousand
# of them exhaust its limit, after which every connection of the next run is refused.
if [ "$status" -eq 0 ] && command -v rabbitmqctl >/dev/null 2>&1; then
  leftovers=$(timeout 60 rabbitmqctl -q list_queues name 2>/dev/null | grep '^test-' || true)
  if [ -n "$leftovers" ]; then
    echo "services: deleting $(printf '%s\n' "$leftovers" | wc -l) RabbitMQ queues earlier test runs left behind"
    printf '%s\n' "$leftovers" | while read -r queue; do
      timeout 30 rabbitmqctl -q delete_queue "$queue" >/dev/null 2>&1 || true
    done
  fi
  if alarms=$(timeout 60 rabbitmq-diagnostics -q check_local_alarms 2>&1); then :; else
    echo "services: ERROR: RabbitMQ on 127.0.0.1:5672 has a resource alarm and blocks publishers:" >&2
    printf '%s\n' "$alarms" | sed 's/^/services:   /' >&2
    status=1
  fi
fi

# SQLite test databases are files in the temp dir, one per test, copied from a migrated
# template file (prm-test-template-*.db); remove earlier runs'.
rm -f "${TMPDIR:-/tmp}"/prm-test-*.db "${TMPDIR:-/tmp}"/prm-test-*.db-wal "${TMPDIR:-/tmp}"/prm-test-*.db-shm

if [ "$status" -eq 0 ] && command -v psql >/dev/null 2>&1; then
  if ! psql "$PG_ADMIN_URL" -Atqc "SELECT 1" >/dev/null 2>&1; then
    echo "services: ERROR: PostgreSQL answers on 127.0.0.1:5432 but the tests cannot log in as $PG_ADMIN_URL" \
      "(set PRM_TEST_POSTGRES_URL to a user that may create databases):" >&2
    psql "$PG_ADMIN_URL" -Atqc "SELECT 1" 2>&1 | sed 's/^/services:   /' >&2
    status=1
  else
    # prm-bus's tests administer through a database named `test`; a fresh server has none.
    if [ -z "$(psql "$PG_ADMIN_URL" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'")" ]; then
      echo "services: creating the PostgreSQL database \`test\` the bus tests connect to"
      psql "$PG_ADMIN_URL" -qc "CREATE DATABASE test" >/dev/null || status=1
    fi
    # Test databases are created per test (and dropped with it); drop the ones earlier
    # runs left behind, and the migrated templates they were copied from, so that a run
    # starts from the migrations as they are now (crates/store/src/testing.rs).
    psql "$PG_ADMIN_URL" -Atqc \
      "SELECT 'DROP DATABASE IF EXISTS ' || quote_ident(datname) || ';' FROM pg_database WHERE datname LIKE 'prm\_test\_%' OR datname LIKE 'bus\_test\_%' OR datname LIKE 'prm\_template\_%'" \
      | psql "$PG_ADMIN_URL" -q >/dev/null 2>&1 || true
  fi
fi
exit "$status"
