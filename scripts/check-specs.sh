#!/usr/bin/env bash
# Validates, offline, what Docker and a cluster cannot run here:
#   - the committed OpenAPI documents (openapi-spec-validator) and the AsyncAPI document
#     (the official AsyncAPI 3.0.0 JSON Schema of the npm package @asyncapi/specs);
#   - docker-compose.yml: the Compose specification schema vendored by check-jsonschema,
#     every documented mode resolved by scripts/check-deploy.py (ports, dependencies,
#     healthchecks, .env reaching every PRM container), and `docker compose config` for
#     every profile when a Compose CLI is here (set DOCKER_COMPOSE to use another one);
#   - deploy/k8s and deploy/k8s-monitoring rendered by `kubectl kustomize` (or
#     `kustomize build`): built-in objects against the Kubernetes versions below
#     (kubernetes-validate --strict), the ServiceMonitor against the Prometheus
#     Operator schema (npm @kubernetes-models/prometheus-operator), and the checks of
#     scripts/check-deploy.py (variables, secrets per service, probes, migrations, HPA,
#     ingress, NetworkPolicy, ServiceMonitor).
# The validators are pinned and installed once, from PyPI and the npm registry, into
# $PRM_SPEC_TOOLS (default ~/.cache/prm/spec-tools); later runs are offline.
set -euo pipefail
cd "$(dirname "$0")/.."

# Changing a pin reinstalls the tools at the next run.
PY_TOOLS=(openapi-spec-validator==0.9.0 check-jsonschema==0.39.0 PyYAML==6.0.3 kubernetes-validate==1.37.0)
NPM_TOOLS=(@asyncapi/specs@6.11.1 @kubernetes-models/prometheus-operator@6.0.0)
# The oldest Kubernetes the manifests support and the newest kubernetes-validate bundles
# as of writing (`kubernetes-validate --help` names its default).
K8S_VERSIONS=(1.31.0 1.37.0)

tools="${PRM_SPEC_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/prm/spec-tools}"
wanted="$(printf '%s\n' "${PY_TOOLS[@]}" "${NPM_TOOLS[@]}"; python3 -c 'import sys; print(sys.version)')"
if [ "$(cat "$tools/installed" 2>/dev/null)" != "$wanted" ]; then
  echo "specs: installing the pinned validators into $tools (once; later runs are offline)"
  command -v npm >/dev/null || { echo "specs: npm is needed for ${NPM_TOOLS[*]}" >&2; exit 1; }
  rm -rf "$tools/venv" "$tools/node_modules" "$tools/installed"
  mkdir -p "$tools"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_TOOLS[@]}"
  # One command: npm drops packages a later `install --no-save` does not name.
  npm install --prefix "$tools" --no-save --no-audit --no-fund --silent "${NPM_TOOLS[@]}" >&2
  printf '%s' "$wanted" >"$tools/installed"
fi
py="$tools/venv/bin/python"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- OpenAPI and AsyncAPI ----------------------------------------------------------
"$py" - <<'PY'
import json, glob, yaml
from openapi_spec_validator import validate
for path in sorted(glob.glob("openapi/*.json")):
    validate(json.load(open(path)))
    print(f"specs: {path} is a valid OpenAPI document")
doc = yaml.safe_load(open("openapi/asyncapi.yaml"))
assert doc.get("asyncapi", "").startswith("3."), "asyncapi.yaml is not AsyncAPI 3"
assert doc.get("channels"), "asyncapi.yaml has no channels"
print(f"specs: openapi/asyncapi.yaml parses (AsyncAPI {doc['asyncapi']}, {len(doc['channels'])} channels)")
for path in ("deploy/otel-collector.yaml", "deploy/compose/otel-collector.yaml"):
    config = yaml.safe_load(open(path))
    assert config["service"]["pipelines"]["traces"]["receivers"] == ["otlp"], path
print("specs: deploy/otel-collector.yaml and deploy/compose/otel-collector.yaml parse")
PY
"$py" -m check_jsonschema --schemafile "$tools/node_modules/@asyncapi/specs/schemas/3.0.0-without-\$id.json" openapi/asyncapi.yaml
echo "specs: openapi/asyncapi.yaml conforms to the AsyncAPI 3.0.0 schema (${NPM_TOOLS[0]})"

# --- docker-compose.yml ------------------------------------------------------------
"$py" -m check_jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
echo "specs: docker-compose.yml conforms to the Compose specification"
"$py" scripts/check-deploy.py compose

