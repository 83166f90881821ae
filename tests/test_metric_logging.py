"""hnnframe.metric_logging: the TensorBoard logger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hnnframe.metric_logging import TensorBoardLogger


def test_a_rerun_replaces_the_projector_files_without_a_warning_on_stdout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    for k in range(2):  # a second training run into the same directory
        logger = TensorBoardLogger(tmp_path / "tb")
        emb = np.full((3, 4), float(k), dtype=np.float32)
        logger.log_embedding(emb, [["a", "x"], ["b", "y"], ["c", "z"]], ["model", "category"])
        logger.close()
    out = capfd.readouterr().out
    assert "Embedding dir exists" not in out
    tensors = (tmp_path / "tb" / "00000" / "embedding" / "tensors.tsv").read_text()
    assert tensors.split("\t")[0].strip() == "1.0"  # the second run's embedding
