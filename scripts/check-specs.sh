#!/usr/bin/env bash
# Validates, offline, what Docker cannot run here: the committed OpenAPI documents
# (openapi-spec-validator), the AsyncAPI document (parses as JSON/YAML with its
# channels), docker-compose.yml against the Compose specification schema vendored
# by check-jsonschema, and the collector config's YAML. Installs the validators
# from PyPI when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { python3 -c "import $1" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check "$2"; }
need openapi_spec_validator openapi-spec-validator
need check_jsonschema check-jsonschema
need yaml pyyaml

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
PRM_API_KEYS=check-only-0123456789 python3 -m check_jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
echo "specs: docker-compose.yml conforms to the Compose specification"
