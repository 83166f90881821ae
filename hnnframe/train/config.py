"""Typed views of a recipe's training sections, after torchtune's per-section recipe configs.

The recipe itself stays a plain mapping: it is what the checkpoint, ``recipe.yaml``,
TensorBoard's HParams and the resume digest record. :class:`TrainConfig` is its ``train``
section with the defaults filled in and every value converted once; :class:`RecipeConfig`
gathers the sections :class:`hnnframe.train.Trainer` reads. The other sections go to their own
builders: ``data`` to :func:`hnnframe.data.dataset.build_dataset`, ``encoder`` to
``NODE_ENCODERS``, ``model`` and ``hash`` to :func:`hnnframe.checkpoint.build_model`, ``loss``
to :class:`hnnframe.losses.HashLoss`, and ``ged`` with ``ged_cache`` to
:class:`hnnframe.data.targets.TargetConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from hnnframe.data.targets import TargetConfig
from hnnframe.errors import ConfigError

# A field's annotation (a string under postponed evaluation) to the conversion of its value:
# YAML reads ``1e-3`` as a string, and a key=value override may give an int for a float.
_CASTS = {"int": int, "float": float, "str": str}


@dataclass(frozen=True)
class TrainConfig:
    """The recipe's ``train`` section (paper section 4.1.2: Adam, lr 1e-3, 10 pairs a batch)."""

    epochs: int = 200
    batch_pairs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    same_frac: float = 0.5
    seed: int = 0
    device: str = "cpu"
    eval_every: int = 1
    eval_k: int = 10
    ged_jobs: int = 2
    # 0: GED targets for every pair of training graphs (the paper's setting). K > 0: every
    # training graph gets K partners drawn once (a share same_frac of its category) and GED is
    # computed for those pairs only; each epoch draws one of them. All pairs are unaffordable
    # on the hub corpus (docs/ged_scale.md measures it); K = 4 costs 4 GEDs per graph.
    partners: int = 0
    # copies: the topology target of a pair is the GED of its two graphs (the paper). With
    # architectures, it is the distance of the two graphs' architectures (their originals),
    # and 0 for two copies of one architecture: copies are positives, not small edits.
    ged_on: str = "copies"
    # torch intra-op threads; 0 keeps torch's default. These graphs are small, so one thread is
    # as fast as two and avoids OpenMP threads spinning against each other when several runs
    # (or other jobs) share the cores, which slowed epochs by an order of magnitude here.
    threads: int = 1

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> TrainConfig:
        """Converted values of a complete ``train`` section (see :func:`train_section`)."""
        return cls(**{f.name: _CASTS[str(f.type)](section[f.name]) for f in fields(cls)})

    def evaluates(self, epoch: int) -> bool:
        """Whether ``epoch`` evaluates: every ``eval_every`` epochs and always the last."""
        return epoch % self.eval_every == 0 or epoch == self.epochs


# The defaults as a mapping: the resolved recipe's train section starts from it, and tune and
# reproduce read it to validate keys and find the epoch count.
DEFAULT_TRAIN: dict[str, Any] = asdict(TrainConfig())


def train_section(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe's ``train`` section with every default filled in; unknown keys are an error."""
    given = recipe.get("train", {})
    unknown = set(given) - set(DEFAULT_TRAIN)
    if unknown:
        raise ConfigError(f"unknown train keys: {sorted(unknown)}; valid: {sorted(DEFAULT_TRAIN)}")
    return {**DEFAULT_TRAIN, **given}


@dataclass(frozen=True)
class RecipeConfig:
    """The sections of a resolved recipe that the training recipe reads itself."""

    name: str
    train: TrainConfig
    targets: TargetConfig
    encoder: Any = "paper"  # a NODE_ENCODERS spec
    loss: Mapping[str, Any] = field(default_factory=dict)  # HashLoss's section

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any]) -> RecipeConfig:
        """``recipe``'s typed view; its ``train`` section must be complete (resolved)."""
        return cls(
            name=str(recipe.get("name", "")),
            train=TrainConfig.from_section(recipe["train"]),
            targets=TargetConfig.from_recipe(recipe, recipe["train"]),
            encoder=recipe.get("encoder", "paper"),
            loss=recipe.get("loss", {}),
        )
