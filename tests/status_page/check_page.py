#!/usr/bin/python3
"""check_page.py - open the scaler's status page in headless Chromium, wait
until the chart has N samples, and compare every number the page shows with
/metrics fetched around the same moment (retried until no poll happened in
between).

usage: check_page.py PORT MIN_SAMPLES EXPECT_MODELS_JSON SCREENSHOT
"""
import json, re, subprocess, sys, time, urllib.request
from html.parser import HTMLParser

port, min_samples, models, shot = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
base = "http://127.0.0.1:%s" % port
CHROME = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--no-first-run", "--user-data-dir=/tmp/swarm-chromium-%s" % port]


def metrics():
    text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.stack, self.parts, self.models = {}, [], {}, {}
        self.svg = {}
        self.polylines = {}
        self.decisions = []
        self._cur = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append((tag, a))
        if tag == "svg" and a.get("id") == "chart":
            self.svg = a
        if tag == "polyline":
            self.polylines[a.get("id")] = a.get("points", "").split()
        if tag == "circle" and "decision" in a.get("class", ""):
            self.decisions.append(a.get("data-reason"))
        if tag == "tr" and "data-partition" in a:
            self._cur = ("part", int(a["data-partition"]), "stuck" in a.get("class", ""))
            self.parts[self._cur[1]] = {"stuck": self._cur[2]}
        if tag == "tr" and a.get("class") == "member":
            self.members_listed = getattr(self, "members_listed", 0) + 1
        if tag == "tr" and "data-model" in a:
            self._cur = ("model", a["data-model"])
            self.models[a["data-model"]] = {}

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag == "tr":
            self._cur = None

    def handle_data(self, data):
        if not self.stack or not data.strip():
            return
        tag, a = self.stack[-1]
        if a.get("id"):
            self.ids[a["id"]] = self.ids.get(a["id"], "") + data.strip()
        if self._cur and tag == "td" and a.get("class"):
            c = a["class"].split()[0]
            if self._cur[0] == "part":
                self.parts[self._cur[1]][c] = data.strip()
            else:
                self.models[self._cur[1]][c] = data.strip()


def dump():
    p = subprocess.run(CHROME + ["--virtual-time-budget=3000", "--dump-dom", base + "/"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0 or "<html" not in p.stdout:
        sys.exit("chromium failed (rc %d): %s" % (p.returncode, p.stderr[-800:]))
    pg = Page()
    pg.feed(p.stdout)
    return pg


fails = []
def check(c, what):
    if not c:
        fails.append(what)
        print("FAIL:", what)

# wait for the chart
deadline = time.time() + 90
while True:
    pg = dump()
    if pg.svg and int(pg.svg.get("data-samples", 0)) >= min_samples and \
            len(pg.polylines.get("workers-line", [])) >= 2:
        break
    if time.time() > deadline:
        sys.exit("the chart never had %d samples: %s" % (min_samples, pg.svg))
    time.sleep(1)
print("chart: %s samples, %d decision markers (%s)" % (
    pg.svg["data-samples"], len(pg.decisions), ", ".join(sorted(set(pg.decisions)))))

# A page load takes longer than a poll, so compare when the values the page
# shows were the same in /metrics before and after it was rendered.
def shown(m):
    return {k: v for k, v in m.items()
            if not re.match(r"swarm_scaler_(polls_total|poll_duration|poll_errors|decisions_total)", k)}
for attempt in range(60):
    m1 = metrics()
    pg = dump()
    m2 = metrics()
    if shown(m1) == shown(m2):
        break
    time.sleep(0.5)
else:
    a, b = shown(m1), shown(m2)
    sys.exit("the values never held still over a page load: %s" %
             sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)))
m = m2
g = lambda n: m[n]
check(int(pg.ids["workers"]) == g("swarm_scaler_workers"), "workers %s vs %s" % (pg.ids["workers"], g("swarm_scaler_workers")))
check(int(pg.ids["desired"]) == g("swarm_scaler_desired_workers"), "desired")
check(int(pg.ids["members"]) == g("swarm_scaler_group_members"), "members")
check(int(pg.ids["lag"]) == g("swarm_scaler_lag"), "lag %s vs %s" % (pg.ids["lag"], g("swarm_scaler_lag")))
check(abs(float(pg.ids["lag-seconds"]) - g("swarm_scaler_lag_seconds")) < 0.051, "lag seconds")
check(abs(float(pg.ids["arrival-rate"]) - g("swarm_scaler_arrival_rate")) < 0.051, "arrival rate")
check(abs(float(pg.ids["consumption-rate"]) - g("swarm_scaler_consumption_rate")) < 0.051, "consumption rate")
check(int(pg.ids["stuck"]) == g("swarm_scaler_stuck_partitions"), "stuck")
check(getattr(pg, "members_listed", 0) == g("swarm_scaler_group_members"),
      "members listed %d vs %s" % (getattr(pg, "members_listed", 0), g("swarm_scaler_group_members")))
nparts = 0
for k, v in m.items():
    mm = re.match(r'swarm_scaler_partition_lag\{topic="([^"]+)",partition="(\d+)"\}', k)
    if mm:
        nparts += 1
        i = int(mm.group(2))
        check(i in pg.parts, "partition %d listed" % i)
        if i in pg.parts:
            check(int(pg.parts[i]["lag"]) == v, "partition %d lag %s vs %s" % (i, pg.parts[i]["lag"], v))
            hw = m['swarm_scaler_partition_high_watermark{topic="%s",partition="%d"}' % (mm.group(1), i)]
            check(int(pg.parts[i]["high"]) == hw, "partition %d high watermark" % i)
            st = m['swarm_scaler_partition_stuck{topic="%s",partition="%d"}' % (mm.group(1), i)]
            check(pg.parts[i]["stuck"] == bool(st), "partition %d stuck flag" % i)
check(nparts == len(pg.parts) and nparts > 0, "%d partitions on the page, %d in /metrics" % (len(pg.parts), nparts))
# the decisions on the chart are ones /metrics counted
counted = {re.search(r'reason="([^"]+)"', k).group(1) for k, v in m.items()
           if k.startswith("swarm_scaler_decisions_total{") and v > 0}
check(set(pg.decisions) <= counted, "chart reasons %s within counted %s" % (set(pg.decisions), counted))
for name, want in models.items():
    check(name in pg.models, "model %s listed" % name)
    if name in pg.models:
        check(pg.models[name].get("production") == want[0] and pg.models[name].get("staging") == want[1],
              "model %s versions %s, want %s" % (name, pg.models[name], want))
print("page vs /metrics: workers=%s desired=%s members=%s lag=%s stuck=%s partitions=%d models=%s" % (
    pg.ids["workers"], pg.ids["desired"], pg.ids["members"], pg.ids["lag"], pg.ids["stuck"],
    len(pg.parts), json.dumps(pg.models)))
subprocess.run(CHROME + ["--virtual-time-budget=2000", "--window-size=1000,1500",
                         "--screenshot=%s" % shot, base + "/"], capture_output=True, timeout=60)
if fails:
    sys.exit("%d check(s) failed" % len(fails))
print("ok")
