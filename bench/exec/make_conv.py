#!/usr/bin/env python3
"""One-layer models for per-layer figures: make_conv.py OUT_DIR SPEC...

SPEC is CINxCOUTxHxKxPAD: a Conv (CIN -> COUT channels, K x K kernel,
stride 1, PAD on every side, random-normal weights * 0.05, a bias) and a
Relu over an [N, CIN, H, H] input, N symbolic.  Writes
OUT_DIR/cSPEC.onnx and OUT_DIR/inSPEC/input_0.npy (one image in [0, 1)),
the layout bench_exec --inputs and bench_ort.js --inputs read.  Needs
numpy and onnx (the families' venv has both)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv(path, cin, cout, h, k, pad):
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((cout, cin, k, k)) * 0.05).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"],
                              pads=[pad] * 4, kernel_shape=[k, k]),
             helper.make_node("Relu", ["c"], ["y"])]
    oh = h + 2 * pad - k + 1
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                       ["N", cin, h, h])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                       ["N", cout, oh, oh])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for spec in sys.argv[2:]:
        cin, cout, h, k, pad = map(int, spec.split("x"))
        conv(os.path.join(out, f"c{spec}.onnx"), cin, cout, h, k, pad)
        d = os.path.join(out, f"in{spec}")
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "input_0.npy"),
                np.random.default_rng(1).random((1, cin, h, h),
                                                dtype=np.float32))


if __name__ == "__main__":
    main()
