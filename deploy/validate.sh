#!/usr/bin/env bash
# Offline validation of the deployment files: docker-compose.yml, deploy/Dockerfile and
# .dockerignore, the Kubernetes manifests and the Prometheus configuration.
# Usage: bash deploy/validate.sh   (CI and `make deploy-check`)
# Installs docker-compose and promtool (both required) through apt-get. promtool comes from
# Debian's prometheus package: Prometheus 2.x like the compose stack's image, and no
# compiling (building it from source took minutes on an empty cache).
# Exits non-zero on any validation failure.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
fail=0
step() { printf '==> %s\n' "$*"; }
skip() { printf '    SKIP: %s\n' "$*"; }
bad() { printf '    FAIL: %s\n' "$*" >&2; fail=1; }

apt_install() { # apt_install PKG...: install; refresh the index only if the first try fails
  command -v apt-get >/dev/null || return 1
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 && return 0
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

# --- docker-compose.yml ------------------------------------------------------------------
step "docker-compose config"
if ! command -v docker-compose >/dev/null; then
  echo "    installing docker-compose"
  apt_install docker-compose || { echo "FAIL: cannot install docker-compose" >&2; exit 1; }
fi
if docker-compose -f docker-compose.yml config -q; then
  echo "    OK: docker-compose.yml"
else
  bad "docker-compose.yml"
fi

# --- YAML, Kubernetes manifests, Dockerfile, .dockerignore --------------------------------
step "YAML and Kubernetes manifests"
py=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import yaml' 2>/dev/null; then py=$cand; break; fi
done
if [ -z "$py" ] && command -v /usr/bin/python3 >/dev/null && apt-cache policy python3-yaml 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  echo "    installing python3-yaml"
  apt_install python3-yaml && /usr/bin/python3 -c 'import yaml' 2>/dev/null && py=/usr/bin/python3
fi
if [ -z "$py" ]; then
  skip "no python3 with the yaml module"
else
  "$py" - <<'PY' || fail=1
import glob, os, re, sys, yaml

errors = []
def err(msg): errors.append(msg)

# Every YAML file under deploy/ and the compose file must parse.
files = sorted(set(glob.glob("deploy/**/*.yaml", recursive=True) + glob.glob("deploy/**/*.yml", recursive=True)))
docs_by_file = {}
for f in files + ["docker-compose.yml"]:
    try:
        with open(f) as fh:
            docs_by_file[f] = [d for d in yaml.safe_load_all(fh) if d is not None]
    except yaml.YAMLError as e:
        err(f"{f}: {e}")
print(f"    parsed {len(docs_by_file)} YAML files")

# Kubernetes: every document names apiVersion, kind and metadata.name; references resolve.
k8s = [(f, d) for f, ds in docs_by_file.items() if f.startswith("deploy/kubernetes/") for d in ds]
objs = {}
for f, d in k8s:
    if not isinstance(d, dict):
        err(f"{f}: document is not a mapping"); continue
    kind, name = d.get("kind"), (d.get("metadata") or {}).get("name")
    if not d.get("apiVersion") or not kind:
        err(f"{f}: document without apiVersion/kind"); continue
    if kind == "Kustomization":
        for r in d.get("resources", []):
            if not os.path.exists(os.path.join("deploy/kubernetes", r)):
                err(f"{f}: resource {r} does not exist")
        listed = {os.path.join("deploy/kubernetes", r) for r in d.get("resources", [])}
        for other in docs_by_file:
            if other.startswith("deploy/kubernetes/") and other != f and other not in listed:
                err(f"{f}: {other} is not listed in resources")
        continue
    if not name:
        err(f"{f}: {kind} without metadata.name"); continue
    if (kind, name) in objs:
        err(f"{f}: duplicate {kind}/{name}")
    objs[(kind, name)] = (f, d)

want_api = {"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1", "Namespace": "v1",
            "HorizontalPodAutoscaler": "autoscaling/v2", "PodDisruptionBudget": "policy/v1",
            "NetworkPolicy": "networking.k8s.io/v1"}
def matches(sel, labels): return bool(sel) and all(labels.get(k) == v for k, v in sel.items())

deployments = {n: d for (k, n), (_, d) in objs.items() if k == "Deployment"}
for (kind, name), (f, d) in objs.items():
    where = f"{f}: {kind}/{name}"
    if kind in want_api and d["apiVersion"] != want_api[kind]:
        err(f"{where}: apiVersion {d['apiVersion']}, want {want_api[kind]}")
    spec = d.get("spec") or {}
    if kind == "Deployment":
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        tmpl = spec.get("template") or {}
        if not matches(sel, (tmpl.get("metadata") or {}).get("labels") or {}):
            err(f"{where}: selector does not match the pod template labels")
        pod = tmpl.get("spec") or {}
        psc = pod.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            err(f"{where}: pod securityContext.runAsNonRoot is not true")
        vols = {v.get("name") for v in pod.get("volumes", [])}
        for c in pod.get("containers", []):
            cw = f"{where} container {c.get('name')}"
            ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
            sc = c.get("securityContext") or {}
            if sc.get("readOnlyRootFilesystem") is not True:
                err(f"{cw}: readOnlyRootFilesystem is not true")
            if sc.get("runAsNonRoot") is False:
                err(f"{cw}: runAsNonRoot is false")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(part) or {}):
                        err(f"{cw}: resources.{part}.{r} missing")
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    err(f"{cw}: no {probe}")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                p = c.get(probe)
                if not p:
                    continue
                handlers = [h for h in ("grpc", "httpGet", "tcpSocket", "exec") if h in p]
                if len(handlers) != 1:
                    err(f"{cw}: {probe} needs exactly one handler, has {handlers}")
                    continue
                port = p[handlers[0]].get("port") if handlers[0] != "exec" else None
                if handlers[0] == "grpc" and not isinstance(port, int):
                    err(f"{cw}: {probe}.grpc.port must be a number")
                if isinstance(port, str) and port not in ports:
                    err(f"{cw}: {probe} names unknown port {port}")
                if isinstance(port, int) and port not in ports.values():
                    err(f"{cw}: {probe} port {port} is not a container port")
            envnames = [e.get("name") for e in c.get("env", [])]
            if len(envnames) != len(set(envnames)):
                err(f"{cw}: duplicate env names")
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if e.get("name") == "DATABASE_URL" and ref != {"name": "vcci-db", "key": "url"}:
                    err(f"{cw}: DATABASE_URL must come from secretKeyRef vcci-db/url")
            for ef in c.get("envFrom", []):
                cm = (ef.get("configMapRef") or {}).get("name")
                if cm and ("ConfigMap", cm) not in objs:
                    err(f"{cw}: envFrom ConfigMap {cm} is not defined")
            for m in c.get("volumeMounts", []):
                if m.get("name") not in vols:
                    err(f"{cw}: volumeMount {m.get('name')} has no volume")
    elif kind == "Service":
        sel = spec.get("selector") or {}
        targets = [dd for dd in deployments.values()
                   if matches(sel, ((dd["spec"]["template"].get("metadata") or {}).get("labels") or {}))]
        if not targets:
            err(f"{where}: selector matches no Deployment")
        for p in spec.get("ports", []):
            tp = p.get("targetPort", p.get("port"))
            for dd in targets:
                names = {pp.get("name"): pp.get("containerPort") for c in dd["spec"]["template"]["spec"]["containers"] for pp in c.get("ports", [])}
                if (isinstance(tp, str) and tp not in names) or (isinstance(tp, int) and tp not in names.values()):
                    err(f"{where}: targetPort {tp} not exposed by Deployment {dd['metadata']['name']}")
    elif kind == "HorizontalPodAutoscaler":
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") != "Deployment" or ref.get("name") not in deployments:
            err(f"{where}: scaleTargetRef {ref} is not a Deployment defined here")
        if not (1 <= spec.get("minReplicas", 1) <= spec.get("maxReplicas", 0)):
            err(f"{where}: minReplicas/maxReplicas out of order")
    elif kind == "PodDisruptionBudget":
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        if not any(matches(sel, (dd["spec"]["template"].get("metadata") or {}).get("labels") or {}) for dd in deployments.values()):
            err(f"{where}: selector matches no Deployment")

