"""hnn demo's database and lookups go through a real hash index: on the tiny models, the table
it prints is the one a distance matrix gives (nearest by distance, then by order; ties)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

import hnnframe.index as hindex
from hnnframe.codes import hamming_matrix
from hnnframe.commands.demo import _index_slice, _lookup
from hnnframe.hashing import Hasher
from hnnframe.pipeline import graph_of
from hnnframe.protocol_c import CheckpointCoder
from hnnframe.upload import describe_uploads


def test_the_demo_table_through_the_index_is_the_distance_matrix_table(
    tiny_checkpoint: Path, tiny_onnx_models: list[Path], tmp_path: Path
) -> None:
    hasher = Hasher.from_checkpoint(tiny_checkpoint)
    entries = [
        SimpleNamespace(key=p.stem, group=f"f{i % 2}", graph=graph_of(str(p)))
        for i, p in enumerate(tiny_onnx_models)
    ]
    coder = CheckpointCoder(hasher)
    db = hasher.hash_graphs([hasher.graph(e.graph) for e in entries])["codes"]
    d_db = hamming_matrix(db, db)
    printed: list[str] = []
    with hindex.open(tmp_path / "db.db") as idx:
        ids, shared = _index_slice(idx, entries, coder, lambda *a: printed.append(" ".join(a)))
        assert shared == int(((d_db == 0).sum(axis=1) > 1).sum())
        assert "into the database" in printed[0]
        for e in entries:
            [up] = describe_uploads([e.graph], coder, names=[e.key])
            found, minimum = _lookup(idx, entries, ids, (e.key, None, "itself"), up, 3)
            d = hamming_matrix(hasher.hash_graphs([hasher.graph(e.graph)])["codes"], db)[0]
            order = np.argsort(d, kind="stable")[:3]
            want = [
                {"entry": entries[i].key, "family": entries[i].group, "hamming": int(d[i])}
                for i in order
            ]
            assert found["nearest"] == want
            assert found["tied_at_minimum"] == int((d == d.min()).sum())
            assert minimum == int(d.min()) and found["own_is_nearest"]
