"""The objective of HNN-Net (paper section 3.4) as a registry of terms, and terms beyond it.

* :mod:`hnnframe.losses.base`: :class:`LossTerm`, :data:`LOSSES`, :class:`PairBatch` and
  :class:`HashLoss` (the weighted sum of eq. 6 with any number of further terms);
* :mod:`hnnframe.losses.paper`: ``topo`` (eq. 7), ``class`` (eq. 8), ``quant`` (eq. 9) and
  GHashing's ``binary_reg``;
* :mod:`hnnframe.losses.instance`: instance-level terms (every architecture its own class).
"""

from hnnframe.losses import instance as _instance  # noqa: F401  (registers its terms)
from hnnframe.losses.base import LOSSES, HashLoss, LossTerm, PairBatch, build_term, normalise_ged
from hnnframe.losses.paper import BinaryRegLoss, ClassLoss, QuantLoss, TopoLoss

__all__ = [
    "LOSSES",
    "BinaryRegLoss",
    "ClassLoss",
    "HashLoss",
    "LossTerm",
    "PairBatch",
    "QuantLoss",
    "TopoLoss",
    "build_term",
    "normalise_ged",
]
