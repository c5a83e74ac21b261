#!/usr/bin/env python3
"""Consistency checks of docker-compose.yml and deploy/k8s that no schema can express.

Called by scripts/check-specs.sh (part of `make test`), after the schema checks:

  check-deploy.py compose
      Resolves every documented Compose mode (profiles, `--scale prm=0`, `up deps`) the
      way Compose does and checks what would run: no port published twice, every
      dependency enabled, every healthcheck a real `<binary> healthcheck`, every PRM
      container reading `.env` (so every variable of .env.example reaches it), and no
      `environment` entry silently overriding a user's .env.
  check-deploy.py k8s RENDERED.yaml
      Checks the output of `kubectl kustomize` (base plus the ServiceMonitor overlay):
      every variable of .env.example is in the ConfigMap, the Secret example, or set per
      Deployment; each Deployment gets exactly the secrets it uses; probes, migrations,
      autoscaling, the ingress routes and body size, the NetworkPolicy and the
      ServiceMonitor.

Exit status 1 with a `specs:` message naming the file and the rule on the first failure.
"""

import glob
import os
import re
import sys

import yaml

# The binaries of deploy/Dockerfile and the port each listens on by default.
PORTS = {
    "prm": 8080,
    "prm-webhooks": 8001,
    "prm-conversations": 8002,
    "prm-appointments": 8003,
    "prm-n8n-callbacks": 8004,
}

# Compose `environment` entries that intentionally win over .env: the wiring to the
# file's own backends, each binary's port, and the proxy hop of the gateway.
COMPOSE_WIRED = {"DATABASE_URL", "REDIS_URL", "AMQP_URL", "PORT", "TRUSTED_PROXY_HOPS"}

# .env.example variables that are deliberately not in the ConfigMap or the Secret
# example, and why; each must be named in deploy/k8s/README.md too.
K8S_SET_ELSEWHERE = {
    "HOST": "the image sets 0.0.0.0",
    "PORT": "each Deployment sets its own",
    "OTEL_SERVICE_NAME": "each binary names itself",
}

# The secrets each Deployment must read (required) or may read (optional), and no other.
PROVIDER_KEYS_WEBHOOKS = {
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER",
    "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID", "VOICE_AGENT_SECRET", "OPENAI_API_KEY",
}
PROVIDER_KEYS_CONVERSATIONS = {
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER",
    "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "OPENAI_API_KEY",
}
SECRETS = {
    "prm-webhooks": ({"DATABASE_URL", "REDIS_URL", "AMQP_URL"}, PROVIDER_KEYS_WEBHOOKS),
    "prm-conversations": (
        {"DATABASE_URL", "REDIS_URL", "AMQP_URL", "PRM_API_KEYS", "STATE_ENCRYPTION_KEY"},
        {"STATE_ENCRYPTION_KEY_PREVIOUS"} | PROVIDER_KEYS_CONVERSATIONS,
    ),
    "prm-appointments": (
        {"DATABASE_URL", "REDIS_URL", "AMQP_URL", "PRM_API_KEYS", "STATE_ENCRYPTION_KEY"},
        {"STATE_ENCRYPTION_KEY_PREVIOUS"},
    ),
    "prm-n8n-callbacks": ({"DATABASE_URL", "AMQP_URL", "N8N_CALLBACK_SECRET"}, set()),
}
AUTOSCALED = {"prm-webhooks", "prm-conversations"}

# Public path prefix -> the Service that must serve it (ARCHITECTURE.md §5).
ROUTES = {
    "/api/v1/prm/webhooks/": "prm-webhooks",
    "/api/v1/prm/conversations": "prm-conversations",
    "/api/v1/prm/n8n/": "prm-n8n-callbacks",
    "/api/v1/prm/": "prm-appointments",
}
MIN_BODY_BYTES = 2 * 1024 * 1024


def fail(msg):
    sys.exit(f"specs: {msg}")


def env_example():
    names = []
    for line in open(".env.example"):
        m = re.match(r"\s*#?\s*([A-Z][A-Z0-9_]*)=", line)
        if m and m.group(1) not in names:
            names.append(m.group(1))
    return names


# --- Compose ---------------------------------------------------------------------

