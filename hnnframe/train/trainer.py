"""The training recipe's steps (after torchtune's recipes): setup, train an epoch, evaluate,
save a checkpoint, clean up; :meth:`Trainer.fit` runs them in that order.

Each epoch draws one partner for every training graph (:mod:`hnnframe.data.pairs`), forms
mini-batches of ``batch_pairs`` pairs and minimises eq. 6 with Adam; the GED targets are
computed once before the first epoch (:mod:`hnnframe.data.targets`). An evaluation hashes the
training set (database) and the test set (queries) and logs retrieval metrics, the share of
bits that flipped since the previous evaluation and the balance of each bit. The checkpoint
and the training state (:mod:`hnnframe.train_resume`) are written atomically after every
epoch, so a killed run started again in the same directory loses at most the epoch in progress.
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hnnframe.checkpoint import build_model, save_checkpoint
from hnnframe.data.dataset import GraphDataset, build_dataset
from hnnframe.data.inputs import Splits, encode_splits
from hnnframe.data.pairs import sample_pairs
from hnnframe.data.targets import Targets, build_targets
from hnnframe.dgl_compat import dgl
from hnnframe.encoders import NODE_ENCODERS, NodeEncoder
from hnnframe.errors import ConfigError
from hnnframe.log import get_logger
from hnnframe.losses import HashLoss, PairBatch
from hnnframe.metric_logging import TensorBoardLogger, flat_hparams
from hnnframe.nn import infer
from hnnframe.train.config import RecipeConfig, train_section
from hnnframe.train.evaluation import bit_scalars, query_scalars
from hnnframe.train_resume import clear_resume, load_resume, restore_streams, save_resume

log = get_logger(__name__)

Callback = Callable[[int, dict[str, float]], None]


def seed_everything(seed: int) -> None:
    """Python, numpy, torch and DGL from one seed, so that a CPU run is deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    dgl.seed(seed)


@dataclass
class Setup:
    """What :meth:`Trainer.setup` builds once: data, inputs, targets, model and optimiser."""

    ds: GraphDataset
    encoder: NodeEncoder
    inputs: Splits
    targets: Targets
    model: Any  # HashNet
    criterion: HashLoss
    opt: torch.optim.Optimizer
    logger: TensorBoardLogger


@dataclass
class Progress:
    """What changes from epoch to epoch, and what a resumed run restores."""

    rng: np.random.Generator  # the epochs' pair draws
    start: int = 1  # the first epoch this run trains
    before: float = 0.0  # seconds spent by the runs this one resumes
    prev_codes: np.ndarray | None = None  # the training codes at the last evaluation
    db: dict[str, np.ndarray] | None = None  # the last evaluation's training-set inference
    final: dict[str, float] = field(default_factory=dict)  # the last epoch's scalars


