"""Register a merge rule from your own module and use it (docs/writing-rules.md).

Run: python examples/custom_merge_rule.py [MODEL]   (default torchvision:squeezenet1_1)
"""

from __future__ import annotations

import sys

from hnnframe import graph_and_counts
from hnnframe.merge import MERGE_RULES, MergeRule


@MERGE_RULES.register("conv_relu_pool")
class ConvReluPool(MergeRule):
    """Conv -> Relu -> MaxPool becomes one node (the stems of AlexNet and SqueezeNet)."""

    pattern = ("Conv", "Relu", "MaxPool")
    merged_op = "ConvReluPool"

    def check(self, graph, match):  # type: ignore[no-untyped-def]
        return graph.nodes[match[0]].params > 0  # a real convolution, not a weightless one


def main(model: str = "torchvision:squeezenet1_1") -> dict[str, int]:
    graph, counts = graph_and_counts(model, merge=["conv_relu_pool", "conv_relu"])
    print(f"{model}: {graph.num_nodes} nodes after merging; matches per rule: {counts}")
    return counts


if __name__ == "__main__":
    main(*sys.argv[1:2])
