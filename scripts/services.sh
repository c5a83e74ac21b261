#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ answer on 127.0.0.1, starting any
# that is installed but down. Fails loudly (exit 1) when one cannot be reached:
# the test suite uses them for real.
set -uo pipefail

wait_for() { # name, check command, seconds
  local name=$1 check=$2 seconds=$3
  for _ in $(seq 1 "$seconds"); do
    if eval "$check" >/dev/null 2>&1; then echo "services: $name is up"; return 0; fi
    sleep 1
  done
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure() { # name, check, start command, seconds
  local name=$1 check=$2 start=$3 seconds=$4
  if eval "$check" >/dev/null 2>&1; then echo "services: $name is up"; return 0; fi
  echo "services: $name is down; starting it: $start"
  eval "$start" >/dev/null 2>&1 || true
  if ! wait_for "$name" "$check" "$seconds"; then
    echo "services: ERROR: $name is not reachable on 127.0.0.1 and could not be started" >&2
    return 1
  fi
}

# A clean build of the workspace's tests takes about 5 GB under target/; a full disk
# shows up later as an obscure linker or rustc I/O error, so say it up front.
free_kb=$(df -Pk . 2>/dev/null | awk 'NR==2 {print $4}')
if [ -n "$free_kb" ] && [ "$free_kb" -lt $((6 * 1024 * 1024)) ]; then
  echo "services: WARNING: only $((free_kb / 1024)) MiB free here; a clean test build needs about 5 GiB" >&2
fi

status=0
ensure PostgreSQL "pg_isready -h 127.0.0.1 -p 5432 -q || port_open 5432" \
  'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start' 30 || status=1
ensure Redis "redis-cli -h 127.0.0.1 ping | grep -q PONG || port_open 6379" \
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log' 20 || status=1
ensure RabbitMQ "port_open 5672" 'rabbitmq-server -detached' 90 || status=1
# SQLite test databases are files in the temp dir, one per test; remove earlier runs'.
rm -f "${TMPDIR:-/tmp}"/prm-test-*.db "${TMPDIR:-/tmp}"/prm-test-*.db-wal "${TMPDIR:-/tmp}"/prm-test-*.db-shm
if [ "$status" -eq 0 ]; then
  # Test databases are created per test; drop the ones earlier runs left behind.
  psql -h 127.0.0.1 -U postgres -d test -Atc \
    "SELECT 'DROP DATABASE IF EXISTS ' || datname || ';' FROM pg_database WHERE datname LIKE 'prm_test_%' OR datname LIKE 'bus_test_%'" 2>/dev/null \
    | psql -h 127.0.0.1 -U postgres -d test -q >/dev/null 2>&1 || true
fi
exit "$status"
