"""Node encoders: the initial node representation u_i of the paper (section 3.2.3, eq. 3).

An encoder is fitted once on the training graphs (it fixes the op-type vocabulary), saved with
a trained model through :meth:`NodeEncoder.state_dict`, and turns an OpGraph into a
``[num_nodes, dim]`` float32 matrix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from hnnframe.errors import CheckpointError
from hnnframe.ir import OpGraph
from hnnframe.registry import Registry

NODE_ENCODERS: Registry[NodeEncoder] = Registry("node encoder")

UNKNOWN = "<unk>"


def digit_bucket(x: float, max_digits: int = 10) -> int:
    """f_enc(x) = min(floor(log10 x) + 1, max_digits), and 0 for x < 1.

    The paper prints ``max``, which would map every value to at least 10; ``min`` is what keeps
    the result in {0, ..., 10} as the text intends.
    """
    if x < 1:
        return 0
    return min(int(math.floor(math.log10(x))) + 1, max_digits)


class NodeEncoder:
    """Base class: an op-type vocabulary plus per-node features.

    A subclass from a user's module needs no registration to round-trip: its state names it
    by its registered name or, failing that, its dotted path (:meth:`Registry.name_of`).
    """

    def __init__(self, vocab: list[str] | None = None) -> None:
        self.vocab: list[str] = list(vocab) if vocab else []
        self._index = {op: i for i, op in enumerate(self.vocab)}

    def fit(self, graphs: Iterable[OpGraph]) -> NodeEncoder:
        """Fix the vocabulary to the sorted op types seen in ``graphs``."""
        ops = sorted({op for g in graphs for op in g.ops()})
        self.vocab = ops
        self._index = {op: i for i, op in enumerate(ops)}
        return self

    @property
    def fitted(self) -> bool:
        return bool(self.vocab)

    def _op_onehot(self, g: OpGraph) -> np.ndarray:
        # The last column is the explicit unknown-op slot for ops unseen at training time.
        out = np.zeros((len(g.nodes), len(self.vocab) + 1), dtype=np.float32)
        unk = len(self.vocab)
        for i, n in enumerate(g.nodes):
            out[i, self._index.get(n.op, unk)] = 1.0
        return out

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def encode(self, g: OpGraph) -> np.ndarray:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"type": NODE_ENCODERS.name_of(self), "vocab": list(self.vocab)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NodeEncoder:
        try:
            enc = NODE_ENCODERS.build({"type": state["type"]})
        except KeyError:
            raise CheckpointError("checkpoint has no encoder type") from None
        enc.vocab = list(state.get("vocab", []))
        enc._index = {op: i for i, op in enumerate(enc.vocab)}
        return enc


@NODE_ENCODERS.register("paper")
class PaperEncoder(NodeEncoder):
    """[onehot(op), onehot(f_enc(FLOPs)), onehot(f_enc(params))] (paper eq. 3)."""

    def __init__(self, vocab: list[str] | None = None, max_digits: int = 10) -> None:
        super().__init__(vocab)
        self.max_digits = max_digits

    @property
    def dim(self) -> int:
        return len(self.vocab) + 1 + 2 * (self.max_digits + 1)

    def encode(self, g: OpGraph) -> np.ndarray:
        b = self.max_digits + 1
        flops = np.zeros((len(g.nodes), b), dtype=np.float32)
        params = np.zeros((len(g.nodes), b), dtype=np.float32)
        for i, n in enumerate(g.nodes):
            flops[i, digit_bucket(n.flops, self.max_digits)] = 1.0
            params[i, digit_bucket(n.params, self.max_digits)] = 1.0
        return np.concatenate([self._op_onehot(g), flops, params], axis=1)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "max_digits": self.max_digits}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NodeEncoder:
        enc = cls(list(state.get("vocab", [])), int(state.get("max_digits", 10)))
        return enc


@NODE_ENCODERS.register("op_type")
class OpTypeEncoder(NodeEncoder):
    """Op-type one-hot only: the GHashing baseline's features (no FLOPs or parameters)."""

    @property
    def dim(self) -> int:
        return len(self.vocab) + 1

    def encode(self, g: OpGraph) -> np.ndarray:
        return self._op_onehot(g)


def encoder_from_state(state: dict[str, Any]) -> NodeEncoder:
    """Rebuild a fitted encoder saved by :meth:`NodeEncoder.state_dict`."""
    if not state.get("type"):
        raise CheckpointError("checkpoint's encoder state names no encoder type")
    cls = NODE_ENCODERS.get(state["type"])
    return cls.from_state(state)  # type: ignore[attr-defined]


__all__ = ["NODE_ENCODERS", "NodeEncoder", "PaperEncoder", "OpTypeEncoder", "digit_bucket"]
