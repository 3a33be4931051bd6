#!/usr/bin/python3
"""test_deploy.py - validate deploy/: parse the Kubernetes manifests and
assert kinds, images, probes on /healthz and /readyz, metrics ports that
match the programs' --metrics-port, Services and ServiceMonitors that select
the Deployments' pods and name their ports, the scaler's RBAC covering
deployments/scale, KEDA's query naming a metric the scaler exports; the
Grafana dashboard's JSON and that each metric it plots exists in the
sources; the systemd units' hardening, `systemd-analyze verify` when there
is one, and a short real run of every command (Deployments and units) with
the ConfigMap's swarm.conf: each must get past option parsing (exit code not
2, no "unknown" option or key).

usage: test_deploy.py SOURCE_DIR BUILD_DIR
"""
import json, os, re, shlex, shutil, subprocess, sys, tempfile
import yaml

src, build = sys.argv[1], sys.argv[2]
dep = os.path.join(src, "deploy")
bins = {"swarm-consumer": os.path.join(build, "consumer", "swarm-consumer"),
        "swarm-scaler": os.path.join(build, "scaler", "swarm-scaler")}
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


docs = []
for f in sorted(os.listdir(os.path.join(dep, "kubernetes"))):
    if f.endswith(".yaml"):
        with open(os.path.join(dep, "kubernetes", f)) as fh:
            for d in yaml.safe_load_all(fh):
                if d:
                    docs.append((f, d))
kinds = {}
for f, d in docs:
    kinds.setdefault(d["kind"], []).append(d)
for k in ["Namespace", "ConfigMap", "Secret", "Deployment", "Service", "ServiceMonitor",
          "ServiceAccount", "Role", "RoleBinding", "ScaledObject", "Kustomization"]:
    check(k in kinds, "kind %s present" % k)
deps = {d["metadata"]["name"]: d for d in kinds.get("Deployment", [])}
check(set(deps) == {"swarm-worker", "swarm-scaler"}, "Deployments: %s" % sorted(deps))
kust = kinds["Kustomization"][0]
for r in kust["resources"]:
    check(os.path.exists(os.path.join(dep, "kubernetes", r)), "kustomization resource %s exists" % r)

