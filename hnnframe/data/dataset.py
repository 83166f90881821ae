"""Datasets of model graphs: sources, augmented copies and splits (paper section 4.1.3).

The recipe's ``data`` section:

```yaml
data:
  source: zoo            # the Table-1 zoo cache, or a list of {path, category[, name]}
  cache_dir: null        # zoo cache (default ~/.cache/hnnframe/zoo)
  copies: 10             # augmented copies per model (random node deletion)
  delete_frac: 0.1
  delete_on: prepared    # prepared: delete nodes of the merged graph (the paper); raw: delete
                         # ONNX nodes, then canonicalise and merge (as protocol (c)'s copies)
  train_frac: 0.8        # per model: the first 80% of its copies train, the rest test
  holdout: []            # whole architectures kept out of training (unseen-architecture queries)
  seed: 0
  variants: []           # transforms of hnnframe.variants whose graphs join training
  variant_copies: 1      # node-deletion copies per variant
  variant_cache: null    # variant cache (default ~/.cache/hnnframe/variants)
  # source: corpus -- the hub corpus (hnnframe.corpus): every architecture of the training
  # family groups, its category its family group; the held-out groups never enter the data.
  corpus_cache: null     # corpus cache (default ~/.cache/hnnframe/corpus)
  holdout_groups: null   # groups held out (default hnnframe.corpus.split.DEFAULT_HOLDOUT)
  per_group: null        # at most this many architectures per group (a slice, for make demo)
  keys: null             # only these corpus architectures (a slice)
  exclude: []            # corpus architectures kept out of training (e.g. the demo's resnet50)
```

Graphs go raw -> canonicalisation -> merge rules (the recipe's ``graph`` section) -> copies.

Variants (robustness issue, training-time augmentation): each listed transform of each
training model (the same network re-exported, folded, quantized, ...; see
:mod:`hnnframe.variants`) goes through the same canonicalisation and merge rules; when the
result differs from the model's own graph, ``variant_copies`` node-deletion copies of it join
the training split with the model's label, so the network learns invariance to what
canonicalisation cannot remove. Held-out architectures get none, the test split is
unchanged, and the variants are not in the retrieval database (``GraphDataset.database``), so
protocols (a) and (b) query the same copies against the same database as without variants.
A transform that needs the torch module is skipped for models read from files.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hnnframe.corpus import load_corpus, split_corpus
from hnnframe.data.augment import delete_nodes
from hnnframe.data.zoo import TABLE1, load_zoo
from hnnframe.errors import ConfigError
from hnnframe.frontends import model_name
from hnnframe.ir import OpGraph
from hnnframe.log import get_logger
from hnnframe.pipeline import graph_of, prepare_graph
from hnnframe.variants import build_variants, get_transform

log = get_logger(__name__)


@dataclass
class Sample:
    graph: OpGraph
    model: str  # architecture name
    category: str
    copy: int  # -1 for the unaugmented original
    label: int = -1
    variant: str = ""  # the transform (data.variants) this training sample comes from

    @property
    def key(self) -> str:
        return f"{self.model}#{self.copy}"


@dataclass
class GraphDataset:
    """Splits of samples and the category list (labels index into it)."""

    train: list[Sample]
    test: list[Sample]
    unseen: list[Sample] = field(default_factory=list)
    originals: list[Sample] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def database_mask(self) -> list[bool]:
        """For each training sample, whether it is in the retrieval :attr:`database`."""
        return [not s.variant for s in self.train]

    @property
    def database(self) -> list[Sample]:
        """The retrieval database of both protocols: the training split's node-deletion copies.

        Training-time variants (``data.variants``) are training data, not database entries, so
        a recipe with variants is evaluated on the same database and queries as one without.
        """
        return [s for s, keep in zip(self.train, self.database_mask, strict=True) if keep]


def _copy_seed(seed: int, model: str, copy: int) -> int:
    h = hashlib.sha256(f"{seed}/{model}/{copy}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def corpus_training_entries(data_cfg: Mapping[str, Any]) -> list[Any]:
    """The corpus architectures a ``source: corpus`` recipe trains on (training groups only,
    at most ``per_group`` per group, in key order)."""
    keys = data_cfg.get("keys")
    entries = load_corpus(data_cfg.get("corpus_cache"), set(keys) if keys else None)
    split = split_corpus(entries, data_cfg.get("holdout_groups"))
    per_group = data_cfg.get("per_group")
    exclude = set(data_cfg.get("exclude") or [])
    out, seen = [], {}
    for i in split.train:
        if entries[i].key in exclude:
            continue
        g = entries[i].group
        seen[g] = seen.get(g, 0) + 1
        if per_group is None or seen[g] <= int(per_group):
            out.append(entries[i])
    return out


def source_graphs(data_cfg: Mapping[str, Any]) -> list[tuple[str, str, OpGraph]]:
    """(name, category, raw OpGraph) for every model of the data source."""
    source = data_cfg.get("source", "zoo")
    if source == "corpus":
        return [(e.key, e.group, e.graph) for e in corpus_training_entries(data_cfg)]
    if source == "zoo":
        return [
            (e.name, e.category, g)
            for e, g in load_zoo(data_cfg.get("cache_dir"), data_cfg.get("models"))
        ]
    if isinstance(source, Sequence) and not isinstance(source, str):
        out = []
        for item in source:
            if not isinstance(item, Mapping) or "path" not in item or "category" not in item:
                raise ConfigError(f"data.source items need 'path' and 'category', got {item!r}")
            name = str(item.get("name") or model_name(item["path"]))
            graph = graph_of(item["path"])
            graph.name = name
            out.append((name, str(item["category"]), graph))
        return out
    raise ConfigError(
        f"data.source must be 'zoo', 'corpus' or a list of {{path, category}}, got {source!r}"
    )


def variant_sources(data_cfg: Mapping[str, Any]) -> dict[str, str]:
    """Model name -> source spec (``torchvision:NAME`` or a path) for producing variants."""
    source = data_cfg.get("source", "zoo")
    if source == "zoo":
        return {e.name: f"torchvision:{e.name}" for e in TABLE1}
    if source == "corpus":
        return {e.key: e.spec for e in corpus_training_entries(data_cfg)}

    out = {}
    for item in source if isinstance(source, Sequence) and not isinstance(source, str) else []:
        if isinstance(item, Mapping) and "path" in item:
            out[str(item.get("name") or model_name(item["path"]))] = str(item["path"])
    return out


def variant_graphs(
    data_cfg: Mapping[str, Any], names: Sequence[str], progress: bool | None = None
) -> dict[tuple[str, str], OpGraph]:
    """Raw variant graphs ``{(transform, model): graph}`` for the recipe's ``data.variants``."""
    transforms = list(data_cfg.get("variants") or [])
    if not transforms:
        return {}
    for t in transforms:
        if get_transform(str(t)).derived:  # a copy of its source it is not
            raise ConfigError(f"data.variants: {t} makes a derived architecture, not a copy")
    specs = variant_sources(data_cfg)
    sources = [(n, specs[n]) for n in names if n in specs]
    built = build_variants(
        sources,
        transforms,
        cache_dir=data_cfg.get("variant_cache"),
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    return {k: v.graph for k, v in built.items() if v.graph is not None}


def build_dataset(
    recipe: Mapping[str, Any],
    raw: list[tuple[str, str, OpGraph]] | None = None,
    progress: bool | None = None,
) -> GraphDataset:
    """Build the augmented, split dataset that a recipe describes.

    ``progress`` shows a bar while training-time variants are built (minutes on a fresh
    cache) and while the copies are canonicalised; default: when stderr is a terminal.
    """
    from tqdm import tqdm

    data = recipe.get("data", {})
    graph_cfg = recipe.get("graph", {})
    copies = int(data.get("copies", 10))
    frac = float(data.get("delete_frac", 0.1))
    train_frac = float(data.get("train_frac", 0.8))
    seed = int(data.get("seed", 0))
    holdout = set(data.get("holdout") or [])
    delete_on = str(data.get("delete_on", "prepared"))
    if delete_on not in ("prepared", "raw"):
        raise ConfigError(f"data.delete_on must be prepared or raw, got {delete_on!r}")
    raw = source_graphs(data) if raw is None else raw
    names = {n for n, _, _ in raw}
    unknown = holdout - names
    if unknown:
        raise ConfigError(f"data.holdout names unknown models: {sorted(unknown)}")
    if copies < 1:
        raise ConfigError("data.copies must be >= 1")
    transforms = [str(t) for t in data.get("variants") or []]
    variant_copies = int(data.get("variant_copies", 1))
    if variant_copies < 0:
        raise ConfigError("data.variant_copies must be >= 0")
    extra = (
        variant_graphs(data, [n for n, _, _ in raw if n not in holdout], progress)
        if transforms and variant_copies
        else {}
    )
    categories = sorted({c for n, c, _ in raw if n not in holdout})
    label_of = {c: i for i, c in enumerate(categories)}
    n_train = max(1, min(copies, int(round(train_frac * copies)))) if copies > 1 else 1
    ds = GraphDataset([], [], [], [], categories)
    plan = _CopyPlan(
        graph_cfg, copies, frac, seed, delete_on, n_train, holdout, transforms, variant_copies
    )
    # Canonicalising every copy of a corpus architecture takes minutes on the hub corpus.
    show = sys.stderr.isatty() if progress is None else progress
    for name, category, g in tqdm(raw, desc="dataset", unit="model", disable=not show):
        merged, _ = prepare_graph(g, graph_cfg)
        merged.name = name
        label = label_of.get(category, -1)
        ds.originals.append(Sample(merged, name, category, -1, label))
        plan.add_deletion_copies(ds, g, merged, name, category, label)
        plan.add_variant_copies(ds, extra, merged, name, category, label)
    if not ds.train:
        raise ConfigError("the dataset has no training samples")
    _log_counts(ds)
    return ds


@dataclass
class _CopyPlan:
    """How the ``data`` section of a recipe makes the copies of each model."""

    graph_cfg: Mapping[str, Any]
    copies: int
    frac: float  # the share of nodes a copy deletes
    seed: int
    delete_on: str  # prepared or raw
    n_train: int  # copies of a model that go to training, the rest to test
    holdout: set[str]
    transforms: list[str]
    variant_copies: int

    def add_deletion_copies(
        self, ds: GraphDataset, g: OpGraph, merged: OpGraph, name: str, category: str, label: int
    ) -> None:
        """The model's node-deletion copies: to unseen when held out, else train or test."""
        for c in range(self.copies):
            if self.frac <= 0:
                aug = merged.copy()
            elif self.delete_on == "raw":  # delete ONNX nodes, then canonicalise and merge the rest
                deleted = delete_nodes(g, self.frac, _copy_seed(self.seed, name, c))
                aug, _ = prepare_graph(deleted, self.graph_cfg)
            else:
                aug = delete_nodes(merged, self.frac, _copy_seed(self.seed, name, c))
            aug.name = f"{name}#{c}"
            s = Sample(aug, name, category, c, label)
            if name in self.holdout:
                ds.unseen.append(s)
            elif c < self.n_train:
                ds.train.append(s)
            else:
                ds.test.append(s)

    def add_variant_copies(
        self,
        ds: GraphDataset,
        extra: Mapping[tuple[str, str], OpGraph],
        merged: OpGraph,
        name: str,
        category: str,
        label: int,
    ) -> None:
        """Training copies of the model's variants (``extra``: raw graph per transform and
        model), numbered after its deletion copies."""
        k = self.copies
        own = merged.content_hash() if self.transforms else ""
        for t in self.transforms:
            vg = extra.get((t, name))
            if vg is None or name in self.holdout:
                continue
            vm, _ = prepare_graph(vg, self.graph_cfg)
            if vm.content_hash() == own:
                continue  # canonicalisation already removed this transform's differences
            for c in range(self.variant_copies):
                seed_c = _copy_seed(self.seed, f"{name}/{t}", c)
                aug = delete_nodes(vm, self.frac, seed_c) if self.frac > 0 else vm.copy()
                aug.name = f"{name}#{t}{c}"
                ds.train.append(Sample(aug, name, category, k, label, variant=t))
                k += 1


def _log_counts(ds: GraphDataset) -> None:
    per_variant: dict[str, int] = {}
    for s in ds.train:
        if s.variant:
            per_variant[s.variant] = per_variant.get(s.variant, 0) + 1
    log.info(
        "dataset: %d training copies (%d database, variants %s), %d test, %d unseen",
        len(ds.train),
        len(ds.database),
        per_variant or "none",
        len(ds.test),
        len(ds.unseen),
    )
