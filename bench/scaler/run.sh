#!/usr/bin/env bash
# bash bench/scaler/run.sh [sim options, e.g. --capacity 25000]
# Builds the simulator from the policy sources the scaler runs, prints the
# table (also bench/scaler/results.md) and draws bench/scaler/scaler.svg.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -I"$root/include" -I"$root/scaler" -I"$here" \
  "$here/sim.c" "$here/fleet.c" "$root/scaler/policy.c" "$root/lib/core/err.c" \
  -lm -o "$tmp/sim"
"$tmp/sim" --csv "$tmp" "$@" | tee "$here/results.md"
/usr/bin/python3 "$here/plot.py" "$tmp" "$here/scaler.svg"
echo "plot: $here/scaler.svg" >&2
