"""Module surgery for the derived architectures (:mod:`~hnnframe.variants.derived`): structured
pruning of MLP hidden units, and the forward check every surgery ends with.

An MLP here is any module with ``fc1`` and ``fc2`` children, ``nn.Linear`` or 1x1
``nn.Conv2d``: timm's ``Mlp``, ``GluMlp`` and ``ConvMlp`` (``timm/layers/mlp.py``). Pruning
keeps the first share of the hidden units, as structured magnitude pruning keeps a subset:
``fc1`` loses output rows, ``fc2`` the matching input columns, and a norm between them
(``LayerNorm``, ``BatchNorm``) its entries. A gated MLP whose ``fc1`` gives twice ``fc2``'s
inputs (``GluMlp`` chunks it into value and gate) keeps the same units in both halves. An MLP
with any other parametrised child (``GlobalResponseNorm``, ``GatedMlp``'s spatial gate) is
left alone.
"""

from __future__ import annotations

from typing import Any


def forward_ok(module: Any, x: Any) -> bool:
    """Whether ``module`` runs on the trigger ``x`` (a tensor or a tuple of tensors)."""
    import torch

    try:
        with torch.no_grad():
            module(*x) if isinstance(x, tuple) else module(x)
    except Exception:  # any failure means the surgery broke the network
        return False
    return True


def _width(layer: Any, side: str) -> int | None:
    """A Linear's or 1x1 Conv2d's ``in`` or ``out`` width, None for any other layer."""
    from torch import nn

    if isinstance(layer, nn.Linear):
        return int(layer.in_features if side == "in" else layer.out_features)
    if isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1) and layer.groups == 1:
        return int(layer.in_channels if side == "in" else layer.out_channels)
    return None


def _keep(tensor: Any, idx: Any, dim: int) -> Any:
    from torch import nn

    return nn.Parameter(tensor.detach().index_select(dim, idx).clone(), tensor.requires_grad)


def _cut_out(layer: Any, idx: Any) -> None:
    layer.weight = _keep(layer.weight, idx, 0)
    if layer.bias is not None:
        layer.bias = _keep(layer.bias, idx, 0)
    if hasattr(layer, "out_features"):
        layer.out_features = len(idx)
    else:
        layer.out_channels = len(idx)


def _cut_in(layer: Any, idx: Any) -> None:
    layer.weight = _keep(layer.weight, idx, 1)
    if hasattr(layer, "in_features"):
        layer.in_features = len(idx)
    else:
        layer.in_channels = len(idx)


def _cut_norm(norm: Any, idx: Any, hidden: int) -> bool:
    """Cut a LayerNorm or BatchNorm over ``hidden`` features to ``idx``; False for others."""
    from torch import nn

    if isinstance(norm, nn.LayerNorm) and tuple(norm.normalized_shape) == (hidden,):
        norm.normalized_shape = (len(idx),)
    elif isinstance(norm, nn.modules.batchnorm._BatchNorm) and norm.num_features == hidden:
        norm.num_features = len(idx)
        for key in ("running_mean", "running_var"):
            buf = getattr(norm, key)
            if buf is not None:
                setattr(norm, key, buf.index_select(0, idx).clone())
    else:
        return False
    if norm.weight is not None:
        norm.weight = _keep(norm.weight, idx, 0)
    if norm.bias is not None:
        norm.bias = _keep(norm.bias, idx, 0)
    return True


def _prunable(mlp: Any) -> tuple[int, int] | None:
    """``(hidden, halves)`` of an fc1/fc2 MLP that can be pruned, else None."""
    fc1, fc2 = mlp.fc1, mlp.fc2
    out1, hidden = _width(fc1, "out"), _width(fc2, "in")
    if out1 is None or hidden is None or out1 not in (hidden, 2 * hidden):
        return None
    for name, child in mlp.named_children():
        if name in ("fc1", "fc2") or not any(True for _ in child.parameters()):
            continue
        if not _is_norm_over(child, hidden):
            return None
    return hidden, out1 // hidden


def _is_norm_over(child: Any, hidden: int) -> bool:
    from torch import nn

    if isinstance(child, nn.LayerNorm):
        return tuple(child.normalized_shape) == (hidden,)
    return isinstance(child, nn.modules.batchnorm._BatchNorm) and child.num_features == hidden


def prune_mlps(module: Any, keep: float) -> int:
    """Keep the first ``keep`` share of every fc1/fc2 MLP's hidden units, in place; the number
    of MLPs pruned."""
    import torch

    pruned = 0
    for mlp in list(module.modules()):
        if not (hasattr(mlp, "fc1") and hasattr(mlp, "fc2")):
            continue
        shape = _prunable(mlp)
        if shape is None:
            continue
        hidden, halves = shape
        k = max(1, round(keep * hidden))
        idx = torch.arange(k)
        both = torch.cat([idx + h * hidden for h in range(halves)])  # the same units per half
        _cut_out(mlp.fc1, both)
        _cut_in(mlp.fc2, idx)
        for name, child in mlp.named_children():
            if name not in ("fc1", "fc2") and any(True for _ in child.parameters()):
                _cut_norm(child, idx, hidden)
        pruned += 1
    return pruned
