#!/usr/bin/env bash
# Install cuBLAS / cuBLASLt headers and libraries into the CUDA toolkit when
# the toolkit came without them (the pip-layout toolkit on our build
# machines ships nvcc and cudart only; the cuBLAS wheel sits on disk).
#
# Usage: lib/cuda/install-cublas.sh [WHEEL] [CUDA_ROOT]
#   WHEEL      default: the newest /opt/pypi-more/files/nvidia_cublas-*.whl
#   CUDA_ROOT  default: the directory of $(command -v nvcc)/.. resolved,
#              else /usr/local/cuda
# Exits 0 when cuBLAS is already there or nothing can be installed (no
# wheel): a build without cuBLAS just skips the CUDA backend (SWARM_CUDA=AUTO).
set -euo pipefail

root=${2:-}
if [ -z "$root" ]; then
  if [ -d /usr/local/cuda ]; then
    root=$(readlink -f /usr/local/cuda)
  else
    echo "install-cublas: no CUDA toolkit, nothing to do" >&2
    exit 0
  fi
fi
if [ -e "$root/include/cublasLt.h" ] && ls "$root"/lib*/libcublasLt.so* >/dev/null 2>&1; then
  echo "install-cublas: cuBLAS already in $root" >&2
  exit 0
fi
whl=${1:-$(ls -1 /opt/pypi-more/files/nvidia_cublas-*.whl 2>/dev/null | sort -V | tail -1 || true)}
if [ -z "$whl" ] || [ ! -f "$whl" ]; then
  echo "install-cublas: no cuBLAS wheel found, CUDA backend will be skipped" >&2
  exit 0
fi
lib=$root/lib
[ -d "$root/lib64" ] && lib=$(readlink -f "$root/lib64")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-cublas: $whl -> $root" >&2
python3 - "$whl" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if "/include/" in n or "/lib/" in n:
            z.extract(n, sys.argv[2])
PY
src=$(ls -d "$tmp"/nvidia/cu*/ | head -1)
cp -n "$src"/include/*.h "$root/include/"
cp -n "$src"/lib/*.so.* "$lib/"
for f in "$src"/lib/*.so.*; do
  b=$(basename "$f")
  ln -sf "$b" "$lib/${b%%.so.*}.so"
done
echo "install-cublas: done" >&2