class Trainer:
    """Trains the recipe's HashNet and writes ``out_dir/model.pt`` and TensorBoard logs."""

    def __init__(
        self,
        recipe: Mapping[str, Any],
        out_dir: str | os.PathLike[str],
        progress: bool = True,
        dataset: GraphDataset | None = None,
        logger: TensorBoardLogger | None = None,
        callbacks: Sequence[Callback] = (),
        resume: bool = True,
    ) -> None:
        self.recipe = copy.deepcopy(dict(recipe))
        self.train_cfg = train_section(self.recipe)
        self.recipe["train"] = self.train_cfg
        self.cfg = RecipeConfig.from_recipe(self.recipe)
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.device = self.cfg.train.device
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {self.device!r} requested but CUDA is not available")
        self._dataset = dataset
        self._logger = logger
        # Called after every epoch with (epoch, scalars); a callback may raise to stop training
        # (an Optuna pruner raises TrialPruned). The checkpoint of that epoch is already saved.
        self.callbacks = list(callbacks)
        self.history: list[dict[str, float]] = []
        # Continue an interrupted run of the same recipe in out_dir (False: start afresh).
        self.resume = resume

    def fit(self) -> dict[str, Any]:
        """Set up, restore an interrupted run, train and evaluate every epoch, clean up."""
        from tqdm import tqdm

        tc = self.cfg.train
        s = self.setup()
        p = self.restore(s)
        bar = tqdm(
            range(p.start, tc.epochs + 1),
            desc=f"train {self.cfg.name}",
            unit="epoch",
            initial=p.start - 1,
            total=tc.epochs,
            disable=not self.progress,
        )
        t0 = time.perf_counter()
        for epoch in bar:
            scalars = self.train_epoch(s, p)
            if tc.evaluates(epoch):
                scalars.update(self.evaluate(s, p, epoch))
            s.logger.log_dict(scalars, epoch)
            self.history.append({"epoch": epoch, **scalars})
            p.final = scalars
            bar.set_postfix(
                loss=f"{scalars['loss/total']:.3g}",
                mAP=f"{scalars.get('val/mAP', float('nan')):.3f}",
            )
            self.save_checkpoint(s, p, epoch, p.before + time.perf_counter() - t0)
            try:
                for cb in self.callbacks:
                    cb(epoch, scalars)
            except BaseException:
                bar.close()
                s.logger.close()
                raise
        return self.cleanup(s, p, p.before + time.perf_counter() - t0)

    # -- the recipe's steps ------------------------------------------------------------------
    def setup(self) -> Setup:
        """Seeds, dataset, encoder, inputs, targets, model, loss, optimiser and logger, in the
        order that fixes the random streams."""
        tc = self.cfg.train
        seed_everything(tc.seed)
        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        ds = self._dataset or build_dataset(self.recipe, progress=self.progress)
        encoder = NODE_ENCODERS.build(self.cfg.encoder).fit(s.graph for s in ds.train)
        inputs = encode_splits(ds, encoder)
        targets = build_targets(ds, inputs.train.labels.numpy(), self.cfg.targets, self.progress)
        model = build_model(self.recipe, encoder.dim, len(ds.categories)).to(self.device)
        context = {
            "num_instances": targets.num_instances,
            "num_classes": len(ds.categories),
            "bits": int(model.bits),
        }
        criterion = HashLoss(self.cfg.loss, context).to(self.device)
        # Loss terms may learn too (instance proxies); they are not part of the checkpoint.
        opt = torch.optim.Adam(
            [*model.parameters(), *criterion.parameters()], lr=tc.lr, weight_decay=tc.weight_decay
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        logger = self._logger or TensorBoardLogger(self.out_dir / "tb")
        logger.log_config(self.recipe)
        return Setup(ds, encoder, inputs, targets, model, criterion, opt, logger)

    def restore(self, s: Setup) -> Progress:
        """The state of an interrupted run of this recipe in ``out_dir``, or a fresh start."""
        p = Progress(rng=np.random.default_rng(self.cfg.train.seed))
        state = load_resume(self.out_dir, self.recipe) if self.resume else None
        if state is None:
            if not self.resume:
                clear_resume(self.out_dir)
            return p
        s.model.load_state_dict(state["model"])
        s.criterion.load_state_dict(state["criterion"])
        s.opt.load_state_dict(state["optimizer"])
        restore_streams(state, p.rng)
        if state["prev_codes"] is not None:
            p.prev_codes = state["prev_codes"].numpy()
        self.history = json.loads(state["history_json"])
        p.final = dict(self.history[-1]) if self.history else {}
        p.start, p.before = int(state["epoch"]) + 1, float(state["seconds"])
        log.info(
            "%s: resuming after epoch %d of %d", self.out_dir, p.start - 1, self.cfg.train.epochs
        )
        return p

    def train_epoch(self, s: Setup, p: Progress) -> dict[str, float]:
        """One pass over freshly drawn pairs; the mean of every loss term, and the lr."""
        tc = self.cfg.train
        s.model.train()
        pairs = sample_pairs(p.rng, s.inputs.train.labels.numpy(), tc.same_frac, s.targets.pool)
        sums: dict[str, float] = {}
        nb = 0
        for b in range(0, len(pairs), tc.batch_pairs):
            parts = self.train_step(s, pairs[b : b + tc.batch_pairs])
            nb += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
        scalars = {f"loss/{k}": v / max(nb, 1) for k, v in sums.items()}
        scalars["lr"] = s.opt.param_groups[0]["lr"]
        return scalars

    def train_step(self, s: Setup, chunk: np.ndarray) -> dict[str, float]:
        """One optimiser step on a mini-batch of ``[m, 2]`` index pairs; the loss terms."""
        train, t, dev = s.inputs.train, s.targets, self.device
        i, j = chunk[:, 0], chunk[:, 1]
        bg = dgl.batch([train.graphs[k] for k in i] + [train.graphs[k] for k in j]).to(dev)
        out = s.model(bg)
        m = len(chunk)
        batch = PairBatch(
            train.labels[i].to(dev),
            train.labels[j].to(dev),
            torch.from_numpy(t.ged[i, j]).to(dev),
            train.sizes[i].to(dev),
            train.sizes[j].to(dev),
            t.instance[i].to(dev),
            t.instance[j].to(dev),
        )
        loss, parts = s.criterion(out[:m], out[m:], batch)
        s.opt.zero_grad()
        loss.backward()
        s.opt.step()
        return parts

    def evaluate(self, s: Setup, p: Progress, epoch: int) -> dict[str, float]:
        """Bit statistics and training accuracy, then retrieval of the test copies (protocol
        a) and held-out architectures (protocol b) against the training copies (not the
        training-time variants: see GraphDataset.database)."""
        labels = s.inputs.train.labels.numpy()
        p.db = infer(s.model, s.inputs.train.graphs, self.device)
        codes = p.db["codes"]
        scalars = bit_scalars(codes, p.prev_codes, s.logger, epoch)
        p.prev_codes = codes
        scalars["train/accuracy"] = float((p.db["pred"] == labels).mean())
        in_db = np.array(s.ds.database_mask, dtype=bool)
        database = (codes[in_db], p.db["embedding"][in_db], labels[in_db])
        for prefix, queries in (("val", s.inputs.test), ("unseen", s.inputs.unseen)):
            scalars.update(
                query_scalars(
                    s.model, queries, prefix, database, self.cfg.train.eval_k, self.device
                )
            )
        return scalars

    def save_checkpoint(self, s: Setup, p: Progress, epoch: int, seconds: float) -> None:
        """The model checkpoint and the resumable training state, both atomic."""
        self.save(s.model, s.encoder, s.ds.categories, self.out_dir / "model.pt", epoch)
        save_resume(
            self.out_dir,
            self.recipe,
            epoch,
            s.model,
            s.criterion,
            s.opt,
            p.rng,
            p.prev_codes,
            self.history,
            seconds,
        )

    def cleanup(self, s: Setup, p: Progress, seconds: float) -> dict[str, Any]:
        """The run's last TensorBoard records, the resume state removed; the summary."""
        # Embedding-projector view of the training set with model names as metadata; the last
        # epoch always evaluates, so ``db`` already holds the final model's training embeddings.
        db = p.db if p.db is not None else infer(s.model, s.inputs.train.graphs, self.device)
        if hasattr(s.logger, "log_embedding"):
            meta = [[x.model, x.category, str(x.copy)] for x in s.ds.train]
            s.logger.log_embedding(db["embedding"], meta, ["model", "category", "copy"])
        if hasattr(s.logger, "log_hparams"):
            hp = {f"hparam/{k}": v for k, v in p.final.items() if "/" in k}
            s.logger.log_hparams(flat_hparams(self.recipe), hp)
        s.logger.close()
        clear_resume(self.out_dir)
        return {
            "epochs": self.cfg.train.epochs,
            "resumed_after": p.start - 1,
            "seconds": seconds,
            "final": p.final,
            "checkpoint": str(self.out_dir / "model.pt"),
        }

    def save(
        self, model: Any, encoder: NodeEncoder, categories: list[str], path: Path, epoch: int
    ) -> None:
        save_checkpoint(path, model, encoder, categories, self.recipe, epoch)


def train_recipe(
    recipe: Mapping[str, Any], out_dir: str | os.PathLike[str], progress: bool = True
) -> dict[str, Any]:
    """Train a recipe end to end; returns a summary with the checkpoint path."""
    return Trainer(recipe, out_dir, progress=progress).fit()