# NetworkPolicies: ingress is denied by default; each rule's pods and named ports exist; the
# gRPC port of a service admits exactly the gateway and the services whose code dials it
# (env.Peer("<name>") in services/<caller>/server).
def pod_labels(dd): return (dd["spec"]["template"].get("metadata") or {}).get("labels") or {}
def container_ports(dd): return {pp.get("name") for c in dd["spec"]["template"]["spec"]["containers"] for pp in c.get("ports", [])}
policies = {n: d for (k, n), (_, d) in objs.items() if k == "NetworkPolicy"}
if policies:
    if not any(not (p["spec"].get("podSelector") or {}) and "Ingress" in p["spec"].get("policyTypes", []) and not p["spec"].get("ingress")
               for p in policies.values()):
        err("deploy/kubernetes: NetworkPolicies but no default deny of ingress (podSelector {}, no ingress rules)")
    callers = {}
    for f in glob.glob("services/*/server/*.go"):
        caller = f.split("/")[1]
        for callee in re.findall(r'env\.Peer\("(\w+)"\)', open(f).read()):
            callers.setdefault(callee, set()).add(caller)
    admitted = {}  # deployment -> port name -> names of deployments admitted
    for name, p in policies.items():
        where = f"NetworkPolicy/{name}"
        sel = (p["spec"].get("podSelector") or {}).get("matchLabels") or {}
        if not sel:
            continue
        targets = [n for n, dd in deployments.items() if matches(sel, pod_labels(dd))]
        if not targets:
            err(f"{where}: podSelector matches no Deployment")
        for rule in p["spec"].get("ingress", []):
            froms = rule.get("from")
            sources = []
            for src in froms or []:
                ps = (src.get("podSelector") or {}).get("matchLabels") or {}
                if "namespaceSelector" in src or "ipBlock" in src:
                    sources.append("(elsewhere)")
                    continue
                hit = [n for n, dd in deployments.items() if matches(ps, pod_labels(dd))]
                if not hit:
                    err(f"{where}: from podSelector {ps} matches no Deployment")
                sources += hit
            for port in rule.get("ports", []):
                for t in targets:
                    if isinstance(port.get("port"), str) and port["port"] not in container_ports(deployments[t]):
                        err(f"{where}: port {port['port']} is not a named port of {t}")
                    admitted.setdefault(t, {}).setdefault(port.get("port"), set()).update(sources if froms else {"(anywhere)"})
    for n, dd in deployments.items():
        if n not in admitted:
            err(f"Deployment/{n}: no NetworkPolicy admits anything to it")
        elif n == "gateway":
            if admitted[n].get("http") != {"(anywhere)"}:
                err(f"Deployment/gateway: its http port should admit anyone, admits {admitted[n].get('http')}")
        else:
            want = {"gateway"} | callers.get(n, set())
            if admitted[n].get("grpc", set()) != want:
                err(f"Deployment/{n}: grpc admits {sorted(admitted[n].get('grpc', set()))}, the code's callers are {sorted(want)}")
            if admitted[n].get("metrics") != {"(elsewhere)"}:
                err(f"Deployment/{n}: metrics admits {admitted[n].get('metrics')}, want Prometheus only")
    print(f"    checked {len(policies)} NetworkPolicies against the peer calls in services/*/server")
