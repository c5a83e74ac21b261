#!/bin/sh
# Sets up the PRM workflows in an n8n, then starts it (or runs the given command instead).
# For a container (n8nio/n8n) with deploy/n8n mounted, and used as-is by scripts/n8n.sh:
#   1. creates the two credentials the workflows use, from the environment:
#      "PRM callback secret" (Crypto)  <- N8N_CALLBACK_SECRET, the same value as PRM's
#      "PRM OpenAI" (OpenAI)           <- OPENAI_API_KEY, OPENAI_BASE_URL (any OpenAI-compatible
#                                         server; default https://api.openai.com/v1)
#   2. imports every *.json beside this script (OPENAI_MODEL, when set, replaces the model
#      of the LLM nodes), stopping at the first that fails;
#   3. publishes them, so their webhooks answer on /webhook/prm-intake and /webhook/prm-triage.
# It runs at every start: the files here are the source of truth, and edits made in the n8n
# editor are replaced on restart (export them into deploy/n8n to keep them).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
: "${N8N_CALLBACK_SECRET:?N8N_CALLBACK_SECRET must be set (the same secret as in PRM)}"
: "${OPENAI_API_KEY:?OPENAI_API_KEY must be set (any non-empty value for a server without keys)}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Written by node, which every n8n has, so that no secret needs shell quoting.
node - "$here" "$work" <<'JS'
const fs = require('fs');
const path = require('path');
const [here, work] = process.argv.slice(2);
const env = process.env;
fs.writeFileSync(path.join(work, 'credentials.json'), JSON.stringify([
  { id: 'prmCallbackSec01', name: 'PRM callback secret', type: 'crypto',
    data: { hmacSecret: env.N8N_CALLBACK_SECRET } },
  { id: 'prmOpenAiCreds01', name: 'PRM OpenAI', type: 'openAiApi',
    data: { apiKey: env.OPENAI_API_KEY, url: env.OPENAI_BASE_URL || 'https://api.openai.com/v1' } },
]));
const ids = [];
for (const file of fs.readdirSync(here).filter((name) => name.endsWith('.json')).sort()) {
  const workflow = JSON.parse(fs.readFileSync(path.join(here, file), 'utf8'));
  for (const node of workflow.nodes) {
    if (env.OPENAI_MODEL && node.type === '@n8n/n8n-nodes-langchain.openAi') {
      node.parameters.modelId = { __rl: true, value: env.OPENAI_MODEL, mode: 'id' };
    }
  }
  fs.writeFileSync(path.join(work, `workflow-${file}`), JSON.stringify(workflow));
  ids.push(workflow.id);
}
fs.writeFileSync(path.join(work, 'ids'), ids.join('\n') + '\n');
JS

quiet() { # runs an n8n command, showing its output only when it fails
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" | grep -v -e '^Starting migration' -e '^Finished migration' >&2
    echo "prm-n8n: '$*' failed" >&2
    exit 1
  fi
}

quiet n8n import:credentials --input="$work/credentials.json"
rm "$work/credentials.json"
for file in "$work"/workflow-*.json; do
  quiet n8n import:workflow --input="$file"
done
while read -r id; do
  quiet n8n publish:workflow --id="$id"
done <"$work/ids"
echo "prm-n8n: credentials, workflows and publication set up ($(tr '\n' ' ' <"$work/ids" | sed 's/ $//'))"

rm -rf "$work"
trap - EXIT
if [ $# -eq 0 ]; then
  exec n8n start
fi
exec "$@"
