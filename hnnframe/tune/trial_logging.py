"""The TensorBoard run of one trial, whose HParams entry is written even when it is pruned."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from hnnframe.metric_logging import TensorBoardLogger


class TrialLogger(TensorBoardLogger):
    """A :class:`TensorBoardLogger` per trial (``OUT/tb/trial_NNNN``) for the HParams tab.

    The trainer writes HParams only at the end of a complete run; a pruned trial stops early,
    so :meth:`close` writes its entry then, with the sampled values, the trial number, its
    state (``complete`` or ``pruned``) and the last logged metrics.

    Args:
        log_dir: the trial's TensorBoard folder.
        trial_number: the Optuna trial number.
        params: the trial's sampled values (dotted recipe keys).
    """

    def __init__(
        self, log_dir: str | os.PathLike[str], trial_number: int, params: Mapping[str, Any]
    ) -> None:
        super().__init__(log_dir)
        self.number = trial_number
        self.params = dict(params)
        self.last: dict[str, float] = {}
        self.state = "pruned"
        self._hparams_done = False

    def log_dict(self, values: Mapping[str, float], step: int) -> None:
        super().log_dict(values, step)
        self.last.update({k: float(v) for k, v in values.items()})
        self.last["epochs"] = float(step)

    def log_hparams(self, hparams: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        # The trainer calls this only when every epoch ran; the metrics come from self.last.
        self.state = "complete"
        self._write_hparams(hparams)

    def _write_hparams(self, hparams: Mapping[str, Any]) -> None:
        self._hparams_done = True
        hp = {**hparams, **self.params, "trial": self.number, "state": self.state}
        super().log_hparams(
            hp, {f"hparam/{k}": v for k, v in self.last.items() if "/" in k or k == "epochs"}
        )

    def close(self) -> None:
        if not self._hparams_done:
            self._write_hparams(self.params)
        super().close()
