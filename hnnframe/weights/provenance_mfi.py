"""The Model Provenance Kit's first stage, config screening ("Metadata Family Identification"),
re-implemented for the baseline in :mod:`hnnframe.weights.provenance_kit` (issue 21).

Follows ``src/provenancekit/core/signals/metadata.py`` of cisco-ai-defense/model-provenance-kit
(Apache-2.0, commit 9991417): the fingerprint fields of ``extract_fingerprint`` (lines
122-157), the derived fields (lines 176-247), the two hashes of ``_derive_hashes`` (lines
250-290) and the three tiers of ``similarity`` (lines 313-336):

* tier 1, ``arch_hash`` equal (model type, architectures and the dimensions): score 1.0;
* tier 2, ``family_hash`` equal (model type, attention style, activation, norm type,
  tokenizer hash, rope) with the same hidden size and layer count: score 0.9;
* tier 3, the weighted soft score of ``_tier3_soft_score`` (lines 339-427) over 11 features.

Its pipeline calls every pair of tier 1 or 2 a "Confirmed Match" before it looks at a weight
(``core/scanner.py`` lines 210-212), so two independently trained models with one config are
confirmed.

Stand-ins where the kit reads a tokenizer (the bed's models have none, their 96-character
vocabulary is implicit, :mod:`hnnframe.weights.lm`): the tokenizer hash is the sha256 of the
directory's ``tokenizer.json`` when there is one, else of the empty string (so two models
without tokenizer files share it, as two models with one tokenizer would), and the bos/eos
token ids are the config's ``bos_token_id``/``eos_token_id``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError, one_line

_DIM_SIM_THRESHOLD = 0.90  # metadata.py line 44


def load_config(directory: Path) -> Any:
    """The directory's ``config.json`` as transformers reads it (the kit's ``AutoConfig``,
    so attribute maps such as GPT-2's ``n_embd`` -> ``hidden_size`` apply); no remote code."""
    import transformers

    try:
        return transformers.AutoConfig.from_pretrained(
            str(directory), trust_remote_code=False, local_files_only=True
        )
    except Exception as e:  # noqa: BLE001 - a stranger's config, any failure is the file's
        raise ModelLoadError(f"{directory}: cannot read config.json ({one_line(e)})") from e


def _intermediate_size(cfg: Any) -> int:
    """``_resolve_intermediate_size`` (metadata.py lines 49-76)."""
    for attr in ("intermediate_size", "d_ff", "encoder_ffn_dim", "decoder_ffn_dim", "ffn_dim"):
        val = getattr(cfg, attr, 0)
        if val and val > 0:
            return int(val)
    hidden_dim, hidden_size = getattr(cfg, "hidden_dim", 0), getattr(cfg, "hidden_size", 0)
    return int(hidden_dim) if hidden_dim and hidden_dim != hidden_size else 0


def _tokenizer_hash(directory: Path) -> str:
    """The stand-in for the kit's ``backend_tokenizer.to_str()`` hash (module docstring)."""
    tok = directory / "tokenizer.json"
    data = tok.read_bytes() if tok.is_file() else b""
    return hashlib.sha256(data).hexdigest()


def fingerprint(directory: Path, config: Any) -> dict[str, Any]:
    """The kit's ``MFIFingerprint`` fields for the model in ``directory``."""
    cfg = config
    if getattr(cfg, "hidden_size", 0) == 0:  # _resolve_text_backbone, lines 165-173
        for sub in ("text_config", "decoder"):
            s = getattr(cfg, sub, None)
            if s is not None and getattr(s, "hidden_size", 0) > 0:
                cfg = s
                break
    heads = getattr(cfg, "num_attention_heads", 0)
    kv = getattr(cfg, "num_key_value_heads", None)
    fp: dict[str, Any] = {
        "model_type": getattr(config, "model_type", "unknown"),
        "architectures": getattr(config, "architectures", None) or ["unknown"],
        "hidden_size": getattr(cfg, "hidden_size", 0),
        "num_hidden_layers": getattr(cfg, "num_hidden_layers", 0),
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "intermediate_size": _intermediate_size(cfg),
        "vocab_size": getattr(cfg, "vocab_size", 0),
        "max_position_embeddings": getattr(cfg, "max_position_embeddings", 0),
        "hidden_act": getattr(cfg, "hidden_act", getattr(cfg, "hidden_activation", None)),
        "rope_theta": _rope_theta(cfg),
        "rope_scaling": getattr(cfg, "rope_scaling", None),
        "bos_token_id": getattr(config, "bos_token_id", None),
        "eos_token_id": getattr(config, "eos_token_id", None),
        "attention_style": "MHA" if kv is None or kv == heads else "MQA" if kv == 1 else "GQA",
        "norm_type": _norm_type(cfg),
        "attention_bias": getattr(cfg, "attention_bias", getattr(cfg, "bias", None)),
        "qk_norm": bool(
            getattr(cfg, "qk_layernorm", False)
            or getattr(cfg, "qk_norm", False)
            or getattr(cfg, "query_pre_attn_scalar", None) is not None
        ),
        "tokenizer_hash": _tokenizer_hash(directory),
    }
    if fp["rope_theta"] is not None:  # _derive_pos_encoding, lines 218-229
        fp["pos_encoding"] = "RoPE"
    else:
        fp["pos_encoding"] = getattr(cfg, "position_embedding_type", "absolute")
    _hashes(fp)
    return fp


