#!/bin/sh
# Compose only (the `n8n` profile): imports the workflow exports in deploy/n8n/*.json
# (mounted read-only at /workflows) into n8n's database and publishes them, then
# starts n8n. Runs at every start, so a changed export replaces the stored workflow;
# an export must carry its `id` for that (without one n8n assigns a new id, and every
# restart would add a copy).
set -eu

# The callback secret n8n signs its answers with must be the one the PRM containers
# check: .env's N8N_CALLBACK_SECRET, else the shared development one.
if [ -z "${N8N_CALLBACK_SECRET:-}" ] && [ -s /run/prm-dev/n8n-callback-secret ]; then
  N8N_CALLBACK_SECRET=$(cat /run/prm-dev/n8n-callback-secret)
  export N8N_CALLBACK_SECRET
fi

set -- /workflows/*.json
if [ -e "$1" ]; then
  n8n import:workflow --separate --input=/workflows
  for file in /workflows/*.json; do
    id=$(node -e 'const w = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
                  const one = Array.isArray(w) ? w[0] : w; process.stdout.write(String((one && one.id) || ""))' "$file")
    if [ -n "$id" ]; then
      n8n publish:workflow --id="$id"
    else
      echo "n8n-start: $file has no id; imported but not published (activate it in the editor)" >&2
    fi
  done
else
  echo "n8n-start: no workflow exports in deploy/n8n; starting n8n empty" >&2
fi

# The trigger's callback URLs are built from PUBLIC_BASE_URL, by default
# http://localhost:8080, which inside this container would be n8n itself. Forward this
# container's 127.0.0.1:8080 to the PRM entry point (prm, or the gateway of the
# `services` profile; both answer as prm-api:8080) so those URLs work unchanged.
node -e '
const net = require("net");
net.createServer((client) => {
  const upstream = net.connect(8080, "prm-api");
  client.pipe(upstream).pipe(client);
  upstream.on("error", () => client.destroy());
  client.on("error", () => upstream.destroy());
}).listen(8080, "127.0.0.1");
' &

exec n8n start
