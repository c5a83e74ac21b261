#!/usr/bin/env bash
# Installs the real n8n from the npm registry and checks the PRM workflows in deploy/n8n
# with it (docs/n8n.md).
#
#   scripts/n8n.sh install     npm ci of deploy/n8n/test/package-lock.json into $PRM_N8N_HOME,
#                              once: later runs reuse it and need no network
#   scripts/n8n.sh import      checks every deploy/n8n/*.json against the installed node types,
#                              then imports each with `n8n import:workflow` into a throwaway user
#                              folder; any failure fails the command (this is what `make test` runs)
#   scripts/n8n.sh run-triage  starts n8n with the workflows published, a fake OpenAI-compatible
#                              LLM and a callback receiver, posts signed triggers to the triage
#                              webhook and checks the signed triage-response
#   scripts/n8n.sh run-intake  the same through the intake workflow (which then runs triage)
#   scripts/n8n.sh run         both, in one n8n
#   scripts/n8n.sh check-prm   the triage workflow against the real `prm` (built here, on
#                              SQLite with the demo clinic): its triage-response must be accepted
#
# run-* accept --callback-base http://127.0.0.1:PORT --conversation-id ID to send the callbacks
# to a running PRM instead of the receiver (with PRM's N8N_CALLBACK_SECRET in the environment).
#
# PRM_N8N_HOME defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/prm/n8n-<version>, outside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_DIR=deploy/n8n/test
N8N_VERSION=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["n8n"])' "$TEST_DIR/package.json")
PRM_N8N_HOME="${PRM_N8N_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/prm/n8n-$N8N_VERSION}"
N8N_BIN="$PRM_N8N_HOME/node_modules/.bin/n8n"

say() { echo "n8n: $*"; }
die() { echo "n8n: ERROR: $*" >&2; exit 1; }

