#!/usr/bin/python3
"""tiny.onnx for the fault tests: Identity FLOAT [N,4] -> [N,4], so 100,000
requests are 100,000 small records and the tests measure the pipeline's
failure handling, not bandwidth.  Run with Debian's python3-onnx; the
output is committed."""
import os
import sys

import onnx
from onnx import TensorProto, helper

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "tiny.onnx")
g = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "tiny",
                      [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
                      [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
onnx.checker.check_model(m)
onnx.save(m, out)
