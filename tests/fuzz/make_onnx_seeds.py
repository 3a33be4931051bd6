#!/usr/bin/python3
"""Write the ONNX seed corpus of fuzz_onnx (corpus/onnx/*.onnx): small
models whose shapes, pads, axes and sizes are constants (initializers and
attributes), so the structure-aware mutator reaches the loader's shape
arithmetic and its folding at load time.  Run with Debian's python3-onnx;
the output is committed (see README.md)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "onnx")
os.makedirs(out, exist_ok=True)
F = TensorProto.FLOAT


def vi(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def save(name, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, name + ".onnx"))


def c(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


save("reshape_init", [helper.make_node("Reshape", ["x", "s"], ["y"])],
     [vi("x", ["N", 4, 4])], [vi("y", ["N", 16])], [c("s", np.array([-1, 16], np.int64))])
save("reshape_fold",
     [helper.make_node("Reshape", ["k", "s"], ["r"]),
      helper.make_node("Add", ["x", "r"], ["y"])],
     [vi("x", ["N", 64])], [vi("y", ["N", 64])],
     [c("k", np.arange(64, dtype=np.float32)), c("s", np.array([1, 64], np.int64))])
save("expand_const",
     [helper.make_node("Expand", ["k", "s"], ["e"]),
      helper.make_node("Add", ["x", "e"], ["y"])],
     [vi("x", ["N", 3, 4])], [vi("y", ["N", 3, 4])],
     [c("k", np.ones((1, 4), np.float32)), c("s", np.array([3, 4], np.int64))])
save("pad_const", [helper.make_node("Pad", ["x", "p"], ["y"], mode="constant")],
     [vi("x", ["N", 8, 8])], [vi("y", ["N", 10, 10])],
     [c("p", np.array([0, 1, 1, 0, 1, 1], np.int64))])
save("slice_steps", [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
     [vi("x", ["N", 10])], [vi("y", ["N", 4])],
     [c("st", np.array([8], np.int64)), c("en", np.array([0], np.int64)),
      c("ax", np.array([1], np.int64)), c("sp", np.array([-2], np.int64))])
save("conv_pads",
     [helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                       strides=[1, 1], dilations=[1, 1])],
     [vi("x", ["N", 1, 6, 6])], [vi("y", ["N", 2, 6, 6])],
     [c("w", np.full((2, 1, 3, 3), 0.1, np.float32)), c("b", np.zeros(2, np.float32))])
save("maxpool_dil",
     [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], pads=[0, 0, 1, 1],
                       strides=[2, 2], dilations=[1, 1])],
     [vi("x", ["N", 1, 5, 5])], [vi("y", ["N", 1, 3, 3])])
save("avgpool", [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3], pads=[1, 1])],
     [vi("x", ["N", 2, 7])], [vi("y", ["N", 2, 7])])
save("gather_embed", [helper.make_node("Gather", ["emb", "ids"], ["y"], axis=0)],
     [vi("ids", ["N", 3], TensorProto.INT64)], [vi("y", ["N", 3, 4])],
     [c("emb", np.arange(40, dtype=np.float32).reshape(10, 4))])
save("transpose_perm", [helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 1])],
     [vi("x", ["N", 2, 3])], [vi("y", ["N", 3, 2])])
save("concat_axis",
     [helper.make_node("Concat", ["x", "k"], ["y"], axis=1)],
     [vi("x", ["N", 2])], [vi("y", ["N", 5])], [c("k", np.ones((1, 3), np.float32))])
save("mlp",
     [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
      helper.make_node("Relu", ["h"], ["r"]),
      helper.make_node("Gemm", ["r", "w2", "b2"], ["l"], transB=1),
      helper.make_node("Softmax", ["l"], ["y"], axis=1)],
     [vi("x", ["N", 8])], [vi("y", ["N", 3])],
     [c("w1", np.full((6, 8), 0.05, np.float32)), c("b1", np.zeros(6, np.float32)),
      c("w2", np.full((3, 6), 0.1, np.float32)), c("b2", np.zeros(3, np.float32))])
save("flatten_unsq",
     [helper.make_node("Unsqueeze", ["x", "a"], ["u"]),
      helper.make_node("Flatten", ["u"], ["y"], axis=1)],
     [vi("x", ["N", 2, 2])], [vi("y", ["N", 4])], [c("a", np.array([1], np.int64))])
save("reduce_keep", [helper.make_node("ReduceSum", ["x", "a"], ["y"], keepdims=1)],
     [vi("x", ["N", 3, 4])], [vi("y", ["N", 1, 4])], [c("a", np.array([1], np.int64))])
save("batchnorm",
     [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-5)],
     [vi("x", ["N", 2, 3])], [vi("y", ["N", 2, 3])],
     [c("s", np.ones(2, np.float32)), c("b", np.zeros(2, np.float32)),
      c("m", np.zeros(2, np.float32)), c("v", np.ones(2, np.float32))])
save("constant_node",
     [helper.make_node("Constant", [], ["k"], value=c("kv", np.ones((2, 2), np.float32))),
      helper.make_node("MatMul", ["x", "k"], ["y"])],
     [vi("x", ["N", 2])], [vi("y", ["N", 2])])
print("wrote", len(os.listdir(out)), "models to", out)