# n8n $N8N_VERSION declares engines.node ">=20.19 <= 24.x".
check_node() {
  command -v node >/dev/null || die "Node.js is needed (n8n $N8N_VERSION runs on Node 20.19 to 24)"
  command -v npm >/dev/null || die "npm is needed to install n8n from the npm registry"
  local version major minor
  version=$(node --version)
  IFS=. read -r major minor _ <<<"${version#v}"
  if [ "$major" -lt 20 ] || [ "$major" -gt 24 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
    die "n8n $N8N_VERSION needs Node 20.19 to 24.x; this is Node $version"
  fi
}

lock_hash() { cat "$TEST_DIR/package.json" "$TEST_DIR/package-lock.json" | sha256sum | cut -d' ' -f1; }

install() {
  check_node
  mkdir -p "$PRM_N8N_HOME"
  # One install at a time per cache directory (parallel `make` runs share it).
  exec 9>"$PRM_N8N_HOME/.lock"
  command -v flock >/dev/null && flock 9
  local stamp="$PRM_N8N_HOME/.installed" want
  want=$(lock_hash)
  if [ -x "$N8N_BIN" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "n8n $N8N_VERSION is installed in $PRM_N8N_HOME"
    return
  fi
  say "installing n8n $N8N_VERSION from the npm registry into $PRM_N8N_HOME (npm ci; about 2 GB, several minutes, once)"
  rm -f "$stamp"
  cp "$TEST_DIR/package.json" "$TEST_DIR/package-lock.json" "$PRM_N8N_HOME/"
  # sqlite3 has no prebuilt binary reachable without GitHub, so it is compiled: point
  # node-gyp at the local Node headers instead of letting it download them.
  local nodedir
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  if [ -z "${npm_config_nodedir:-}" ] && [ -f "$nodedir/include/node/node.h" ]; then
    export npm_config_nodedir="$nodedir"
  fi
  local started=$SECONDS
  (cd "$PRM_N8N_HOME" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error) \
    || die "npm ci of n8n $N8N_VERSION failed (see above)"
  [ -x "$N8N_BIN" ] || die "npm ci finished but $N8N_BIN is missing"
  echo "$want" >"$stamp"
  say "installed n8n $("$N8N_BIN" --version) in $((SECONDS - started))s ($(du -sh "$PRM_N8N_HOME/node_modules" | cut -f1))"
}

# The environment of every n8n the checks start: a throwaway user folder, no calls home,
# and none of the n8n settings of the caller's shell (a DB_TYPE would import into a real database).
n8n_env() {
  local name
  for name in $(compgen -e); do
    case $name in N8N_* | DB_* | EXECUTIONS_* | QUEUE_* | CREDENTIALS_* | WEBHOOK_URL) unset "$name" ;; esac
  done
  export N8N_USER_FOLDER="$1" N8N_DIAGNOSTICS_ENABLED=false N8N_VERSION_NOTIFICATIONS_ENABLED=false \
    N8N_TEMPLATES_ENABLED=false N8N_PERSONALIZATION_ENABLED=false N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=true
}

import_all() {
  install
  shopt -s nullglob
  local files=(deploy/n8n/*.json)
  [ ${#files[@]} -gt 0 ] || die "no workflow exports in deploy/n8n"
  python3 -B "$TEST_DIR/check_exports.py" "$PRM_N8N_HOME" "${files[@]}" \
    || die "the exports do not match n8n $N8N_VERSION's node types (see above)"
  import_folder=$(mktemp -d "${TMPDIR:-/tmp}/prm-n8n-import.XXXXXX")
  trap 'rm -rf "$import_folder"' EXIT
  n8n_env "$import_folder"
  local file out started
  for file in "${files[@]}"; do
    started=$SECONDS
    if ! out=$("$N8N_BIN" import:workflow --input="$file" 2>&1) \
      || ! grep -q "Successfully imported 1 workflow" <<<"$out"; then
      printf '%s\n' "$out" | grep -v -e '^Starting migration' -e '^Finished migration' >&2
      die "n8n $N8N_VERSION could not import $file"
    fi
    say "$file imports into n8n $N8N_VERSION ($((SECONDS - started))s)"
  done
}

# run_scenarios SCENARIO... -- OPTION... (options go to run_workflows.py as they are)
run_scenarios() {
  install
  local scenarios=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do scenarios+=("$1"); shift; done
  shift || true
  python3 -B "$TEST_DIR/run_workflows.py" --n8n "$N8N_BIN" "$@" "${scenarios[@]}"
}

# The triage workflow against the real PRM: the all-in-one `prm` (debug build, SQLite in a
# temporary folder, the demo clinic) with a conversation opened over its API, and n8n's
# triage-response posted to its n8n-callbacks route, which must accept it.
check_prm() {
  install
  cargo build --quiet -p prm --bin prm
  local target_dir key secret port id status
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  PRM_WORK=$(mktemp -d)
  local work=$PRM_WORK
  key="n8n-check-key-$(date +%s)-0123456789"
  secret="n8n-check-secret-0123456789abcdef"
  # 9>&-: prm must not inherit (and so keep) the install lock that run_scenarios takes again.
  (cd "$work" && exec 9>&- && exec env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT=0 PRM_API_KEYS="$key" \
    N8N_CALLBACK_SECRET="$secret" LOG_FORMAT=json RUST_LOG=warn "$target_dir/debug/prm" --demo >"$work/out" 2>&1) &
  PRM_PID=$!
  local prm_pid=$PRM_PID
  trap 'kill $PRM_PID 2>/dev/null; wait $PRM_PID 2>/dev/null; rm -rf "$PRM_WORK"' EXIT
  for _ in $(seq 1 120); do
    port=$(sed -n 's|^PRM is running on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/out")
    [ -n "$port" ] && break
    kill -0 $prm_pid 2>/dev/null || { cat "$work/out" >&2; die "prm did not start"; }
    sleep 0.5
  done
  [ -n "$port" ] || die "prm did not print its address within 60 s"
  say "prm is running on 127.0.0.1:$port"
  id=$(curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"phone": "+573001234567", "channel": "whatsapp"}' \
    "http://127.0.0.1:$port/api/v1/prm/conversations" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') \
    || die "could not open a conversation in prm"
  say "conversation $id opened; running the triage workflow against prm"
  N8N_CALLBACK_SECRET="$secret" run_scenarios triage -- --callback-base "http://127.0.0.1:$port" --conversation-id "$id"
  status=$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/prm/conversations/$id" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["stage"])')
  say "the conversation is now at stage $status"
}

command=${1:-}
shift || true
case $command in
  install) install ;;
  import) import_all ;;
  run-triage) run_scenarios triage -- "$@" ;;
  run-intake) run_scenarios intake -- "$@" ;;
  run) run_scenarios triage intake -- "$@" ;;
  check-prm) check_prm ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
