"""Pairwise training of HashNet (paper sections 3.4 and 4.1.2), logged to TensorBoard.

Each epoch draws one partner for every training graph (a share ``same_frac`` from the same
category, the rest at random), forms mini-batches of ``batch_pairs`` pairs, and minimises
eq. 6 with Adam. GEDs of all training pairs are computed once, in parallel, and cached on disk
(:func:`hnnframe.ged.pairwise_ged`). After every epoch the model hashes the training set
(database) and the test set (queries) and logs retrieval metrics, the share of bits that
flipped since the previous epoch and the balance of each bit. The checkpoint and the training
state (:mod:`hnnframe.train_resume`) are written atomically after every epoch, so a killed run
started again in the same directory loses at most the epoch in progress.
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hnnframe.checkpoint import build_model, save_checkpoint
from hnnframe.data.dataset import GraphDataset, Sample, build_dataset
from hnnframe.encoders import NODE_ENCODERS, NodeEncoder
from hnnframe.errors import ConfigError
from hnnframe.evaluate import retrieval_metrics
from hnnframe.log import get_logger
from hnnframe.metric_logging import TensorBoardLogger, flat_hparams
from hnnframe.nn import infer
from hnnframe.train_resume import clear_resume, load_resume, restore_streams, save_resume

log = get_logger(__name__)

DEFAULT_TRAIN: dict[str, Any] = {
    "epochs": 200,
    "batch_pairs": 10,
    "lr": 1e-3,
    "weight_decay": 0.0,
    "same_frac": 0.5,
    "seed": 0,
    "device": "cpu",
    "eval_every": 1,
    "eval_k": 10,
    "ged_jobs": 2,
    # 0: GED targets for every pair of training graphs (the paper's setting). K > 0: every
    # training graph gets K partners drawn once (a share same_frac of its category) and GED is
    # computed for those pairs only; each epoch draws one of them. All pairs are unaffordable
    # on the hub corpus (docs/ged_scale.md measures it); K = 4 costs 4 GEDs per graph.
    "partners": 0,
    # copies: the topology target of a pair is the GED of its two graphs (the paper). With
    # architectures, it is the distance of the two graphs' architectures (their originals),
    # and 0 for two copies of one architecture: copies are positives, not small edits.
    "ged_on": "copies",
    # torch intra-op threads; 0 keeps torch's default. These graphs are small, so one thread is
    # as fast as two and avoids OpenMP threads spinning against each other when several runs
    # (or other jobs) share the cores, which slowed epochs by an order of magnitude here.
    "threads": 1,
}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    from hnnframe.dgl_compat import dgl

    dgl.seed(seed)


# -- model inputs ---------------------------------------------------------------------------------
@dataclass
class Encoded:
    graphs: list[Any]  # DGLGraphs with ndata["feat"]
    labels: torch.Tensor
    sizes: torch.Tensor


def encode_samples(samples: Sequence[Sample], encoder: NodeEncoder) -> Encoded:
    from hnnframe.dgl_compat import to_dgl

    graphs = [to_dgl(s.graph, encoder.encode(s.graph)) for s in samples]
    labels = torch.tensor([s.label for s in samples], dtype=torch.long)
    sizes = torch.tensor([s.graph.num_nodes for s in samples], dtype=torch.float32)
    return Encoded(graphs, labels, sizes)


# -- training -------------------------------------------------------------------------------------
class Trainer:
    """Trains the recipe's HashNet and writes ``out_dir/model.pt`` and TensorBoard logs."""

    def __init__(
        self,
        recipe: Mapping[str, Any],
        out_dir: str | os.PathLike[str],
        progress: bool = True,
        dataset: GraphDataset | None = None,
        logger: TensorBoardLogger | None = None,
        callbacks: Sequence[Callable[[int, dict[str, float]], None]] = (),
        resume: bool = True,
    ) -> None:
        self.recipe = copy.deepcopy(dict(recipe))
        self.train_cfg = {**DEFAULT_TRAIN, **self.recipe.get("train", {})}
        unknown = set(self.recipe.get("train", {})) - set(DEFAULT_TRAIN)
        if unknown:
            raise ConfigError(
                f"unknown train keys: {sorted(unknown)}; valid: {sorted(DEFAULT_TRAIN)}"
            )
        self.recipe["train"] = self.train_cfg
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.device = str(self.train_cfg["device"])
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

    def _ged_targets(self, samples: Sequence[Sample], pool: np.ndarray | None = None) -> np.ndarray:
        """``[n, n]`` GED targets: every pair, or (with a partner pool) the pool's pairs only
        (the other entries are NaN and never drawn)."""
        from hnnframe.files import cache_path
        from hnnframe.ged import pairwise_ged

        spec = self.recipe.get("ged", {"type": "bipartite"})
        cache = self.recipe.get("ged_cache", str(cache_path("ged.sqlite")))
        graphs = [s.graph for s in samples]
        kw = {"method": spec, "jobs": int(self.train_cfg["ged_jobs"]), "cache": cache,
              "progress": self.progress}  # fmt: skip
        if pool is None:
            return np.asarray(pairwise_ged(graphs, **kw), dtype=np.float32)
        n = len(samples)
        i = np.repeat(np.arange(n), pool.shape[1])
        pairs = np.unique(np.sort(np.stack([i, pool.reshape(-1)], axis=1), axis=1), axis=0)
        values = pairwise_ged(graphs, pairs=[tuple(p) for p in pairs.tolist()], **kw)
        out = np.full((n, n), np.nan, dtype=np.float32)
        out[pairs[:, 0], pairs[:, 1]] = values
        out[pairs[:, 1], pairs[:, 0]] = values
        return out

    def _architecture_targets(
        self, ds: GraphDataset, arch_names: list[str], instance: np.ndarray
    ) -> np.ndarray:
        """``[n, n]`` targets from the distances between the samples' architectures."""
        from hnnframe.files import cache_path
        from hnnframe.ged import pairwise_ged

        graph_of = {s.model: s.graph for s in ds.originals}
        spec = self.recipe.get("ged", {"type": "bipartite"})
        cache = self.recipe.get("ged_cache", str(cache_path("ged.sqlite")))
        d = pairwise_ged([graph_of[n] for n in arch_names], method=spec, cache=cache,
                         jobs=int(self.train_cfg["ged_jobs"]), progress=self.progress)  # fmt: skip
        return np.asarray(d, dtype=np.float32)[np.ix_(instance, instance)]

    def _partner_pool(self, labels: np.ndarray, k: int, seed: int) -> np.ndarray:
        """``[n, k]``: k partners per training graph, drawn as an epoch's pairs are."""
        rng = np.random.default_rng([seed, 1])  # its own stream: epochs' draws are unchanged
        rounds = []
        for _ in range(k):
            pairs = self._sample_pairs(rng, labels)
            partner = np.empty(len(labels), dtype=np.int64)
            partner[pairs[:, 0]] = pairs[:, 1]
            rounds.append(partner)
        return np.stack(rounds, axis=1)

    def _sample_pairs(
        self, rng: np.random.Generator, labels: np.ndarray, partners: np.ndarray | None = None
    ) -> np.ndarray:
        n = len(labels)
        if partners is not None:
            firsts = rng.permutation(n)
            pick = rng.integers(partners.shape[1], size=n)
            return np.stack([firsts, partners[firsts, pick]], axis=1)
        by_label: dict[int, np.ndarray] = {
            int(c): np.flatnonzero(labels == c) for c in np.unique(labels)
        }
        firsts = rng.permutation(n)
        seconds = np.empty(n, dtype=np.int64)
        same = rng.random(n) < float(self.train_cfg["same_frac"])
        for k, i in enumerate(firsts):
            pool = by_label[int(labels[i])] if same[k] else None
            if pool is not None and len(pool) > 1:
                j = i
                while j == i:
                    j = int(rng.choice(pool))
            else:
                j = int(rng.integers(n - 1))
                j += j >= i
            seconds[k] = j
        return np.stack([firsts, seconds], axis=1)

    def fit(self) -> dict[str, Any]:
        from hnnframe.dgl_compat import dgl
        from hnnframe.losses import HashLoss, PairBatch

        tc = self.train_cfg
        seed = int(tc["seed"])
        seed_everything(seed)
        if int(tc["threads"]) > 0:
            torch.set_num_threads(int(tc["threads"]))
        ds = self._dataset or build_dataset(self.recipe, progress=self.progress)
        encoder = NODE_ENCODERS.build(self.recipe.get("encoder", "paper")).fit(
            s.graph for s in ds.train
        )
        train = encode_samples(ds.train, encoder)
        test = encode_samples(ds.test, encoder)
        # Copies of held-out architectures (data.holdout): queried against the training set with
        # category relevance, the unseen-architecture protocol.
        unseen = encode_samples(ds.unseen, encoder)
        label_of = {c: i for i, c in enumerate(ds.categories)}
        unseen.labels = torch.tensor(
            [label_of.get(s.category, -1) for s in ds.unseen], dtype=torch.long
        )
        k = int(tc["partners"])
        pool = self._partner_pool(train.labels.numpy(), k, seed) if k > 0 else None
        # Every training architecture is its own class for instance-level loss terms.
        arch_names = sorted({s.model for s in ds.train})
        arch_of = {n: a for a, n in enumerate(arch_names)}
        instance = torch.tensor([arch_of[s.model] for s in ds.train], dtype=torch.long)
        if tc["ged_on"] == "architectures":
            ged = self._architecture_targets(ds, arch_names, instance.numpy())
        elif tc["ged_on"] == "copies":
            ged = self._ged_targets(ds.train, pool)
        else:
            raise ConfigError(f"train.ged_on must be copies or architectures, got {tc['ged_on']!r}")
        model = build_model(self.recipe, encoder.dim, len(ds.categories)).to(self.device)
        context = {"num_instances": len(arch_names), "num_classes": len(ds.categories),
                   "bits": int(model.bits)}  # fmt: skip
        criterion = HashLoss(self.recipe.get("loss", {}), context).to(self.device)
        # Loss terms may learn too (instance proxies); they are not part of the checkpoint.
        opt = torch.optim.Adam(
            [*model.parameters(), *criterion.parameters()],
            lr=float(tc["lr"]),
            weight_decay=float(tc["weight_decay"]),
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        logger = self._logger or TensorBoardLogger(self.out_dir / "tb")
        logger.log_config(self.recipe)
        rng = np.random.default_rng(seed)
        labels_np = train.labels.numpy()
        in_db = np.array(ds.database_mask, dtype=bool)
        db_labels = labels_np[in_db]
        epochs, bp = int(tc["epochs"]), int(tc["batch_pairs"])
        prev_codes: np.ndarray | None = None
        db: dict[str, np.ndarray] | None = None
        final: dict[str, float] = {}
        start, before = 1, 0.0
        state = load_resume(self.out_dir, self.recipe) if self.resume else None
        if state is not None:
            model.load_state_dict(state["model"])
            criterion.load_state_dict(state["criterion"])
            opt.load_state_dict(state["optimizer"])
            restore_streams(state, rng)
            if state["prev_codes"] is not None:
                prev_codes = state["prev_codes"].numpy()
            self.history = json.loads(state["history_json"])
            final = dict(self.history[-1]) if self.history else {}
            start, before = int(state["epoch"]) + 1, float(state["seconds"])
            log.info("%s: resuming after epoch %d of %d", self.out_dir, start - 1, epochs)
        elif not self.resume:
            clear_resume(self.out_dir)
        from tqdm import tqdm

        bar = tqdm(range(start, epochs + 1), desc=f"train {self.recipe.get('name', '')}",
                   unit="epoch", initial=start - 1, total=epochs,
                   disable=not self.progress)  # fmt: skip
        t0 = time.perf_counter()
        step = 0
        for epoch in bar:
            model.train()
            pairs = self._sample_pairs(rng, labels_np, pool)
            sums: dict[str, float] = {}
            nb = 0
            for b in range(0, len(pairs), bp):
                chunk = pairs[b : b + bp]
                i, j = chunk[:, 0], chunk[:, 1]
                bg = dgl.batch([train.graphs[k] for k in i] + [train.graphs[k] for k in j]).to(
                    self.device
                )
                out = model(bg)
                m = len(chunk)
                o1, o2 = out[:m], out[m:]
                batch = PairBatch(
                    train.labels[i].to(self.device),
                    train.labels[j].to(self.device),
                    torch.from_numpy(ged[i, j]).to(self.device),
                    train.sizes[i].to(self.device),
                    train.sizes[j].to(self.device),
                    instance[i].to(self.device),
                    instance[j].to(self.device),
                )
                loss, parts = criterion(o1, o2, batch)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                nb += 1
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
            scalars = {f"loss/{k}": v / max(nb, 1) for k, v in sums.items()}
            scalars["lr"] = opt.param_groups[0]["lr"]
            if epoch % int(tc["eval_every"]) == 0 or epoch == epochs:
                db = infer(model, train.graphs, self.device)
                codes = db["codes"]
                if prev_codes is not None:
                    scalars["bits/flip_rate"] = float((codes != prev_codes).mean())
                prev_codes = codes
                balance = codes.mean(0)
                scalars["bits/imbalance"] = float(np.abs(balance - 0.5).mean())
                if hasattr(logger, "log_histogram"):
                    logger.log_histogram("bits/balance", balance, epoch)
                scalars["train/accuracy"] = float((db["pred"] == labels_np).mean())
                # Test copies (protocol a) and held-out architectures (protocol b) both query
                # the training copies (not the training-time variants: see
                # GraphDataset.database).
                db_codes, db_emb = codes[in_db], db["embedding"][in_db]
                for prefix, queries in (("val", test), ("unseen", unseen)):
                    if not queries.graphs:
                        continue
                    q = infer(model, queries.graphs, self.device)
                    q_labels = queries.labels.numpy()
                    res = retrieval_metrics(
                        q["codes"], q_labels, db_codes, db_labels, k=int(tc["eval_k"]),
                        q_emb=q["embedding"], db_emb=db_emb,
                    )  # fmt: skip
                    scalars.update({f"{prefix}/{k}": v for k, v in res.as_dict().items()})
                    if prefix == "val":
                        scalars["val/accuracy"] = float((q["pred"] == q_labels).mean())
            logger.log_dict(scalars, epoch)
            self.history.append({"epoch": epoch, **scalars})
            final = scalars
            bar.set_postfix(
                loss=f"{scalars['loss/total']:.3g}",
                mAP=f"{scalars.get('val/mAP', float('nan')):.3f}",
            )
            self.save(model, encoder, ds.categories, self.out_dir / "model.pt", epoch)
            save_resume(self.out_dir, self.recipe, epoch, model, criterion, opt, rng, prev_codes,
                        self.history, before + time.perf_counter() - t0)  # fmt: skip
            try:
                for cb in self.callbacks:
                    cb(epoch, scalars)
            except BaseException:
                bar.close()
                logger.close()
                raise
        seconds = before + time.perf_counter() - t0
        # Embedding-projector view of the training set with model names as metadata; the last
        # epoch always evaluates, so ``db`` already holds the final model's training embeddings.
        if db is None:
            db = infer(model, train.graphs, self.device)
        if hasattr(logger, "log_embedding"):
            meta = [[s.model, s.category, str(s.copy)] for s in ds.train]
            logger.log_embedding(db["embedding"], meta, ["model", "category", "copy"])
        if hasattr(logger, "log_hparams"):
            logger.log_hparams(
                flat_hparams(self.recipe), {f"hparam/{k}": v for k, v in final.items() if "/" in k}
            )
        logger.close()
        clear_resume(self.out_dir)
        return {
            "epochs": epochs,
            "resumed_after": start - 1,
            "seconds": seconds,
            "final": final,
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
