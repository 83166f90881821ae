"""Pairwise training of HashNet (paper sections 3.4 and 4.1.2) as a recipe, logged to
TensorBoard.

* :mod:`hnnframe.train.config`: typed views of the recipe's sections (``TrainConfig``);
* :mod:`hnnframe.train.trainer`: the recipe's steps (setup, train epoch, evaluate, save
  checkpoint, cleanup) and :meth:`Trainer.fit`, which runs them;
* :mod:`hnnframe.train.evaluation`: the figures an evaluation epoch logs.

Pairs, GED targets and the network's inputs are built next to the data
(:mod:`hnnframe.data.pairs`, :mod:`hnnframe.data.targets`, :mod:`hnnframe.data.inputs`); the
resumable state is :mod:`hnnframe.train_resume`.
"""

from hnnframe.train.config import DEFAULT_TRAIN, RecipeConfig, TrainConfig
from hnnframe.train.trainer import Trainer, seed_everything, train_recipe

__all__ = [
    "DEFAULT_TRAIN",
    "RecipeConfig",
    "TrainConfig",
    "Trainer",
    "seed_everything",
    "train_recipe",
]