print(f"    checked {len(k8s)} Kubernetes documents ({len(deployments)} Deployments)")

# Dockerfile: every deployable in docker-compose.yml has a build path in deploy/Dockerfile.
dockerfile = open("deploy/Dockerfile").read()
if not re.search(r"^ARG SERVICE\b", dockerfile, re.M):
    err("deploy/Dockerfile: no ARG SERVICE")
compose = docs_by_file.get("docker-compose.yml", [{}])[0]
for svc, conf in (compose.get("services") or {}).items():
    b = conf.get("build")
    if not b:
        continue
    arg = (b.get("args") or {}).get("SERVICE")
    if not arg or not re.search(r"(^|[\s|(])" + re.escape(arg) + r"[|)]", dockerfile):
        err(f"docker-compose.yml: {svc}: build arg SERVICE={arg} has no case in deploy/Dockerfile")
    src = "gateway" if arg == "gateway" else f"services/{arg}"
    if not os.path.isfile(os.path.join(src, "go.mod")):
        err(f"docker-compose.yml: {svc}: {src}/go.mod does not exist")

# Only the gateway is published beyond the host: the rest ask for no real secret.
for svc, conf in (compose.get("services") or {}).items():
    for port in conf.get("ports", []):
        if svc != "gateway" and not str(port).startswith("127.0.0.1:"):
            err(f"docker-compose.yml: {svc}: port {port} is published on every interface, want 127.0.0.1:{port}")

