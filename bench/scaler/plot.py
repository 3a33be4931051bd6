#!/usr/bin/python3
"""plot.py CSV_DIR OUT.svg - workers and lag over time, one row per trace,
swarm (defaults, drain target 10 s) vs KEDA (defaults, tuned), at phase
offset 0, from sim's --csv output."""
import csv
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

src, out = sys.argv[1], sys.argv[2]
traces = ["burst", "ramp", "diurnal", "spiky"]
policies = ["swarm", "swarm-drain10", "keda-default", "keda-tuned"]
fig, axes = plt.subplots(len(traces), 2, figsize=(13, 3 * len(traces)), sharex=True)
for row, tr in enumerate(traces):
    for pol in policies:
        with open(f"{src}/{tr}-{pol}.csv") as f:
            rows = list(csv.DictReader(f))
        t = [float(r["t"]) for r in rows]
        axes[row][0].plot(t, [int(r["workers"]) for r in rows], label=pol, lw=1.2)
        axes[row][1].plot(t, [float(r["lag"]) for r in rows], label=pol, lw=1.2)
    axes[row][0].set_ylabel(f"{tr}\nworkers")
    axes[row][1].set_ylabel("lag (requests)")
axes[0][0].legend(loc="upper right")
axes[-1][0].set_xlabel("time (s)")
axes[-1][1].set_xlabel("time (s)")
fig.suptitle("swarm-scaler policy vs KEDA Kafka scaler (HPA defaults), simulated fleet")
fig.tight_layout()
fig.savefig(out)
