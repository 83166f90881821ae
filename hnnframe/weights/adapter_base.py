"""Which of several models with one config a LoRA adapter was trained on.

The LoRA matrices alone fit every model of the config (:mod:`.adapter`), but a trained
adapter's ``lora_A`` rows remember its base. Each step adds ``B^T g x^T`` to ``A``: sums of
the layer's inputs ``x``, which come from the base's own residual stream, in the base's own
basis, and which the base's weight ``W`` of that layer has learnt to read. So the rows of
``A`` lie along the input directions where ``W^T W`` is large. LoRA's authors found this
kinship between ``ΔW`` and ``W`` in Hu et al., "LoRA: Low-Rank Adaptation of Large Language
Models" (ICLR 2022), section 7.3: ``ΔW`` has a stronger correlation with ``W`` than a random
matrix. A model trained independently has an unrelated basis, and the same rows are random
directions to it.

The test, per adapted module, with ``C = n W^T W / ||W||_F^2`` (``n`` inputs, so ``tr C = n``):

* ``t = sum_rows a^T C a / sum_rows a^T a``, the energy of ``A``'s rows under ``C``;
* for rows unrelated to ``W`` (``A`` turned by a uniformly random rotation, which keeps
  how its rows relate to each other), ``E[t] = tr C / n = 1`` and
  ``Var[t] = 2 (tr M^2 - 1/n) (tr C^2 - n) / ((n - 1)(n + 2))`` with ``M = A^T A / ||A||_F^2``
  (second moments of a quadratic form under the Haar measure); ``tr M^2`` is 1 when every
  row follows one direction and ``1/r`` for ``r`` orthogonal rows of equal norm, and
  ``tr C^2`` is estimated with Hutchinson's Gaussian probes (two products with ``W``, never
  ``W^T W`` itself).

``z = sum (t - 1) / sqrt(sum Var[t])`` over the modules is about N(0, 1) for an unrelated
model and large for the base (and for models that share its basis: its own fine-tunes).
Measured on trained adapters in docs/hub_repos.md. An untrained adapter (``A`` still at its
random initialisation) has no base to remember and scores like an unrelated model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

#: z from which a model is named the adapter's base (an unrelated model is about N(0, 1)).
BASE_Z = 4.0
_PROBES = 16
#: transformers model types whose linear layers are GPT-2's ``Conv1D``, stored ``[in, out]``
CONV1D_TYPES = frozenset({"gpt2", "openai-gpt", "imagegpt", "decision_transformer"})
Key = TypeVar("Key")


@dataclass(frozen=True)
class Alignment:
    """How far an adapter's ``lora_A`` rows follow one model's weights (module docstring)."""

    z: float
    modules: int  # adapted modules whose base weight was found and compared

    @property
    def is_base(self) -> bool:
        return self.modules > 0 and self.z >= BASE_Z


def likely_bases(fits: list[Key], aligned: dict[Key, Alignment]) -> list[Key]:
    """Of the models an adapter fits, those it was trained on by :data:`BASE_Z`, strongest
    first; every fit when none is (an untrained adapter, or weights not at hand)."""
    found = [k for k in fits if k in aligned and aligned[k].is_base]
    return sorted(found, key=lambda k: -aligned[k].z) or list(fits)


def _module_term(a: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """``(t - 1, Var[t])`` of one module: ``a`` is ``lora_A`` ``[r, n]``, ``w`` is ``[out, n]``."""
    a64, w64 = a.astype(np.float64), w.astype(np.float64)
    n, wn2, an2 = w64.shape[1], float((w64 * w64).sum()), float((a64 * a64).sum())
    if wn2 == 0 or an2 == 0:
        return 0.0, 0.0
    t = n * float(np.square(w64 @ a64.T).sum()) / (an2 * wn2)
    probes = np.random.default_rng(0).standard_normal((n, _PROBES))
    cg = (n / wn2) * (w64.T @ (w64 @ probes))  # C g for each probe g
    tr_c2 = float(np.square(cg).sum(0).mean())  # E ||C g||^2 = tr(C^2)
    tr_m2 = float(np.square(a64 @ a64.T).sum()) / an2**2  # ||A A^T||_F^2 / ||A||_F^4
    var = 2.0 * (tr_m2 - 1.0 / n) * (tr_c2 - n) / ((n - 1) * (n + 2))
    return t - 1.0, max(var, 1e-12)


def _oriented(w: np.ndarray, n: int, conv1d: bool) -> np.ndarray | None:
    """``w`` as ``[out, n]``: a ``Conv1D`` weight is stored ``[in, out]``; otherwise the axis
    of size ``n`` is the input, and a square ``nn.Linear`` weight is ``[out, in]``."""
    if conv1d:
        w = w.T
    if w.shape[1] == n:
        return w
    return w.T if w.shape[0] == n else None


def alignment(
    lora_a: dict[str, np.ndarray],
    tensors: Iterable[tuple[str, np.ndarray]],
    conv1d: bool = False,
    same_path: Callable[[str, str], bool] | None = None,
) -> Alignment:
    """The adapter's alignment with one model, from that model's tensors (name, array).

    Args:
        lora_a: module path -> ``lora_A`` matrix ``[r, in]`` (:class:`.adapter.Adapter`).
        tensors: the model's named tensors, read one at a time; only the adapted modules'
            ``.weight`` matrices are used.
        conv1d: the model stores its linear weights ``[in, out]`` (:data:`CONV1D_TYPES`).
        same_path: how a tensor's module path is matched to an adapter's (default
            :func:`.adapter.same_path`).
    """
    from hnnframe.weights.adapter import same_path as default_match

    match = same_path or default_match
    excess, var, found = 0.0, 0.0, set()
    for name, arr in tensors:
        if not name.endswith(".weight") or np.ndim(arr) != 2:
            continue
        mod = next((m for m in lora_a if m not in found and match(name[:-7], m)), None)
        if mod is None:
            continue
        w = _oriented(np.asarray(arr), lora_a[mod].shape[1], conv1d)
        if w is None or not np.isfinite(w).all():
            continue
        e, v = _module_term(lora_a[mod], w)
        excess, var = excess + e, var + v
        found.add(mod)
    z = excess / np.sqrt(var) if var > 0 else 0.0
    return Alignment(round(float(z), 3), len(found))