# .dockerignore must not drop files the binaries embed (//go:embed), e.g. the factor CSV.
def ignore_rules():
    rules = []
    if not os.path.exists(".dockerignore"):
        return rules
    for line in open(".dockerignore"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = os.path.normpath(line.lstrip("!").strip().lstrip("/"))
        rx = ""
        i = 0
        while i < len(pat):
            if pat.startswith("**", i):
                rx += ".*"; i += 2
                if pat.startswith("/", i): rx = rx[:-2] + "(.*/)?"; i += 1
            elif pat[i] == "*": rx += "[^/]*"; i += 1
            elif pat[i] == "?": rx += "[^/]"; i += 1
            else: rx += re.escape(pat[i]); i += 1
        rules.append((re.compile("^" + rx + "$"), neg))
    return rules
rules = ignore_rules()
def ignored(path):
    parts = path.split("/")
    out = False
    for rx, neg in rules:
        if any(rx.match("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            out = not neg
    return out
embedded = 0
for root, dirs, fs in os.walk("."):
    dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("bin", "node_modules")]
    for fn in fs:
        if not fn.endswith(".go") or fn.endswith("_test.go"):
            continue
        gofile = os.path.join(root, fn)
        for m in re.finditer(r"^//go:embed\s+(.+)$", open(gofile, errors="replace").read(), re.M):
            for pat in m.group(1).split():
                for hit in glob.glob(os.path.join(root, pat.strip('"`'))):
                    rel = os.path.relpath(hit, ".")
                    embedded += 1
                    if ignored(rel):
                        err(f".dockerignore excludes {rel}, embedded by {os.path.relpath(gofile)}")
print(f"    checked {embedded} go:embed inputs against .dockerignore")

for e in errors:
    print("    FAIL: " + e, file=sys.stderr)
if not errors:
    print("    OK: YAML, Kubernetes manifests, Dockerfile, .dockerignore")
sys.exit(1 if errors else 0)
PY
fi

if command -v kubectl >/dev/null; then
  if kubectl kustomize deploy/kubernetes >/dev/null; then
    echo "    OK: kubectl kustomize deploy/kubernetes"
  else
    bad "kubectl kustomize deploy/kubernetes"
  fi
else
  skip "kubectl not installed: kustomize build not checked"
fi

# --- Prometheus -----------------------------------------------------------------------------
step "Prometheus rules and config"
# PROMTOOL overrides it, e.g. on a machine without apt-get.
promtool=${PROMTOOL:-/usr/bin/promtool}
if [ ! -x "$promtool" ] && [ -z "${PROMTOOL:-}" ]; then
  echo "    installing promtool (Debian package prometheus)"
  # The package's postinst would start a Prometheus server on :9090; a policy-rc.d that
  # answers 101 forbids it. Keep one the machine already has (container images ship one).
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ] && [ -w /usr/sbin ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt_install prometheus || true
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  # Under systemd the package also enables the unit for the next boot.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi
[ -x "$promtool" ] || { echo "FAIL: no promtool at $promtool" >&2; exit 1; }
echo "    $("$promtool" --version 2>&1 | head -1)"
"$promtool" check rules deploy/prometheus/alerts.yaml || bad "promtool check rules"
"$promtool" check config deploy/prometheus/prometheus.yml || bad "promtool check config"
"$promtool" test rules deploy/prometheus/alerts_test.yaml || bad "promtool test rules"

if [ "$fail" -ne 0 ]; then
  echo "deploy/validate.sh: FAILED" >&2
  exit 1
fi
echo "deploy/validate.sh: all checks passed"
