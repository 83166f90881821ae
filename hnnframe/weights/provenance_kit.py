"""A re-implementation of Cisco's Model Provenance Kit, the peer baseline of issue 21.

Re-implemented in our own code from the source of cisco-ai-defense/model-provenance-kit
(Apache-2.0, commit 9991417), with its fixed weights and thresholds, weaknesses included, to
be reported beside hnnframe's weight tier. It is a baseline, not a product feature.

Two stages, as ``ModelProvenanceScanner.compare`` runs them (``core/scanner.py`` lines
149-222):

1. **Config screening** (:mod:`hnnframe.weights.provenance_mfi`): a pair whose configs agree
   at tier 1 or 2 is a "Confirmed Match" with score 1.0 or 0.9, whatever its weights.
2. **Five weight signals** (``core/signals/weight_signals.py``), each in [0, 1]:

   * ``eas``, embedding-anchor self-similarity: the cosine-similarity matrix of 64 anchor rows
     of the token embedding, compared by the Pearson correlation of the upper triangles,
     mapped to ``(r + 1) / 2`` (lines 436-461, 592-625);
   * ``end``, embedding-norm histogram: 20-bin density histogram of every embedding row's
     norm, compared by a cosine clamped to [0, 1] (lines 526-536, 621-623);
   * ``nlf``, norm-layer vectors: every 1-D norm weight of 64+ values, concatenated in the
     order the tensors come (per-layer mean/std/max/min when sizes differ), cosine
     (lines 464-493, 628-666);
   * ``lep``, layer energy profile: the Frobenius norm summed per layer index, divided by its
     maximum, compared by Pearson correlation mapped to ``(r + 1) / 2`` after resampling to
     the shorter length (lines 496-523, 669-709, 837-848);
   * ``wvc``, weight-value cosine: per layer, every 2-D projection tensor flattened and
     strided to 4,096 values (``Settings.wvc_subsample``), concatenated in tensor order; the
     mean over common layers of the clamped cosine (lines 539-569, 692-702, 866-874).

   ``identity`` is their NaN-aware weighted average with ``IDENTITY_WEIGHTS`` (eas 0.36,
   nlf 0.08, lep 0.16, end 0.19, wvc 0.21; ``config/constants.py`` lines 58-64,
   ``core/scoring.py`` lines 40-72). Where config screening does not confirm, the score is
   ``identity`` with the labels of ``interpret_score`` (``core/scoring.py`` lines 84-96):
   above 0.75 "High-Confidence Match", above 0.65 "Weak Match", else "Not Matched";
   "Insufficient data" when no signal applies (then the config score decides, "... (metadata
   only)").

Layers, norms and projections are found by name as the kit finds them
(``utils/tensor.py``: ``TENSOR_CATEGORIES``, the ``(?:layers?|h|block)\\.(\\d+)\\.`` layer
pattern, the norm keywords and ``EMBEDDING_CANDIDATES``), so GPT-2's ``c_attn``/``c_fc``
projections are "other" and give no ``wvc``. ``nlf`` and ``wvc`` concatenate in the order
the tensors are stored (the kit iterates its loaded ``state_dict``), so the same weights
re-sharded or saved as ``.bin`` in another order lose score. The kit's sixth signal (WSP,
sign pattern) is not in its identity score and is left out, as are its tokenizer signals
(reporting only).

Tensors are read by :func:`hnnframe.weights.readers.iter_tensors` (one file, shards,
``pytorch_model.bin``; fp16/bf16 widened to float32), one at a time.

Tokenizer-free stand-in for the anchor tokens: the bed's models have no tokenizer (their
vocabulary is 96 characters, :mod:`hnnframe.weights.lm`), so the anchors are what the kit
itself picks when it is given no tokenizer (``core/signals/anchors.py`` lines 148-225): no
punctuation or script anchors, and 64 ids drawn without replacement from the first
``min(vocab, 50000)`` ids by ``numpy.random.RandomState(42).choice``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hnnframe.errors import ModelLoadError
from hnnframe.weights import provenance_mfi as mfi
from hnnframe.weights.readers import iter_tensors

#: ``IDENTITY_WEIGHTS``, config/constants.py lines 58-64.
IDENTITY_WEIGHTS = {"eas": 0.36, "nlf": 0.08, "lep": 0.16, "end": 0.19, "wvc": 0.21}
HIGH_CONFIDENCE, WEAK_MATCH = 0.75, 0.65  # core/scoring.py lines 84-85
CONFIRMED = "Confirmed Match"
_ANCHOR_K, _ANCHOR_SEED, _ANCHOR_POOL = 64, 42, 50_000  # settings.py, anchors.py
_WVC_SUBSAMPLE = 4096  # config/settings.py line 39
_MAX_EMBEDDING_ROWS = 1_000_000  # weight_signals.py line 62

#: ``TENSOR_CATEGORIES`` (utils/tensor.py lines 32-49), first match wins, in this order.
_CATEGORIES = {
    "q_proj": ["q_proj", "query", "self.query"],
    "k_proj": ["k_proj", "key", "self.key"],
    "v_proj": ["v_proj", "value", "self.value"],
    "o_proj": ["o_proj", "dense", "out_proj"],
    "gate_proj": ["gate_proj", "gate"],
    "up_proj": ["up_proj", "fc1", "dense_h_to_4h", "wi_0"],
    "down_proj": ["down_proj", "fc2", "dense_4h_to_h", "wi_1", "wo"],
    "embedding": ["embed_tokens", "wte", "word_embeddings", "shared.weight"],
    "norm": ["layernorm", "rmsnorm", "ln_", "norm"],
    "lm_head": ["lm_head", "cls"],
}
_NO_WVC = ("norm", "embedding", "lm_head", "other")
_LAYER = re.compile(r"(?:layers?|h|block)\.\s*(\d+)\.")
_NORM_KEYWORDS = ("layernorm", "rmsnorm", "input_layernorm", "post_attention", "ln_", "norm")
#: ``EMBEDDING_CANDIDATES`` (utils/tensor.py lines 101-123), tried before any other name.
_EMBEDDINGS = (
    "model.embed_tokens.weight",
    "transformer.wte.weight",
    "embeddings.word_embeddings.weight",
    "gpt_neox.embed_in.weight",
    "transformer.word_embeddings.weight",
    "shared.weight",
    "model.shared.weight",
    "encoder.embed_tokens.weight",
    "model.encoder.embed_tokens.weight",
    "model.decoder.embed_tokens.weight",
    "decoder.embed_tokens.weight",
    "bert.embeddings.word_embeddings.weight",
    "roberta.embeddings.word_embeddings.weight",
    "deberta.embeddings.word_embeddings.weight",
    "distilbert.embeddings.word_embeddings.weight",
    "electra.embeddings.word_embeddings.weight",
    "albert.embeddings.word_embeddings.weight",
    "xlm-roberta.embeddings.word_embeddings.weight",
    "camembert.embeddings.word_embeddings.weight",
    "word_embeddings.weight",
    "wte.weight",
)


@dataclass
class ProvenanceResult:
    """One pair's result, as the kit's ``CompareResult`` reports it.

    ``score`` is its pipeline score and ``verdict`` its decision label; ``signals`` holds the
    five weight signals (NaN where one does not apply), ``identity`` their weighted average
    (the weight score alone), ``config_match`` whether config screening confirmed the pair
    (tier 1 or 2), ``config_score``/``config_tier`` that stage's score and tier.
    """

    score: float
    verdict: str
    signals: dict[str, float]
    config_match: bool
    identity: float = math.nan
    config_score: float = math.nan
    config_tier: int = 3


@dataclass
class Features:
    """The kit's ``WeightSignalFeatures`` of one model (the parts its identity score uses)."""

    eas_self_sim: np.ndarray | None = None
    end_histogram: np.ndarray | None = None
    nlf_vector: np.ndarray | None = None
    nlf_mode: str | None = None
    nlf_layers: int = 0
    lep_profile: np.ndarray | None = None
    wvc: dict[int, np.ndarray] = field(default_factory=dict)