conf_text = kinds["ConfigMap"][0]["data"]["swarm.conf"]
ports = {}
for name, d in deps.items():
    pod = d["spec"]["template"]
    check(d["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(),
          "%s: selector matches its pods" % name)
    c = pod["spec"]["containers"][0]
    check(re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+", c["image"]) is not None,
          "%s: image pinned to a version (%s)" % (name, c["image"]))
    args = c["args"]
    mp = int(args[args.index("--metrics-port") + 1])
    cport = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(cport.get("metrics") == mp, "%s: container port 'metrics' = --metrics-port %d" % (name, mp))
    check(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"},
          "%s: liveness probe on /healthz" % name)
    check(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"},
          "%s: readiness probe on /readyz" % name)
    check(c["command"][0] in bins, "%s: runs a Swarm program" % name)
    ports[name] = (pod["metadata"]["labels"], mp)
    env = {e["name"]: e for e in c.get("env", [])}
    sec = kinds["Secret"][0]["stringData"]
    for e in env.values():
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            check(ref["name"] == kinds["Secret"][0]["metadata"]["name"] and ref["key"] in sec,
                  "%s: env %s from an existing secret key" % (name, e["name"]))
for s in kinds["Service"]:
    match = [n for n, (labels, _) in ports.items() if s["spec"]["selector"].items() <= labels.items()]
    check(len(match) == 1, "Service %s selects one Deployment" % s["metadata"]["name"])
    if match:
        check(s["spec"]["ports"][0]["port"] == ports[match[0]][1],
              "Service %s port = metrics port" % s["metadata"]["name"])
svc_labels = [s["metadata"]["labels"] for s in kinds["Service"]]
for m in kinds["ServiceMonitor"]:
    sel = m["spec"]["selector"]["matchLabels"]
    check(any(sel.items() <= l.items() for l in svc_labels), "ServiceMonitor %s selects a Service" % m["metadata"]["name"])
    check(m["spec"]["endpoints"][0]["port"] == "metrics" and m["spec"]["endpoints"][0]["path"] == "/metrics",
          "ServiceMonitor %s scrapes metrics:/metrics" % m["metadata"]["name"])
role = kinds["Role"][0]
check(any("deployments/scale" in r["resources"] and {"update", "patch"} & set(r["verbs"])
          for r in role["rules"]), "Role allows scaling deployments/scale")
rb = kinds["RoleBinding"][0]
sa = deps["swarm-scaler"]["spec"]["template"]["spec"]["serviceAccountName"]
check(rb["roleRef"]["name"] == role["metadata"]["name"] and rb["subjects"][0]["name"] == sa,
      "RoleBinding binds the Role to the scaler's ServiceAccount")
sargs = deps["swarm-scaler"]["spec"]["template"]["spec"]["containers"][0]["args"]
check(sargs[sargs.index("--actuator") + 1] == "exec" and
      "deployment/swarm-worker" in sargs[sargs.index("--exec") + 1] and "{n}" in sargs[sargs.index("--exec") + 1],
      "scaler's exec actuator scales deployment/swarm-worker")
so = kinds["ScaledObject"][0]
check(so["spec"]["scaleTargetRef"]["name"] == "swarm-worker", "ScaledObject targets swarm-worker")

# every metric a query names exists in the sources
code = ""
for d in ["consumer", "scaler", "lib/core"]:
    for root, _, files in os.walk(os.path.join(src, d)):
        for f in files:
            if f.endswith(".c"):
                code += open(os.path.join(root, f)).read()
def metric_ok(expr, where):
    for m in set(re.findall(r"\b(swarm_[a-z_]+)", expr)):
        base = re.sub(r"_(bucket|sum|count)$", "", m)
        check('"%s"' % base in code or '"%s"' % m in code, "%s: metric %s is exported" % (where, m))
metric_ok(so["spec"]["triggers"][0]["metadata"]["query"], "keda.yaml")

dash = json.load(open(os.path.join(dep, "grafana", "swarm-dashboard.json")))
check(len(dash["panels"]) >= 8, "dashboard has its panels")
for p in dash["panels"]:
    for t in p["targets"]:
        metric_ok(t["expr"], "dashboard panel '%s'" % p["title"])
check(any("swarm_worker_" in t["expr"] for p in dash["panels"] for t in p["targets"]) and
      any("swarm_scaler_" in t["expr"] for p in dash["panels"] for t in p["targets"]),
      "dashboard covers worker and scaler metrics")

# systemd units
units = {}
for f in ["swarm-consumer@.service", "swarm-scaler.service"]:
    text = open(os.path.join(dep, "systemd", f)).read()
    kv = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            kv[k.strip()] = v.strip()
    units[f] = (text, kv)
    for k, v in [("DynamicUser", "yes"), ("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"),
                 ("ProtectHome", "yes"), ("PrivateTmp", "yes")]:
        check(kv.get(k) == v, "%s: %s=%s" % (f, k, v))
    check(kv.get("KillSignal") == "SIGTERM", "%s: stops with SIGTERM" % f)

tmp = tempfile.mkdtemp(prefix="swarm-deploy.")
conf = os.path.join(tmp, "swarm.conf")
# the ConfigMap's file, pointed at a broker that is not there
open(conf, "w").write(re.sub(r"bootstrap.servers=.*", "bootstrap.servers=127.0.0.1:1", conf_text))
env = dict(os.environ, SWARM_REGISTRY="host=127.0.0.1 port=1 dbname=none connect_timeout=2",
           SWARM_SASL_PASSWORD="x", SWARM_MODEL="fashion")


def run(argv, where):
    argv = [bins.get(a, a) for a in argv]
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=8)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = "timeout", (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    bad = rc == 2 or re.search(r"unknown (option|configuration key)|unexpected argument", err)
    check(not bad, "%s: %s got past option parsing (rc=%s) %s" % (where, " ".join(argv[:3]), rc, err.strip()[-300:]))
    print("  %s: rc=%s" % (where, rc))

for name, d in deps.items():
    c = d["spec"]["template"]["spec"]["containers"][0]
    args = [a.replace("$(SWARM_SASL_PASSWORD)", "x").replace("/etc/swarm/swarm.conf", conf) for a in c["args"]]
    args = [a.replace("/var/lib/swarm", tmp) for a in args]
    run(c["command"] + args, "Deployment " + name)
for f, (text, kv) in units.items():
    cmd = kv["ExecStart"].replace("%i", "fashion").replace("${STATE_DIRECTORY}", tmp)
    cmd = cmd.replace("/etc/swarm/swarm.conf", conf).replace("/usr/local/bin/", "")
    run(shlex.split(cmd), "unit " + f)
    # the program's own identity, as an operator checks it after installing
    prog = shlex.split(cmd)[0]
    out = subprocess.run([bins[prog], "--version"], capture_output=True, text=True).stdout
    check(out.startswith(prog + " "), "%s: %s --version" % (f, prog))

sa_tool = shutil.which("systemd-analyze")
if sa_tool:
    vdir = os.path.join(tmp, "units")
    os.makedirs(vdir)
    for f, (text, kv) in units.items():
        t = text.replace("/usr/local/bin/swarm-consumer", bins["swarm-consumer"])
        t = t.replace("/usr/local/bin/swarm-scaler", bins["swarm-scaler"])
        open(os.path.join(vdir, f.replace("@.", "@fashion.") if "@" in f else f), "w").write(t)
    for f in os.listdir(vdir):
        p = subprocess.run([sa_tool, "verify", os.path.join(vdir, f)], capture_output=True, text=True)
        # verify also complains about the host's own units; only ours count
        ours = [l for l in (p.stdout + p.stderr).splitlines() if "swarm-" in l]
        check(not ours, "systemd-analyze verify %s: %s" % (f, "; ".join(ours)))
        print("  systemd-analyze verify %s: %s" % (f, "clean" if not ours else "issues"))
else:
    print("  systemd-analyze not found: unit syntax not verified")
shutil.rmtree(tmp)
if fails:
    print("%d check(s) failed" % len(fails))
    sys.exit(1)
print("ok")
