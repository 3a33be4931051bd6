#!/usr/bin/env python3
"""Float32 error of Winograd F(4x4, 3x3) by interpolation points: the model
behind lib/exec/cpu_wino.c's choice of 0, +-2/3, +-3/2 (and inf).

    python3 wino_points.py [CIN COUT TILES]     (numpy only; default 96 32 300)

One layer of random ReLU inputs (CIN channels, TILES 6x6 tiles) and He-scaled
3x3 filters (COUT), each computed three ways:
  - float64 direct convolution of the float32-rounded data (the reference);
  - float32 direct convolution (one float32 product over CIN * 9 per output);
  - float32 Winograd: B^T d B and A^T m A in float32 (every step rounded,
    like the kernels), the filter transform in float64 rounded once (as
    cpu_wino_pack does), the 36 products over CIN in float32.
Prints, per point set, the error against the reference relative to its
largest output (worst and rms), and direct float32's.  "usual" is the
integer set 0, +-1, +-2 with the matrices cpu_wino.c had before; "ours" the
matrices it has now, rows scaled so every constant is exact in float.
The transform matrices of the other sets come from Toom-Cook (A^T and G
from the points, B^T solved from the identity they must satisfy), so any
point set can be tried.
"""
import sys

import numpy as np


def toom_cook(pts):
    n, m, r = 6, 4, 3
    at = np.zeros((m, n))
    g = np.zeros((n, r))
    for j, a in enumerate(pts):
        at[:, j] = [a ** i for i in range(m)]
        f = np.prod([a - b for b in pts if b != a])
        g[j] = [a ** k / f for k in range(r)]
    at[m - 1, n - 1] = 1
    g[n - 1] = [0, 0, 1]
    # sum_j A^T[i, j] G[j, k] B^T[j, l] = 1 if l == i + k else 0
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(n):
                row = np.zeros((n, n))
                row[:, l] = at[i, :] * g[:, k]
                rows.append(row.ravel())
                rhs.append(1.0 if l == i + k else 0.0)
    bt = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0].reshape(n, n)
    return at, g, bt


def usual():
    bt = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                   [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], float)
    g = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
    at = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                   [0, 1, -1, 8, -8, 1]], float)
    return at, g, bt


def ours():
    """cpu_wino.c's in_1d, filt_1d and out_1d as matrices."""
    bt = np.array([[36, 0, -97, 0, 36, 0], [0, -2.25, -3.375, 1, 1.5, 0],
                   [0, 2.25, -3.375, -1, 1.5, 0], [0, -1.5, -1, 3.375, 2.25, 0],
                   [0, 1.5, -1, -3.375, 2.25, 0], [0, 36, 0, -97, 0, 36]], float)
    g = np.array([[585 / 36, 0, 0], [-9, -6, -4], [-9, 6, -4], [4, 6, 9], [4, -6, 9],
                  [0, 0, 585 / 36]]) / 585
    at = np.array([[1, 27, 27, 8, 8, 0], [0, 18, -18, 12, -12, 0], [0, 12, 12, 18, 18, 0],
                   [0, 8, -8, 27, -27, 1]], float)
    return at, g, bt


def exact(at, g, bt, rng):
    """Largest error of the algorithm itself in float64 (must be ~1e-15)."""
    worst = 0.0
    for _ in range(20):
        f, d = rng.standard_normal(3), rng.standard_normal(6)
        y = at @ ((g @ f) * (bt @ d))
        ref = np.array([f @ d[i:i + 3] for i in range(4)])
        worst = max(worst, float(np.abs(y - ref).max()))
    return worst


def layer(at, g, bt, cin, cout, tiles, seed):
    f32 = np.float32
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal((tiles, cin, 6, 6)), 0).astype(f32)
    w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2 / (9 * cin))).astype(f32)
    ref = np.zeros((tiles, cout, 4, 4))
    d32 = np.zeros((tiles, cout, 4, 4), f32)
    for i in range(4):
        for j in range(4):
            patch = x[:, :, i:i + 3, j:j + 3].reshape(tiles, -1)
            ref[:, :, i, j] = patch.astype(float) @ w.reshape(cout, -1).T.astype(float)
            d32[:, :, i, j] = patch @ w.reshape(cout, -1).T
    u = np.einsum('ia,kcab,jb->kcij', g, w.astype(float), g).astype(f32)
    bt32, at32 = bt.astype(f32), at.astype(f32)
    v = np.einsum('ia,tcab->tcib', bt32, x).astype(f32)
    v = np.einsum('tcib,jb->tcij', v, bt32).astype(f32)
    m = np.zeros((tiles, cout, 6, 6), f32)
    for i in range(6):
        for j in range(6):
            m[:, :, i, j] = v[:, :, i, j] @ u[:, :, i, j].T
    y = np.einsum('ia,tkab->tkib', at32, m).astype(f32)
    y = np.einsum('tkib,jb->tkij', y, at32).astype(f32)
    s, rs = np.abs(ref).max(), np.sqrt((ref ** 2).mean())
    return (np.abs(y - ref).max() / s, np.sqrt(((y - ref) ** 2).mean()) / rs,
            np.abs(d32 - ref).max() / s, np.sqrt(((d32 - ref) ** 2).mean()) / rs)


def main():
    cin, cout, tiles = (int(a) for a in (sys.argv[1:4] if len(sys.argv) > 3 else (96, 32, 300)))
    sets = [("usual 0,+-1,+-2", usual()), ("ours 0,+-2/3,+-3/2", ours())]
    for p, q in ((0.5, 2), (0.75, 4 / 3), (0.7, 1 / 0.7), (0.6, 5 / 3)):
        sets.append((f"0,+-{p:.3g},+-{q:.3g}", toom_cook([0, p, -p, q, -q])))
    rng = np.random.default_rng(7)
    print(f"{cin} -> {cout} channels, {tiles} tiles, mean of 2 seeds; error / max|ref|")
    print(f"{'points':22s} {'exact':>8s} {'wino max':>9s} {'wino rms':>9s} "
          f"{'direct max':>10s} {'direct rms':>10s}")
    for name, mats in sets:
        e = np.mean([layer(*mats, cin, cout, tiles, seed) for seed in (0, 1)], axis=0)
        print(f"{name:22s} {exact(*mats, rng):8.1e} {e[0]:9.2e} {e[1]:9.2e} "
              f"{e[2]:10.2e} {e[3]:10.2e}")


if __name__ == "__main__":
    main()
