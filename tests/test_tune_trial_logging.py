"""hnnframe.tune.trial_logging: a trial's TensorBoard run and its HParams entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnnframe.metric_logging import TensorBoardLogger
from hnnframe.tune import TrialLogger


def hparams_written(log_dir: Path) -> tuple[dict[str, Any], set[str]]:
    """The HParams values and the metric names of the runs under ``log_dir``."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    values: dict[str, Any] = {}
    metrics: set[str] = set()
    for path in sorted(log_dir.rglob("events.*")):
        for event in EventFileLoader(str(path)).Load():
            for v in event.summary.value:
                if v.metadata.plugin_data.plugin_name != "hparams":
                    continue
                data = plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content)
                for k, hp in data.session_start_info.hparams.items():
                    values[k] = getattr(hp, hp.WhichOneof("kind"))
                metrics |= {m.name.tag for m in data.experiment.metric_infos}
    return values, metrics


def test_pruned_trial_writes_its_hparams_on_close(tmp_path: Path) -> None:
    log = TrialLogger(tmp_path / "trial_0003", 3, {"loss.alpha": 2.5, "hash.bits": 16})
    assert isinstance(log, TensorBoardLogger)
    log.log_dict({"loss/total": 1.5, "unseen/mAP": 0.25}, 1)
    log.log_dict({"loss/total": 1.0, "unseen/mAP": 0.5}, 2)
    log.close()  # the trainer stopped early: no log_hparams call
    values, metrics = hparams_written(tmp_path / "trial_0003")
    assert values == {"loss.alpha": 2.5, "hash.bits": 16, "trial": 3, "state": "pruned"}
    assert metrics == {"hparam/loss/total", "hparam/unseen/mAP", "hparam/epochs"}
    assert log.last == {"loss/total": 1.0, "unseen/mAP": 0.5, "epochs": 2.0}


def test_complete_trial_writes_its_hparams_once(tmp_path: Path) -> None:
    log = TrialLogger(tmp_path / "t", 0, {"loss.alpha": 2.5})
    log.log_dict({"unseen/mAP": 0.75}, 1)
    log.log_hparams({"train.lr": 0.001, "loss.alpha": 10.0}, {"hparam/unseen/mAP": 0.75})
    log.close()
    values, _ = hparams_written(tmp_path / "t")
    # the sampled value wins over the recipe's
    assert values == {"train.lr": 0.001, "loss.alpha": 2.5, "trial": 0, "state": "complete"}
    assert len(list((tmp_path / "t").rglob("events.*"))) == 2  # the run and its HParams entry