def _rope_theta(cfg: Any) -> float | None:
    """``rope_theta``; transformers 5 keeps it inside ``rope_parameters``."""
    theta = getattr(cfg, "rope_theta", None)
    params = getattr(cfg, "rope_parameters", None)
    if theta is None and isinstance(params, dict):
        theta = params.get("rope_theta")
    return theta


def _norm_type(cfg: Any) -> str:
    """``_derive_norm_type`` (lines 189-196)."""
    if hasattr(cfg, "rms_norm_eps") or hasattr(cfg, "rms_norm_epsilon"):
        return "RMSNorm"
    if hasattr(cfg, "layer_norm_eps") or hasattr(cfg, "layer_norm_epsilon"):
        return "LayerNorm"
    return "unknown"


def _sha(fields: list[Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _hashes(fp: dict[str, Any]) -> None:
    """``_derive_hashes`` (lines 250-290): the tier-1 and tier-2 keys."""
    dims = (
        "model_type",
        "architectures",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "intermediate_size",
        "vocab_size",
        "max_position_embeddings",
    )
    fp["arch_hash"] = _sha([fp[k] for k in dims])
    theta = "none" if fp["rope_theta"] is None else str(round(fp["rope_theta"], -2))
    scaling = fp["rope_scaling"]
    scaling_type = str(scaling.get("type", "none")) if isinstance(scaling, dict) else "none"
    fp["family_hash"] = _sha(
        [
            fp["model_type"],
            fp["attention_style"],
            fp["hidden_act"],
            fp["norm_type"],
            fp["tokenizer_hash"],
            theta,
            scaling_type,
        ]
    )


def similarity(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, int]:
    """``(score, tier)`` of the kit's dimension-aware three-tier similarity (lines 313-336)."""
    if a["arch_hash"] == b["arch_hash"]:
        return 1.0, 1
    same_dims = a["hidden_size"] == b["hidden_size"] and (
        a["num_hidden_layers"] == b["num_hidden_layers"]
    )
    if a["family_hash"] == b["family_hash"] and same_dims:
        return 0.9, 2
    return _soft_score(a, b), 3


def _dim_close(x: Any, y: Any) -> bool | None:
    """Whether two positive sizes are within 10% (``None``: one is missing)."""
    if not x or not y or x <= 0 or y <= 0:
        return None
    return 1.0 - abs(x - y) / max(x, y) >= _DIM_SIM_THRESHOLD


def _soft_score(a: dict[str, Any], b: dict[str, Any]) -> float:
    """``_tier3_soft_score`` (lines 339-427): a weighted share of 11 matching features."""
    score, total = 0.0, 0.0
    total += 2.0
    score += (
        2.0
        * ((a["bos_token_id"] == b["bos_token_id"]) + (a["eos_token_id"] == b["eos_token_id"]))
        / 2
    )
    for key, w in (("hidden_size", 1.8), ("num_hidden_layers", 1.5)):
        close = _dim_close(a[key], b[key])
        if close is not None:
            total += w
            score += w if close else 0.0
    va, vb = a["vocab_size"], b["vocab_size"]
    if va and vb:
        total += 1.5
        score += 1.5 * (1.0 - abs(va - vb) / max(va, vb))
    ta, tb = a["rope_theta"], b["rope_theta"]
    total += 1.2
    if ta is not None and tb is not None and ta > 0 and tb > 0:
        score += 1.2 * (1.0 - abs(ta - tb) / max(ta, tb))
    elif ta is None and tb is None:
        score += 1.2
    for key, w in (
        ("qk_norm", 1.5),
        ("attention_style", 1.5),
        ("norm_type", 0.5),
        ("pos_encoding", 0.4),
        ("attention_bias", 0.4),
        ("model_type", 0.1),
    ):
        total += w
        score += w if a[key] == b[key] else 0.0
    return round(score / total, 4) if total > 0 else 0.0
