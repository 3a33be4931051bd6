#!/usr/bin/python3
"""Write a random-weight 784-1024-1024-10 MLP (Gemm/Relu/Softmax, opset 13,
dynamic batch) for the executor benchmark.  Usage: make_mlp.py OUT.onnx"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)
sizes = [784, 1024, 1024, 10]
inits, nodes, cur = [], [], "input"
for i in range(len(sizes) - 1):
    W = (rng.standard_normal((sizes[i], sizes[i + 1])) / np.sqrt(sizes[i])).astype(np.float32)
    b = np.zeros(sizes[i + 1], np.float32)
    inits += [numpy_helper.from_array(W, "W%d" % i), numpy_helper.from_array(b, "b%d" % i)]
    out = "h%d" % i
    nodes.append(helper.make_node("Gemm", [cur, "W%d" % i, "b%d" % i], [out]))
    cur = out
    if i < len(sizes) - 2:
        nodes.append(helper.make_node("Relu", [cur], [cur + "r"]))
        cur += "r"
nodes.append(helper.make_node("Softmax", [cur], ["probabilities"], axis=1))
g = helper.make_graph(nodes, "big_mlp",
                      [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 784])],
                      [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
                      initializer=inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