def interpolate(value, env):
    """`${NAME}`, `${NAME:-default}`, `${NAME-default}` as Compose resolves them."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m):
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        if op is None:
            return env.get(name, "")
        if op in (":?", "?"):
            fail(f"docker-compose.yml: ${{{name}{op}…}} makes every command fail without {name}")
        if op == ":-":
            return env.get(name) or default
        return env.get(name, default)

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?)([^}]*))?\}", one, value)


def compose_modes():
    """Each documented way to start the file: (name, profiles, scaled to 0, targets)."""
    return [
        ("up", [], set(), None),
        ("--profile services up --scale prm=0", ["services"], {"prm"}, None),
        ("up deps", [], set(), ["deps"]),
        ("--profile observability up", ["observability"], set(), None),
        ("--profile n8n up", ["n8n"], set(), None),
        ("--profile services --profile observability --profile n8n up --scale prm=0",
         ["services", "observability", "n8n"], {"prm"}, None),
    ]


def resolve(services, profiles, scaled_to_zero, targets):
    """The services Compose would start, like compose-go's WithProfiles and
    WithSelectedServices: a targeted service enables its own profiles."""
    profiles = list(profiles)
    for name in targets or []:
        profiles += services[name].get("profiles") or []

    def enabled(name):
        svc_profiles = services[name].get("profiles") or []
        return not svc_profiles or any(p in profiles for p in svc_profiles)

    if targets:
        running, todo = set(), list(targets)
        while todo:
            name = todo.pop()
            if name in running:
                continue
            running.add(name)
            todo += [dep for dep in (services[name].get("depends_on") or {}) if enabled(dep)]
    else:
        running = {n for n in services if enabled(n)} - scaled_to_zero
    for name in running:
        for dep, cfg in (services[name].get("depends_on") or {}).items():
            if dep not in services:
                fail(f"docker-compose.yml: {name} depends on undefined service {dep}")
            if dep not in running and cfg.get("required", True) and dep not in scaled_to_zero:
                fail(f"docker-compose.yml: {name} depends on {dep}, which this mode does not start")
            if dep in scaled_to_zero and dep in running | {name}:
                fail(f"docker-compose.yml: {name} depends on {dep}, which this mode scales to 0")
    return running


def published_host_ports(service):
    ports = []
    for p in service.get("ports") or []:
        spec = str(p) if not isinstance(p, dict) else f"{p.get('host_ip', '')}:{p['published']}:{p['target']}"
        parts = spec.split(":")
        if len(parts) == 3:
            ports.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            ports.append(("0.0.0.0", int(parts[0]), int(parts[1])))
    return ports


def check_compose():
    raw = yaml.safe_load(open("docker-compose.yml"))
    # No .env and no exported variable: what a new user has.
    doc = interpolate(raw, {})
    services = doc["services"]
    documented = env_example()

    prm_image = services["prm"]["image"]
    apps = {n: s for n, s in services.items()
            if s.get("image") == prm_image and (s.get("restart") or "") != "no"}
    if set(apps) != {"prm", "webhooks", "conversations", "appointments", "n8n-callbacks"}:
        fail(f"docker-compose.yml: unexpected long-running PRM containers {sorted(apps)}")

    for name, svc in apps.items():
        where = f"docker-compose.yml: {name}"
        env_files = svc.get("env_file") or []
        if not any(isinstance(e, dict) and e.get("path") == ".env" and e.get("required") is False
                   for e in env_files):
            fail(f"{where}: needs `env_file: [{{path: .env, required: false}}]` so every "
                 "variable of .env.example reaches it and Compose works without a .env")
        binary = svc["command"][0]
        if binary not in PORTS:
            fail(f"{where}: runs {binary}, not one of the image's binaries {sorted(PORTS)}")
        env = svc.get("environment") or {}
        if str(env.get("PORT")) != str(PORTS[binary]):
            fail(f"{where}: PORT must be {PORTS[binary]} ({binary}'s port), not {env.get('PORT')}")
        test = (svc.get("healthcheck") or {}).get("test")
        if test != ["CMD", binary, "healthcheck"]:
            fail(f"{where}: healthcheck must be [CMD, {binary}, healthcheck], not {test}")
        # Twilio and Meta sign the URL they call: by default that is the entry point.
        if env.get("PUBLIC_BASE_URL") != "http://localhost:8080":
            fail(f"{where}: PUBLIC_BASE_URL must default to http://localhost:8080, the entry "
                 f"point every mode publishes, not {env.get('PUBLIC_BASE_URL')}")
        targets = {p[2] for p in published_host_ports(svc)}
        if targets and targets != {PORTS[binary]}:
            fail(f"{where}: publishes container ports {sorted(targets)}, not {PORTS[binary]}")
        # Values in `environment` beat .env: only the wiring may do that.
        for key, value in (raw["services"][name].get("environment") or {}).items():
            if key not in documented:
                fail(f"{where}: environment {key} is not documented in .env.example")
            if key not in COMPOSE_WIRED and f"${{{key}" not in str(value):
                fail(f"{where}: environment {key} overrides .env; use ${{{key}:-default}} "
                     "or add it to COMPOSE_WIRED in scripts/check-deploy.py with a reason")
        deps = svc.get("depends_on") or {}
        for optional in ("otel-collector", "n8n"):
            if deps.get(optional, {}).get("required", True):
                fail(f"{where}: must depend on {optional} with `required: false`, so "
                     "deploy/compose/entrypoint.sh finds it when its profile runs")
    if services["rabbitmq"].get("hostname") != "rabbitmq":
        fail("docker-compose.yml: rabbitmq needs a fixed hostname (its node name keeps the queues)")

    for name, svc in services.items():
        for dep, cfg in (svc.get("depends_on") or {}).items():
            if cfg.get("condition") == "service_healthy" and not services[dep].get("healthcheck"):
                fail(f"docker-compose.yml: {name} waits for {dep} to be healthy, but {dep} has no healthcheck")
        for volume in svc.get("volumes") or []:
            source = str(volume).split(":")[0]
            # deploy/n8n belongs to the n8n workflow exports; Docker creates it if absent.
            if source.startswith("./") and source != "./deploy/n8n" and not os.path.exists(source):
                fail(f"docker-compose.yml: {name} mounts {source}, which does not exist")

    expectations = {
        "up": ({"prm", "postgres", "redis", "rabbitmq"}, {"gateway", "webhooks", "deps"}),
        "--profile services up --scale prm=0": (
            {"gateway", "migrate", "webhooks", "conversations", "appointments", "n8n-callbacks"}, {"prm"}),
        "up deps": ({"deps", "postgres", "redis", "rabbitmq"}, {"prm", "gateway"}),
        "--profile observability up": ({"prm", "otel-collector", "jaeger"}, {"gateway"}),
        "--profile n8n up": ({"prm", "n8n"}, {"gateway"}),
    }
    for mode, profiles, zero, targets in compose_modes():
        running = resolve(services, profiles, zero, targets)
        must, must_not = expectations.get(mode, (set(), set()))
        if must - running or must_not & running:
            fail(f"docker-compose.yml: `docker compose {mode}` would start {sorted(running)}; "
                 f"it must include {sorted(must)} and none of {sorted(must_not)}")
        seen = {}
        for name in sorted(running):
            for host_ip, port, _ in published_host_ports(services[name]):
                if port in seen:
                    fail(f"docker-compose.yml: `docker compose {mode}`: {name} and {seen[port]} "
                         f"both publish port {port}")
                seen[port] = name
        if "deps" not in (targets or []) and seen.get(8080) not in ("prm", "gateway"):
            fail(f"docker-compose.yml: `docker compose {mode}` serves nothing on :8080")
        print(f"specs: docker-compose.yml: `docker compose {mode}` starts {len(running)} "
              f"services, ports {sorted(seen)} each published once")
    print(f"specs: docker-compose.yml: all {len(documented)} variables of .env.example reach "
          f"{len(apps)} PRM containers (env_file .env); environment overrides only "
          f"{sorted(COMPOSE_WIRED)}; healthchecks are `<binary> healthcheck`")


# --- Kubernetes --------------------------------------------------------------------

def body_size_bytes(value):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", str(value).strip())
    if not m:
        return 0
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]


def check_k8s(rendered_path):
    docs = [d for d in yaml.safe_load_all(open(rendered_path)) if d]
    documented = env_example()
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    configmap = next(d for d in by_kind.get("ConfigMap", []) if d["metadata"]["name"] == "prm-config")
    config_keys = set(configmap.get("data", {}))
    secret_doc = yaml.safe_load(open("deploy/k8s/secret.example.yaml"))
    secret_keys = set(secret_doc.get("stringData", {})) | set(secret_doc.get("data", {}))
    readme = open("deploy/k8s/README.md").read()

    if config_keys & secret_keys:
        fail(f"deploy/k8s: both in the ConfigMap and the Secret: {sorted(config_keys & secret_keys)}")
    for key in config_keys | secret_keys:
        if key not in documented:
            fail(f"deploy/k8s: {key} is not documented in .env.example")
    missing = [v for v in documented
               if v not in config_keys | secret_keys and v not in K8S_SET_ELSEWHERE]
    if missing:
        fail("deploy/k8s: variables of .env.example in neither configmap.yaml nor "
             f"secret.example.yaml: {missing} (or list them in K8S_SET_ELSEWHERE and README.md)")
    for var, why in K8S_SET_ELSEWHERE.items():
        if f"`{var}`" not in readme:
            fail(f"deploy/k8s/README.md must say how {var} is set ({why})")

    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    if set(deployments) != set(SECRETS):
        fail(f"deploy/k8s: Deployments {sorted(deployments)}, expected {sorted(SECRETS)}")
    used_secrets = set()
    for name, dep in deployments.items():
        spec = dep["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        binary = container["command"][0]
        if binary != name or PORTS.get(binary) is None:
            fail(f"deploy/k8s: {name} runs {binary}")
        env = {e["name"]: e for e in container.get("env", [])}
        if env.get("PORT", {}).get("value") != str(PORTS[binary]):
            fail(f"deploy/k8s: {name} must set PORT={PORTS[binary]}")
        if [p["containerPort"] for p in container["ports"]] != [PORTS[binary]]:
            fail(f"deploy/k8s: {name} must expose port {PORTS[binary]} only")
        required, optional = SECRETS[name]
        got_required, got_optional = set(), set()
        for e in env.values():
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                if ref["key"] not in secret_keys:
                    fail(f"deploy/k8s: {name} reads {ref['key']}, which secret.example.yaml lacks")
                (got_optional if ref.get("optional") else got_required).add(ref["key"])
        used_secrets |= got_required | got_optional
        if got_required != required or got_optional != optional:
            fail(f"deploy/k8s: {name} must read exactly the secrets it uses: required "
                 f"{sorted(required)}, optional {sorted(optional)}; it reads required "
                 f"{sorted(got_required)}, optional {sorted(got_optional)}")
        for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health"), ("startupProbe", "/health")):
            got = container.get(probe, {}).get("httpGet", {}).get("path")
            if got != path:
                fail(f"deploy/k8s: {name}: {probe} must GET {path}, not {got}")
        if spec.get("terminationGracePeriodSeconds", 30) < 35:
            fail(f"deploy/k8s: {name}: terminationGracePeriodSeconds must be at least 35 (30 s drain)")
        inits = spec.get("initContainers", [])
        if [c.get("command") for c in inits] != [["prm", "migrate"]]:
            fail(f"deploy/k8s: {name} must migrate in one init container running `prm migrate`")
        init_secrets = {e["valueFrom"]["secretKeyRef"]["key"] for e in inits[0].get("env", [])
                        if "secretKeyRef" in e.get("valueFrom", {})}
        if init_secrets != {"DATABASE_URL"}:
            fail(f"deploy/k8s: {name}: the migrate init container needs DATABASE_URL only, not {sorted(init_secrets)}")
        for c in inits + [container]:
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False):
                fail(f"deploy/k8s: {name}/{c['name']} must have a read-only root and no privilege escalation")
        if name in AUTOSCALED and "replicas" in dep["spec"]:
            fail(f"deploy/k8s: {name} is autoscaled; `replicas` would reset the HPA at every apply")
    unused = secret_keys - used_secrets
    if unused:
        fail(f"deploy/k8s: secret.example.yaml has keys no Deployment reads: {sorted(unused)}")
    print(f"specs: deploy/k8s: {len(documented)} variables of .env.example: {len(config_keys)} in the "
          f"ConfigMap, {len(secret_keys)} in the Secret, {len(K8S_SET_ELSEWHERE)} set per Deployment or image")
    print("specs: deploy/k8s: " + "; ".join(
        f"{n} reads {len(SECRETS[n][0])}+{len(SECRETS[n][1])} secrets" for n in sorted(SECRETS))
        + " (exactly those it uses); each migrates in an init container and probes /ready and /health")

    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind.get("HorizontalPodAutoscaler", [])}
    if set(hpas) != AUTOSCALED:
        fail(f"deploy/k8s: HorizontalPodAutoscalers for {sorted(hpas)}, expected {sorted(AUTOSCALED)}")
    for name, hpa in hpas.items():
        if hpa["spec"].get("minReplicas", 1) < 2:
            fail(f"deploy/k8s: the HPA of {name} must keep at least 2 replicas")

    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    routed = {}
    for ing in by_kind.get("Ingress", []):
        size = ing["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/proxy-body-size")
        if body_size_bytes(size) < MIN_BODY_BYTES:
            fail(f"deploy/k8s: Ingress {ing['metadata']['name']} must accept bodies of 2 MiB and "
                 f"more (nginx.ingress.kubernetes.io/proxy-body-size), not {size}")
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                if backend["name"] not in services:
                    fail(f"deploy/k8s: the ingress routes {path['path']} to missing Service {backend['name']}")
                ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                if backend["port"].get("name") not in ports:
                    fail(f"deploy/k8s: the ingress uses port {backend['port']} of {backend['name']}")
                routed[path["path"]] = backend["name"]
    if any(routed.get(prefix) != service for prefix, service in ROUTES.items()):
        fail(f"deploy/k8s: public routes {routed}, expected at least {ROUTES}")

    policies = by_kind.get("NetworkPolicy", [])
    if not any(p["spec"].get("podSelector") == {} and p["spec"].get("policyTypes") == ["Ingress"]
               and not p["spec"].get("ingress") for p in policies):
        fail("deploy/k8s: a NetworkPolicy must deny ingress to every pod by default")

    monitors = by_kind.get("ServiceMonitor", [])
    if not monitors:
        fail("deploy/k8s-monitoring: no ServiceMonitor")
    for sm in monitors:
        selector = sm["spec"]["selector"]["matchLabels"]
        for name in SECRETS:
            labels = services[name]["metadata"].get("labels", {})
            if any(labels.get(k) != v for k, v in selector.items()):
                fail(f"deploy/k8s-monitoring: ServiceMonitor {sm['metadata']['name']} does not select Service {name}")
        if not any(e.get("port") == "http" and e.get("path") == "/metrics" for e in sm["spec"]["endpoints"]):
            fail("deploy/k8s-monitoring: the ServiceMonitor must scrape port http, path /metrics")
    print(f"specs: deploy/k8s: HPA for {sorted(AUTOSCALED)}; ingress routes {len(routed)} paths "
          f"with bodies up to 2 MiB+; default-deny NetworkPolicy; ServiceMonitor scrapes /metrics "
          f"of all {len(SECRETS)} Services")

    # kustomization.yaml lists every manifest here except the Secret example.
    kust = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))
    listed = set(kust.get("resources", []))
    files = {os.path.basename(p) for p in glob.glob("deploy/k8s/*.yaml")} - {"kustomization.yaml"}
    if "secret.example.yaml" in listed:
        fail("deploy/k8s/kustomization.yaml must not list secret.example.yaml (placeholders)")
    if files - listed - {"secret.example.yaml"} or listed - files:
        fail(f"deploy/k8s/kustomization.yaml lists {sorted(listed)}; the folder has {sorted(files)}")
    print(f"specs: deploy/k8s/kustomization.yaml lists all {len(listed)} manifests, not secret.example.yaml")


if __name__ == "__main__":
    if sys.argv[1:2] == ["compose"]:
        check_compose()
    elif sys.argv[1:2] == ["k8s"] and len(sys.argv) == 3:
        check_k8s(sys.argv[2])
    else:
        sys.exit("usage: check-deploy.py compose | k8s RENDERED.yaml")
