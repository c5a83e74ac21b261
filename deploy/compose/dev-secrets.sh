#!/bin/sh
# Compose only (the `dev-secrets` service): creates, once per Compose project, the
# development secrets that every PRM container must share, in the `dev-secrets` volume.
# Separate services cannot each generate their own: a Bearer key from one would be
# refused by the others behind the same gateway, and conversation state encrypted by
# conversations could not be read by appointments. Production never uses these:
# entrypoint.sh ignores them when PRM_ENV=production, and values in .env always win.
set -eu
dir=/run/prm-dev

# Name and size in random bytes, written as lowercase hex (the state key: 32 bytes,
# 64 hex characters, the format STATE_ENCRYPTION_KEY accepts).
generate() {
  if [ ! -s "$dir/$1" ]; then
    od -An -N"$2" -tx1 /dev/urandom | tr -d ' \n' >"$dir/$1.tmp"
    mv "$dir/$1.tmp" "$dir/$1"
    echo "dev-secrets: generated $1"
  fi
  # Read by the app containers (uid 10001) and n8n (uid 1000).
  chmod 0444 "$dir/$1"
}

generate api-key 24
generate state-encryption-key 32
generate n8n-callback-secret 32
echo "dev-secrets: development secrets ready (docker compose logs prm | grep \"Development API key\")"
