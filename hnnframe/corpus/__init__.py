"""The hub corpus: hundreds of architectures from torchvision, timm and transformers, graphs
only (never weights), with a family label each; the measuring stick of protocol (c)."""

from hnnframe.corpus.build import build_corpus, parse_shard
from hnnframe.corpus.catalog import Candidate, candidates, family_group
from hnnframe.corpus.split import DEFAULT_HOLDOUT, Split, split_corpus
from hnnframe.corpus.store import (
    CorpusEntry,
    corpus_dir,
    load_corpus,
    read_manifest,
    records,
    write_manifest,
)

__all__ = [
    "Candidate",
    "DEFAULT_HOLDOUT",
    "Split",
    "split_corpus",
    "CorpusEntry",
    "build_corpus",
    "candidates",
    "corpus_dir",
    "family_group",
    "load_corpus",
    "parse_shard",
    "read_manifest",
    "records",
    "write_manifest",
]
