"""The family split of protocol (c): whole family groups held out of training.

The database is every distinct architecture of the corpus, seen and held-out together (the
21 zoo models included). Training sees only the architectures of the training groups; the
queries are transformed copies of the held-out groups' architectures. A group joins the
families of one design across libraries (:func:`hnnframe.corpus.catalog.family_group`), so a
held-out family is not seen in training through another library either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from hnnframe.corpus.catalog import family_group
from hnnframe.corpus.store import CorpusEntry
from hnnframe.errors import ConfigError
from hnnframe.ir import OpGraph
from hnnframe.presets import PRESETS

# Held out by default: transformers (encoders, decoders, an encoder-decoder) and CNN and ViT
# families of timm and transformers. The zoo's groups stay in training, so protocols (a) and
# (b) on the zoo are unaffected by what protocol (c) holds out.
DEFAULT_HOLDOUT: tuple[str, ...] = (
    # transformers
    "bert",
    "electra",
    "gpt2",
    "gpt_neox",
    "t5",
    "phi",
    # CNNs
    "convnext",
    "regnet",
    "dla",
    "hrnet",
    "ghostnet",
    "rexnet",
    "res2net",
    "sknet",
    "vovnet",
    "dpn",
    "hardcorenas",
    "selecsls",
    # ViTs and hybrids
    "levit",
    "mobilevit",
    "cait",
    "pit",
    "twins",
    "coat",
    "xcit",
    "nest",
    "tnt",
    "efficientformer",
    "edgenext",
    "visformer",
    "convmixer",
    "vision_transformer",
)


@dataclass
class Split:
    """Indices into the database (one entry per architecture) of both sides."""

    entries: list[CorpusEntry]
    train: list[int]
    test: list[int]
    holdout: tuple[str, ...]

    @cached_property
    def twins(self) -> list[frozenset[int]]:
        """Per architecture, the architectures with its canonical graph, itself included
        (:func:`canonical_twins`): one network under two names (timm's and torchvision's
        ``efficientnet_b0``) is one architecture in protocol (c), second version."""
        return canonical_twins([e.graph for e in self.entries])

    @property
    def train_groups(self) -> list[str]:
        return sorted({self.entries[i].group for i in self.train})

    @property
    def test_groups(self) -> list[str]:
        return sorted({self.entries[i].group for i in self.test})


def canonical_twins(graphs: Sequence[OpGraph]) -> list[frozenset[int]]:
    """Per graph, the indices of the graphs whose canonical graph (the ``robust`` preset:
    ``ROBUST_PASSES`` and ``ROBUST_MERGE``) is its own, up to node order
    (:meth:`~hnnframe.ir.OpGraph.structure_hash`, what the exact-architecture tier
    compares)."""
    from hnnframe.pipeline import prepare_graph

    cfg = PRESETS.build("robust")
    digests = [prepare_graph(g, cfg)[0].structure_hash() for g in graphs]
    by: dict[str, set[int]] = {}
    for i, d in enumerate(digests):
        by.setdefault(d, set()).add(i)
    return [frozenset(by[d]) for d in digests]


def split_corpus(entries: Sequence[CorpusEntry], holdout: Iterable[str] | None = None) -> Split:
    """Hold out every architecture whose group is in ``holdout`` (default
    :data:`DEFAULT_HOLDOUT`; groups it names that the corpus lacks are ignored). Names go
    through :func:`~hnnframe.corpus.catalog.family_group`; a given group that the corpus does
    not have is an error, so a misspelt family never silently goes into training."""
    # A family name or an alias holds out its group (deit -> vision_transformer).
    held = tuple(
        dict.fromkeys(family_group(h) for h in (DEFAULT_HOLDOUT if holdout is None else holdout))
    )
    if holdout is not None:
        unknown = sorted(set(held) - {e.group for e in entries})
        if unknown:
            raise ConfigError(f"protocol (c): held-out group(s) {unknown} are not in the corpus")
    test = [i for i, e in enumerate(entries) if e.group in held]
    train = [i for i, e in enumerate(entries) if e.group not in held]
    if not test:
        raise ConfigError("protocol (c): no architecture of the corpus is in a held-out group")
    if not train:
        raise ConfigError("protocol (c): every architecture of the corpus is held out")
    return Split(list(entries), train, test, held)