def category(name: str) -> str:
    """``classify_tensor_name`` (utils/tensor.py lines 52-62)."""
    lower = name.lower()
    for cat, keywords in _CATEGORIES.items():
        if any(k in lower for k in keywords):
            return cat
    return "other"


def layer_index(name: str) -> int | None:
    """``extract_layer_index`` (utils/tensor.py lines 67-78)."""
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


def anchor_ids(vocab_size: int) -> np.ndarray:
    """The kit's anchors without a tokenizer (module docstring, the stand-in)."""
    pool = list(range(min(vocab_size, _ANCHOR_POOL)))
    rng = np.random.RandomState(_ANCHOR_SEED)  # noqa: NPY002 - the kit's own generator
    return rng.choice(pool, size=min(_ANCHOR_K, len(pool)), replace=False)


def _is_embedding(name: str, arr: np.ndarray) -> bool:
    """The fallback of ``find_embedding_in_state_dict`` (utils/tensor.py lines 141-146)."""
    lower = name.lower()
    return ("embed" in lower or "wte" in lower) and arr.ndim == 2 and "position" not in lower


def extract(tensors: Iterable[tuple[str, np.ndarray]]) -> Features:
    """The kit's features from ``(name, array)`` pairs in stored order, in one pass that keeps
    only the embedding, the norm vectors and 4,096 values per projection tensor."""
    best: tuple[int, np.ndarray] | None = None  # (rank among the candidates, the tensor)
    norms: list[np.ndarray] = []
    energy: dict[int, float] = defaultdict(float)
    wvc: dict[int, list[np.ndarray]] = defaultdict(list)
    for name, arr in tensors:
        rank = _EMBEDDINGS.index(name) if name in _EMBEDDINGS else None
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, arr)
        elif best is None and _is_embedding(name, arr):
            best = (len(_EMBEDDINGS), arr)
        lower = name.lower()
        if arr.ndim == 1 and arr.size >= 64 and any(k in lower for k in _NORM_KEYWORDS):
            norms.append(arr.astype(np.float32))
        li = layer_index(name)
        if li is None or arr.ndim < 2:  # 1-D tensors add no energy and no wvc
            continue
        energy[li] += float(np.linalg.norm(arr.ravel().astype(np.float64)))
        if category(name) not in _NO_WVC:
            flat = arr.ravel()
            if flat.size > _WVC_SUBSAMPLE:
                flat = flat[:: flat.size // _WVC_SUBSAMPLE][:_WVC_SUBSAMPLE]
            wvc[li].append(np.array(flat, dtype=np.float32))
    f = Features(wvc={li: np.concatenate(wvc[li]) for li in sorted(wvc)})
    if best is not None:
        f.eas_self_sim, f.end_histogram = _embedding_signals(best[1])
    f.nlf_vector, f.nlf_mode, f.nlf_layers = _nlf(norms)
    if energy:
        e = np.array([energy.get(i, 0.0) for i in range(max(energy) + 1)])
        f.lep_profile = e / e.max() if e.max() > 1e-8 else e
    return f


def _embedding_signals(emb: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``_extract_eas_end`` (weight_signals.py lines 592-625)."""
    if emb.shape[0] > _MAX_EMBEDDING_ROWS:
        return None, None
    ids = anchor_ids(emb.shape[0])
    if len(ids) < 16:
        return None, None
    anchors = emb[ids].astype(np.float32)
    normed = anchors / np.maximum(np.linalg.norm(anchors, axis=1, keepdims=True), 1e-8)
    hist, _ = np.histogram(np.linalg.norm(emb, axis=1), bins=20, density=True)
    return normed @ normed.T, hist / (hist.sum() + 1e-10)


def _nlf(norms: list[np.ndarray]) -> tuple[np.ndarray | None, str | None, int]:
    """``_build_nlf`` (weight_signals.py lines 651-666)."""
    if not norms:
        return None, None, 0
    if len({w.shape[0] for w in norms}) == 1:
        return np.concatenate(norms), "direct", len(norms)
    stats = [[w.mean(), w.std(), w.max(), w.min()] for w in norms]
    return np.array(stats, dtype=np.float64).ravel(), "stats", len(norms)


def features_of(directory: Path) -> Features:
    """The kit's weight features of a snapshot directory (its shards or ``.bin`` in turn)."""
    return extract(iter_tensors(directory))


# ---- similarities (weight_signals.py lines 436-569, utils/tensor.py lines 174-216) --------


def cosine_clamp(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine clamped to [0, 1], rounded to 4 places; NaN for a near-zero vector."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    if den < 1e-10:
        return math.nan
    return round(max(0.0, min(1.0, float(np.dot(a, b) / den))), 4)


def _corr01(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation mapped to ``(r + 1) / 2``; NaN for a constant vector."""
    if a.std() < 1e-8 or b.std() < 1e-8:
        return math.nan
    r = float(np.corrcoef(a, b)[0, 1])
    return math.nan if math.isnan(r) else round((r + 1.0) / 2.0, 4)


def eas(a: Features, b: Features) -> float:
    """Embedding anchor similarity (weight_signals.py lines 436-461)."""
    if a.eas_self_sim is None or b.eas_self_sim is None:
        return math.nan
    k = min(a.eas_self_sim.shape[0], b.eas_self_sim.shape[0])
    if k < 8:
        return math.nan
    iu = np.triu_indices(k, k=1)
    return _corr01(a.eas_self_sim[:k, :k][iu], b.eas_self_sim[:k, :k][iu])


def end(a: Features, b: Features) -> float:
    """Embedding norm distribution (weight_signals.py lines 526-536)."""
    if a.end_histogram is None or b.end_histogram is None:
        return math.nan
    return cosine_clamp(a.end_histogram, b.end_histogram)


def _to_stats(vec: np.ndarray, layers: int) -> np.ndarray:
    """``norm_vector_to_stats``: per-chunk mean/std/max/min of a concatenated norm vector."""
    size = len(vec) // layers if layers > 0 else 0
    if size <= 0:
        return vec
    chunks = [vec[i * size : (i + 1) * size] for i in range(layers)]
    return np.array([[c.mean(), c.std(), c.max(), c.min()] for c in chunks]).ravel()


def nlf(a: Features, b: Features) -> float:
    """Norm layer fingerprint (weight_signals.py lines 464-493)."""
    va, vb = a.nlf_vector, b.nlf_vector
    if va is None or vb is None:
        return math.nan
    direct_a, direct_b = a.nlf_mode == "direct", b.nlf_mode == "direct"
    if direct_a and direct_b and len(va) == len(vb):
        return cosine_clamp(va, vb)
    if direct_a:
        va = _to_stats(va, a.nlf_layers)
    if direct_b:
        vb = _to_stats(vb, b.nlf_layers)
    n = min(len(va), len(vb))
    return math.nan if n < 4 else cosine_clamp(va[:n], vb[:n])


def lep(a: Features, b: Features) -> float:
    """Layer energy profile (weight_signals.py lines 496-523)."""
    pa, pb = a.lep_profile, b.lep_profile
    if pa is None or pb is None or len(pa) == 0 or len(pb) == 0:
        return math.nan
    if len(pa) != len(pb):
        n = min(len(pa), len(pb))
        x = np.linspace(0, 1, n)
        pa = np.interp(x, np.linspace(0, 1, len(pa)), pa)
        pb = np.interp(x, np.linspace(0, 1, len(pb)), pb)
    return _corr01(pa, pb)


def wvc(a: Features, b: Features) -> float:
    """Weight-value cosine, the mean over common layers (weight_signals.py lines 539-569)."""
    common = sorted(set(a.wvc) & set(b.wvc))
    if len(common) < 2:
        return math.nan
    cos = []
    for li in common:
        n = min(len(a.wvc[li]), len(b.wvc[li]))
        if n < 64:
            continue
        sa, sb = a.wvc[li][:n].astype(np.float64), b.wvc[li][:n].astype(np.float64)
        den = float(np.linalg.norm(sa) * np.linalg.norm(sb))
        if den >= 1e-10:
            cos.append(max(0.0, min(1.0, float(np.dot(sa, sb) / den))))
    return round(float(np.mean(cos)), 4) if len(cos) >= 2 else math.nan


SIGNALS = {"eas": eas, "nlf": nlf, "lep": lep, "end": end, "wvc": wvc}


def identity_score(signals: dict[str, float]) -> float:
    """``_nan_weighted_avg`` (core/scoring.py lines 40-51) with :data:`IDENTITY_WEIGHTS`."""
    valid = {k: v for k, v in signals.items() if not math.isnan(v)}
    total = sum(IDENTITY_WEIGHTS[k] for k in valid)
    if not valid or total < 1e-10:
        return math.nan
    return round(sum(IDENTITY_WEIGHTS[k] / total * v for k, v in valid.items()), 4)


def interpret(score: float) -> str:
    """``interpret_score`` (core/scoring.py lines 88-96)."""
    if math.isnan(score):
        return "Insufficient data"
    if score > HIGH_CONFIDENCE:
        return "High-Confidence Match"
    return "Weak Match" if score > WEAK_MATCH else "Not Matched"


def compare(a: Path, b: Path) -> ProvenanceResult:
    """The kit's verdict on two snapshot directories (config.json and weights), see the
    module docstring.

    Raises:
        ModelLoadError: a directory without a readable config.json or weights.
    """
    a, b = Path(a), Path(b)
    for d in (a, b):
        if not (d / "config.json").is_file():
            raise ModelLoadError(f"{d}: the Model Provenance Kit needs a config.json")
    fa, fb = (mfi.fingerprint(d, mfi.load_config(d)) for d in (a, b))
    config_score, tier = mfi.similarity(fa, fb)
    wa, wb = features_of(a), features_of(b)
    signals = {k: fn(wa, wb) for k, fn in SIGNALS.items()}
    ident = identity_score(signals)
    if tier <= 2:  # core/scanner.py lines 210-218
        score, verdict = config_score, CONFIRMED
    elif not math.isnan(ident):
        score, verdict = ident, interpret(ident)
    else:
        score, verdict = config_score, interpret(config_score) + " (metadata only)"
    return ProvenanceResult(score, verdict, signals, tier <= 2, ident, config_score, tier)
