#!/bin/sh
# Compose only: the start wrapper of every PRM container in docker-compose.yml (not
# part of the image, not used by Kubernetes). It fills in what Compose itself cannot
# decide per profile, then execs the binary given as the command:
#   - development secrets shared by every container (see dev-secrets.sh), unless .env
#     sets them or PRM_ENV=production (where a missing key must stop the service);
#   - the collector, when the `observability` profile runs one (`otel-collector`);
#   - the n8n intake webhook, when the `n8n` profile runs n8n.
# A value set in .env (or the shell) always wins over all of these.
set -eu
dev=/run/prm-dev

from_dev_volume() { # variable, file
  eval "current=\${$1:-}"
  if [ -z "$current" ] && [ -s "$dev/$2" ]; then
    eval "$1=\$(cat \"\$dev/\$2\")"
    export "$1"
    return 0
  fi
  return 1
}

if [ "${PRM_ENV:-development}" != "production" ]; then
  if from_dev_volume PRM_API_KEYS api-key; then
    echo "Development API key (shared by every PRM container of this Compose project): $PRM_API_KEYS"
  fi
  from_dev_volume STATE_ENCRYPTION_KEY state-encryption-key || true
  from_dev_volume N8N_CALLBACK_SECRET n8n-callback-secret || true
fi

# The services start after these (depends_on, required: false), so the names resolve
# exactly when their profile is active.
if [ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ] && getent hosts otel-collector >/dev/null 2>&1; then
  export OTEL_EXPORTER_OTLP_ENDPOINT="http://otel-collector:4318"
  echo "compose: exporting traces to $OTEL_EXPORTER_OTLP_ENDPOINT (observability profile)"
fi
if [ -z "${N8N_WEBHOOK_URL:-}" ] && getent hosts n8n >/dev/null 2>&1; then
  export N8N_WEBHOOK_URL="http://n8n:5678/webhook/prm-intake"
  echo "compose: intake through n8n at $N8N_WEBHOOK_URL (n8n profile)"
fi

exec "$@"
