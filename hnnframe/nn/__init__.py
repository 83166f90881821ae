"""Stage 2 networks (paper section 3.3): GNN backbones, graph pooling and the hash head.

Registries: ``BACKBONES`` (gcn, gat, gin) and ``POOLINGS`` (gap, mean, sum, max, set2set).
Importing this package imports DGL (through :mod:`hnnframe.dgl_compat`).
"""

from hnnframe.nn.backbones import BACKBONES, Backbone, GATBackbone, GCNBackbone, GINBackbone
from hnnframe.nn.hashnet import HashNet, HashOutput, infer
from hnnframe.nn.pooling import POOLINGS, AttentionPooling, Pooling

__all__ = [
    "BACKBONES",
    "POOLINGS",
    "Backbone",
    "GCNBackbone",
    "GATBackbone",
    "GINBackbone",
    "Pooling",
    "AttentionPooling",
    "HashNet",
    "HashOutput",
    "infer",
]
