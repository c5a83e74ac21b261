#!/usr/bin/env bash
# Validates, offline, what Docker cannot run here: the committed OpenAPI documents
# (openapi-spec-validator), the AsyncAPI document (against the official AsyncAPI 3.0.0
# JSON Schema from the npm package @asyncapi/specs), docker-compose.yml against the Compose specification schema vendored
# by check-jsonschema, the collector config's YAML, and the Kubernetes manifests in
# deploy/k8s (kubernetes-validate, strict, against the Kubernetes versions below, plus
# consistency checks with .env.example). Installs the validators from PyPI (and the
# AsyncAPI schema from the npm registry, into target/spec-tools) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { python3 -c "import $1" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check "$2"; }
need openapi_spec_validator openapi-spec-validator
need check_jsonschema check-jsonschema
need yaml pyyaml
need kubernetes_validate kubernetes-validate

# The oldest Kubernetes the manifests support and the newest kubernetes-validate bundles
# as of writing (`python3 -m kubernetes_validate --help` names its default).
K8S_VERSIONS=(1.31.0 1.37.0)

python3 - <<'PY'
import json, glob, sys, yaml
from openapi_spec_validator import validate
for path in sorted(glob.glob("openapi/*.json")):
    validate(json.load(open(path)))
    print(f"specs: {path} is a valid OpenAPI document")
doc = yaml.safe_load(open("openapi/asyncapi.yaml"))
assert doc.get("asyncapi", "").startswith("3."), "asyncapi.yaml is not AsyncAPI 3"
assert doc.get("channels"), "asyncapi.yaml has no channels"
print(f"specs: openapi/asyncapi.yaml parses (AsyncAPI {doc['asyncapi']}, {len(doc['channels'])} channels)")
yaml.safe_load(open("deploy/otel-collector.yaml"))
PY
ASYNCAPI_SPECS_VERSION=6.11.1
tools=target/spec-tools
asyncapi_schema="$tools/node_modules/@asyncapi/specs/schemas/3.0.0-without-\$id.json"
if [ ! -f "$asyncapi_schema" ] || ! grep -q "\"version\": \"$ASYNCAPI_SPECS_VERSION\"" "$tools/node_modules/@asyncapi/specs/package.json"; then
  command -v npm >/dev/null || { echo "specs: npm is needed to fetch the AsyncAPI schema (@asyncapi/specs)" >&2; exit 1; }
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --silent "@asyncapi/specs@$ASYNCAPI_SPECS_VERSION" >&2
fi
python3 -m check_jsonschema --schemafile "$asyncapi_schema" openapi/asyncapi.yaml
echo "specs: openapi/asyncapi.yaml conforms to the AsyncAPI 3.0.0 schema (@asyncapi/specs $ASYNCAPI_SPECS_VERSION)"

PRM_API_KEYS=check-only-0123456789 python3 -m check_jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
echo "specs: docker-compose.yml conforms to the Compose specification"

# kustomization.yaml is not a Kubernetes resource (checked below); every other file is.
k8s_manifests=()
for f in deploy/k8s/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || k8s_manifests+=("$f")
done
for version in "${K8S_VERSIONS[@]}"; do
  # kubernetes-validate only warns about a kind or apiVersion it has no schema for
  # (a typo'd apiVersion would pass), so anything but an INFO line is a failure.
  out=$(python3 -m kubernetes_validate --strict -k "$version" "${k8s_manifests[@]}" 2>&1) && rc=0 || rc=$?
  bad=$(grep -v '^INFO ' <<<"$out" || true)
  if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
    printf '%s\n' "${bad:-$out}" >&2
    echo "specs: deploy/k8s does not validate against Kubernetes $version" >&2
    exit 1
  fi
  echo "specs: deploy/k8s: $(grep -c '^INFO ' <<<"$out") resources in ${#k8s_manifests[@]} files valid against Kubernetes $version (strict)"
done

python3 - <<'PY'
import glob, os, re, sys, yaml

def fail(msg):
    sys.exit(f"specs: deploy/k8s: {msg}")

documented = set()
for line in open(".env.example"):
    m = re.match(r"\s*#?\s*([A-Z][A-Z0-9_]*)=", line)
    if m:
        documented.add(m.group(1))

docs = []
for path in sorted(glob.glob("deploy/k8s/*.yaml")):
    if os.path.basename(path) != "kustomization.yaml":
        docs += [(path, d) for d in yaml.safe_load_all(open(path)) if d]

# Every variable name the manifests set or reference must be documented in .env.example.
names, config_keys, secret_keys, secret_refs, deployments = {}, set(), set(), set(), []
for path, doc in docs:
    kind = doc["kind"]
    if kind == "ConfigMap" and doc["metadata"]["name"] == "prm-config":
        config_keys |= set(doc.get("data", {}))
        names.update({k: path for k in doc.get("data", {})})
    elif kind == "Secret":
        keys = set(doc.get("stringData", {})) | set(doc.get("data", {}))
        secret_keys |= keys
        names.update({k: path for k in keys})
    elif kind == "Deployment":
        deployments.append((path, doc))
        spec = doc["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            for env in c.get("env", []):
                names[env["name"]] = path
                ref = env.get("valueFrom", {})
                for key in ("secretKeyRef", "configMapKeyRef"):
                    if key in ref:
                        names[ref[key]["key"]] = path
                if "secretKeyRef" in ref and not ref["secretKeyRef"].get("optional"):
                    secret_refs.add(ref["secretKeyRef"]["key"])
undocumented = sorted(f"{n} ({p})" for n, p in names.items() if n not in documented)
if undocumented:
    fail("not in .env.example: " + ", ".join(undocumented))
if config_keys & secret_keys:
    fail(f"both in the ConfigMap and the Secret: {sorted(config_keys & secret_keys)}")
if "DATABASE_URL" in config_keys:
    fail("DATABASE_URL is a secret; it must not be in the ConfigMap")
missing = sorted(secret_refs - secret_keys)
if missing:
    fail(f"required secret keys missing from secret.example.yaml: {missing}")
print(f"specs: deploy/k8s: {len(names)} variable names, all documented in .env.example")

# Probes: readiness on /ready, liveness on /health; the server drains for 30 s on SIGTERM.
for path, doc in deployments:
    name = doc["metadata"]["name"]
    spec = doc["spec"]["template"]["spec"]
    for c in spec["containers"]:
        for probe, want in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
            got = c.get(probe, {}).get("httpGet", {}).get("path")
            if got != want:
                fail(f"{name}: {probe} must GET {want}, not {got}")
    if spec.get("terminationGracePeriodSeconds", 30) < 35:
        fail(f"{name}: terminationGracePeriodSeconds must be at least 35 (30 s drain)")
if not deployments:
    fail("no Deployment found")
print("specs: deploy/k8s: " + ", ".join(d["metadata"]["name"] for _, d in deployments)
      + " probe /ready and /health")

# kustomization.yaml lists every manifest except the Secret example.
kust = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))
listed = set(kust.get("resources", []))
files = {os.path.basename(p) for p in glob.glob("deploy/k8s/*.yaml")} - {"kustomization.yaml"}
if "secret.example.yaml" in listed:
    fail("kustomization.yaml must not list secret.example.yaml (placeholders)")
if listed - files:
    fail(f"kustomization.yaml lists missing files: {sorted(listed - files)}")
if files - listed - {"secret.example.yaml"}:
    fail(f"kustomization.yaml does not list: {sorted(files - listed - {'secret.example.yaml'})}")
print(f"specs: deploy/k8s/kustomization.yaml lists all {len(listed)} manifests, not secret.example.yaml")
PY