compose=()
if [ -n "${DOCKER_COMPOSE:-}" ]; then
  read -ra compose <<<"$DOCKER_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
fi
if [ ${#compose[@]} -gt 0 ]; then
  # No .env for interpolation, as on a new machine; `config` needs no Docker daemon.
  : >"$work/empty.env"
  for profiles in "" "services" "deps" "observability" "n8n" "services observability n8n"; do
    args=()
    for p in $profiles; do args+=(--profile "$p"); done
    "${compose[@]}" --env-file "$work/empty.env" -f docker-compose.yml "${args[@]}" config --quiet
    echo "specs: ${compose[*]} ${args[*]} config: valid"
  done
else
  echo "specs: no Docker Compose CLI here: \`docker compose config\` skipped (the modes were resolved above)"
fi

# --- Kubernetes ----------------------------------------------------------------------
render() { # kustomization directory, output file
  if command -v kubectl >/dev/null; then
    kubectl kustomize "$1" >"$2"
  elif command -v kustomize >/dev/null; then
    kustomize build "$1" >"$2"
  elif [ "${CI:-}" = true ]; then
    echo "specs: CI needs kubectl or kustomize to render $1" >&2
    return 1
  else
    # Without kustomize: the listed files as they are (namespace and image not rewritten).
    echo "specs: WARNING: no kubectl or kustomize; validating the files $1 lists, unrendered" >&2
    "$py" - "$1" >"$2" <<'PY'
import os, sys, yaml
def files(folder):
    for entry in yaml.safe_load(open(os.path.join(folder, "kustomization.yaml")))["resources"]:
        path = os.path.normpath(os.path.join(folder, entry))
        yield from files(path) if os.path.isdir(path) else [path]
print("\n---\n".join(open(f).read() for f in files(sys.argv[1])))
PY
  fi
}
render deploy/k8s "$work/k8s.yaml"
render deploy/k8s-monitoring "$work/k8s-monitoring.yaml"
if ! diff <("$py" -c 'import sys, yaml; [print(yaml.safe_dump(d)) for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] != "ServiceMonitor"]' "$work/k8s-monitoring.yaml") \
          <("$py" -c 'import sys, yaml; [print(yaml.safe_dump(d)) for d in yaml.safe_load_all(open(sys.argv[1])) if d]' "$work/k8s.yaml") >/dev/null; then
  echo "specs: deploy/k8s-monitoring must be deploy/k8s plus the ServiceMonitor, nothing else" >&2
  exit 1
fi
"$py" - "$work" <<'PY'
import json, sys, yaml
work = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{work}/k8s-monitoring.yaml")) if d]
crds = [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
json.dump(crds, open(f"{work}/crds.json", "w"))
yaml.safe_dump_all([d for d in docs if d not in crds], open(f"{work}/builtin.yaml", "w"))
PY
for version in "${K8S_VERSIONS[@]}"; do
  # kubernetes-validate only warns about a kind or apiVersion it has no schema for
  # (a typo'd apiVersion would pass), so anything but an INFO line is a failure.
  out=$("$py" -m kubernetes_validate --strict -k "$version" "$work/builtin.yaml" 2>&1) && rc=0 || rc=$?
  bad=$(grep -v '^INFO ' <<<"$out" || true)
  if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
    printf '%s\n' "${bad:-$out}" >&2
    echo "specs: deploy/k8s does not validate against Kubernetes $version" >&2
    exit 1
  fi
  echo "specs: deploy/k8s: $(grep -c '^INFO ' <<<"$out") objects valid against Kubernetes $version (strict)"
done
node scripts/check-crds.mjs "$tools" "$work/crds.json"
"$py" scripts/check-deploy.py k8s "$work/k8s-monitoring.yaml"

# Every metric the Grafana dashboard queries is recorded somewhere in the code (a renamed
# metric otherwise leaves an empty panel that nobody notices until an incident).
missing=""
for metric in $(grep -o 'prm_[a-z_]*' deploy/grafana/prm-dashboard.json | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
  grep -rqF "\"$metric\"" --include=*.rs crates services || missing="$missing $metric"
done
if [ -n "$missing" ]; then
  echo "specs: deploy/grafana/prm-dashboard.json queries metrics no code records:$missing" >&2
  exit 1
fi
echo "specs: every metric of deploy/grafana/prm-dashboard.json is recorded by the code"
