#!/usr/bin/python3
"""A two-input model with an int64 input, for test_score_multi.sh:
inputs  dense FLOAT [N,3], ids INT64 [N,2], user INT64 [N] (one id a
        row, as recommenders' user ids are: a scalar row)
outputs weighted FLOAT [N,1]   = dense @ [[1],[10],[100]]
        emb      FLOAT [N,2,2] = table[ids], table[i] = [2i, 2i + 1], i < 1000
                                 (an embedding lookup, as recommenders do)
        uemb     FLOAT [N,2]   = table[user]
Usage: make_multi.py OUT.onnx"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

w = numpy_helper.from_array(np.array([[1], [10], [100]], dtype=np.float32), "w")
table = numpy_helper.from_array(np.arange(2000, dtype=np.float32).reshape(1000, 2), "table")
nodes = [
    helper.make_node("MatMul", ["dense", "w"], ["weighted"]),
    helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0),
    helper.make_node("Gather", ["table", "user"], ["uemb"], axis=0),
]
graph = helper.make_graph(
    nodes, "multi",
    [helper.make_tensor_value_info("dense", TensorProto.FLOAT, ["N", 3]),
     helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 2]),
     helper.make_tensor_value_info("user", TensorProto.INT64, ["N"])],
    [helper.make_tensor_value_info("weighted", TensorProto.FLOAT, ["N", 1]),
     helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["N", 2, 2]),
     helper.make_tensor_value_info("uemb", TensorProto.FLOAT, ["N", 2])],
    initializer=[w, table])
model = helper.make_model(graph, producer_name="swarm-tests-score",
                          opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
