"""The OpGraph IR of Stage 1 (paper section 3.2): graph, FLOP convention, ONNX reader.

* :mod:`hnnframe.ir.graph`: :class:`OpNode` and :class:`OpGraph` (structure, hashes,
  serialisation, networkx and DGL conversions);
* :mod:`hnnframe.ir.flops`: :func:`node_flops` and its convention (1 multiply-add = 2 FLOPs),
  and when a node's FLOPs are unknown;
* :mod:`hnnframe.ir.onnx`: :func:`from_onnx`, an ONNX ModelProto with inferred shapes to an
  OpGraph.
"""

from __future__ import annotations

from hnnframe.ir.flops import flops_unknown, node_flops
from hnnframe.ir.graph import OpGraph, OpNode, batch_summary
from hnnframe.ir.onnx import from_onnx

__all__ = ["OpGraph", "OpNode", "batch_summary", "flops_unknown", "from_onnx", "node_flops"]
