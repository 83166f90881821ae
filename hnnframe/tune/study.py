"""Running a study: its one worker in this process, or ``--jobs`` worker processes.

Each process is spawned, not forked, and shares the study through the storage like a remote
worker (:class:`hnnframe.tune.worker.Worker` takes the trials).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from hnnframe.data.dataset import build_dataset
from hnnframe.tune.report import study_summary, write_best_recipe
from hnnframe.tune.settings import TuneConfig, metric_list
from hnnframe.tune.storage import redact
from hnnframe.tune.worker import Worker, check_unseen


def _worker_main(cfg_dict: dict[str, Any], index: int) -> dict[str, Any]:
    """Entry point of a ``--jobs`` worker process."""
    cfg = TuneConfig(**cfg_dict)
    from hnnframe.train import DEFAULT_TRAIN  # torch and DGL: only in the worker processes

    threads = int(cfg.recipe.get("train", {}).get("threads", DEFAULT_TRAIN["threads"]))
    if threads == 0:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(cfg.jobs, 1)))

    def emit(line: str) -> None:
        print(f"[w{index}] {line}", file=sys.stderr, flush=True)

    worker = Worker(cfg, index, emit if cfg.progress else None)
    return worker.run()


def run_study(cfg: TuneConfig, emit: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or continue) a study with ``cfg.jobs`` worker processes; returns its summary.

    With one job the worker runs in this process. With more, each job is a fresh process
    (spawned, not forked) that shares the study through the storage like a remote worker.

    Raises:
        TuneError: for storage or study problems; ConfigError for a bad recipe.
    """
    out = Path(cfg.out_dir)
    # Open the storage and the study once here: a bad URL or a changed search space fails
    # before any worker starts, and the data are checked once.
    first = Worker(cfg, 0, emit)
    out.mkdir(parents=True, exist_ok=True)
    if first._dataset_for(cfg.recipe) is None:  # searched data: check the base recipe's
        check_unseen(build_dataset(cfg.recipe))
    if cfg.jobs <= 1:
        ran = first.run()["ran"]
    else:
        ran = []
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=cfg.jobs, mp_context=ctx) as pool:
            futs = [pool.submit(_worker_main, cfg.__dict__, i) for i in range(cfg.jobs)]
            for f in futs:
                ran += f.result()["ran"]
    return {
        **study_summary(first.study, ", ".join(metric_list(cfg.settings))),
        "ran": sorted(ran),
        "trials_requested": cfg.trials,
        "storage": redact(cfg.storage),
        "out": str(out),
        "best_recipe": write_best_recipe(first.study, out / "best.yaml"),
    }
