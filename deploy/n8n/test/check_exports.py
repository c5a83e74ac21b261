"""Checks deploy/n8n/*.json against the node types of an installed n8n, before importing.

`n8n import:workflow` only checks that a file has `nodes` and `connections`: an unknown
node type, a typeVersion the installed n8n lacks, a misspelt parameter or a connection to a
missing node would import and only fail when the workflow runs. This catches them, and
that credentials are referenced by id and name only (never with secrets inside).

Usage: check_exports.py N8N_PREFIX FILE...   (N8N_PREFIX holds node_modules/n8n)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NODE_PACKAGES = {
    "n8n-nodes-base": "node_modules/n8n-nodes-base/dist/types/nodes.json",
    "@n8n/n8n-nodes-langchain": "node_modules/@n8n/n8n-nodes-langchain/dist/types/nodes.json",
}
# Keys every exported node may carry besides its parameters (n8n's INode).
NODE_KEYS = {
    "parameters",
    "id",
    "name",
    "type",
    "typeVersion",
    "position",
    "credentials",
    "webhookId",
    "disabled",
    "notes",
    "notesInFlow",
    "retryOnFail",
    "maxTries",
    "waitBetweenTries",
    "alwaysOutputData",
    "executeOnce",
    "onError",
    "continueOnFail",
}


def load_node_types(prefix: Path) -> dict[str, list[dict]]:
    """Node descriptions by full type name (`package.node`), one entry per version group."""
    types: dict[str, list[dict]] = {}
    for package, relative in NODE_PACKAGES.items():
        for description in json.loads((prefix / relative).read_text()):
            types.setdefault(f"{package}.{description['name']}", []).append(description)
    return types


def description_for(types: dict[str, list[dict]], node: dict) -> dict | None:
    for description in types.get(node["type"], []):
        versions = description["version"] if isinstance(description["version"], list) else [description["version"]]
        if node["typeVersion"] in versions:
            return description
    return None


def check_workflow(path: Path, types: dict[str, list[dict]]) -> list[str]:
    problems = []
    try:
        workflow = json.loads(path.read_text())
    except ValueError as error:
        return [f"not JSON: {error}"]
    for key in ("name", "id", "nodes", "connections"):
        if key not in workflow:
            problems.append(f"has no {key!r}")
    if problems:
        return problems
    names = [node.get("name") for node in workflow["nodes"]]
    if len(set(names)) != len(names):
        problems.append("two nodes share a name")
    for node in workflow["nodes"]:
        where = f"node {node.get('name')!r}"
        unknown_keys = set(node) - NODE_KEYS
        if unknown_keys:
            problems.append(f"{where}: unknown keys {sorted(unknown_keys)}")
        description = description_for(types, node)
        if description is None:
            known = sorted(
                {
                    str(v)
                    for d in types.get(node.get("type"), [])
                    for v in (d["version"] if isinstance(d["version"], list) else [d["version"]])
                }
            )
            problems.append(
                f"{where}: {node.get('type')} v{node.get('typeVersion')} does not exist in this n8n"
                + (f" (versions: {', '.join(known)})" if known else " (unknown type)")
            )
            continue
        parameters = {prop["name"] for prop in description.get("properties", [])}
        for parameter in node.get("parameters", {}):
            if parameter not in parameters:
                problems.append(f"{where}: unknown parameter {parameter!r} for {node['type']} v{node['typeVersion']}")
        allowed_credentials = {c["name"] for c in description.get("credentials") or []}
        for credential_type, reference in (node.get("credentials") or {}).items():
            if credential_type not in allowed_credentials:
                problems.append(f"{where}: credential type {credential_type!r} is not one this node takes")
            if not isinstance(reference, dict) or set(reference) != {"id", "name"}:
                problems.append(f"{where}: credential {credential_type!r} must be referenced by id and name only")
        for required in ("id", "position"):
            if required not in node:
                problems.append(f"{where}: has no {required!r}")
    for source, outputs in workflow["connections"].items():
        if source not in names:
            problems.append(f"connection from the missing node {source!r}")
        for connection_type, groups in outputs.items():
            for group in groups:
                for target in group or []:
                    if target.get("node") not in names:
                        problems.append(f"connection from {source!r} to the missing node {target.get('node')!r}")
                    if target.get("type") != connection_type:
                        problems.append(f"connection from {source!r} mixes {connection_type} and {target.get('type')}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    types = load_node_types(Path(argv[1]))
    failed = False
    ids: dict[str, str] = {}
    for file in argv[2:]:
        path = Path(file)
        problems = check_workflow(path, types)
        workflow_id = json.loads(path.read_text()).get("id") if not problems else None
        if workflow_id in ids:
            problems.append(f"has the same id as {ids[workflow_id]}")
        ids[workflow_id] = file
        for problem in problems:
            print(f"n8n: {file}: {problem}", file=sys.stderr)
        failed |= bool(problems)
        if not problems:
            print(f"n8n: {file}: every node type, version, parameter and credential exists in this n8n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
