#!/usr/bin/env bash
# cmake --install into a temporary prefix, then build a C application
# (app.c) against the installed files only, through pkg-config, and run it
# and every installed program's --version.
# usage: test-install.sh BUILD_DIR CC [EXTRA_CFLAGS]
set -euo pipefail
build=$1 cc=$2 extra=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/swarm-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
for p in swarm-producer swarm-consumer swarm-registry swarm-scaler; do
  [ -x "$tmp/prefix/bin/$p" ] || { echo "FAIL: $p not installed" >&2; exit 1; }
  out=$("$tmp/prefix/bin/$p" -V)
  grep -q "^$p [0-9]" <<<"$out" && grep -q '^git: ' <<<"$out" &&
    grep -q '^librdkafka: [0-9]' <<<"$out" && grep -q '^avro-c: ' <<<"$out" &&
    grep -q '^openblas: ' <<<"$out" && grep -q '^cuda: ' <<<"$out" ||
    { echo "FAIL: $p -V printed:" >&2; echo "$out" >&2; exit 1; }
done
pc=$(find "$tmp/prefix" -name swarm.pc)
[ -n "$pc" ] || { echo "FAIL: no swarm.pc installed" >&2; exit 1; }
for h in client.h codec.h conf.h err.h version.h schemareg.h; do
  [ -f "$tmp/prefix/include/swarm/$h" ] || { echo "FAIL: include/swarm/$h missing" >&2; exit 1; }
done

# Copy the app away from the source tree so nothing but the prefix is
# reachable (no -I into the checkout).
cp "$here/app.c" "$tmp/app.c"
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags swarm)
libs=$(pkg-config --libs swarm)
case "$flags" in *"$(cd "$here/../.." && pwd)"*) echo "FAIL: pkg-config points into the source tree: $flags" >&2; exit 1;; esac
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror $extra $flags -o "$tmp/app" "$tmp/app.c" $libs
echo "built app with: $cc $flags ... $libs"
out=$("$tmp/app" 127.0.0.1:1)
echo "$out"
grep -q 'decoded 4 floats' <<<"$out" && grep -q 'completed on destroy' <<<"$out" ||
  { echo "FAIL: app output" >&2; exit 1; }
echo "PASS"
