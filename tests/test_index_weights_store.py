"""Storage of the weight tier in the hash index, on SQLite and PostgreSQL: weight codes searched
by Hamming distance (in SQL on PostgreSQL, ``bit_count(code_bits # query)``), weight rows kept
consistent through removes and rehashes, and indexes of schema 1 (before the weight tier)
migrated when they are opened, by one process or by many at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.index import FP_A, ROOT, fake, make_schema1_index, random_prints

import hnnframe.index as hindex
from hnnframe.codes import hamming
from hnnframe.errors import IndexStoreError
from hnnframe.hashing import Hasher
from hnnframe.index.sql import SCHEMA_VERSION
from hnnframe.weights.fingerprint import fingerprint

pytest_plugins = ["support.index"]


@pytest.fixture
def bed(weight_bed: dict[str, Path]) -> dict[str, Path]:
    return weight_bed


@pytest.fixture
def hasher(weight_hasher: Hasher) -> Hasher:
    return weight_hasher


def test_weight_codes_are_searched_by_hamming_distance(url) -> None:
    recs, prints = fake(200, bits=64, seed=4), random_prints(200)
    prints[7] = None  # a model without weights among them
    with hindex.open(url) as idx:
        ids = [r.id for r in idx.add(recs, fingerprint=FP_A, weights=prints)]
        held = [(p.code, i) for p, i in zip(prints, ids, strict=True) if p is not None]
        for q in (prints[3].code, prints[150].code, bytes(32)):
            want = sorted((hamming(q, c), i) for c, i in held)
            for k, radius in [(5, None), (None, 120), (3, 124)]:
                got = [(m.distance, m.record.id) for m in idx.search_weights(q, k=k, radius=radius)]
                exp = [p for p in want if radius is None or p[0] <= radius]
                assert got == (exp if k is None else exp[:k])
        with pytest.raises(IndexStoreError, match="256-bit weight codes"):
            idx.search_weights(bytes(8), k=1)


@pytest.mark.postgres
def test_postgres_weight_search_in_sql(pg_schema: str) -> None:
    """PostgreSQL computes weight distances in SQL (``bit_count(code_bits # query)``), with
    the same results and tie order as the in-memory scan."""
    recs, prints = fake(300, bits=64, seed=5), random_prints(300, seed=5)
    prints[10].code = prints[20].code  # a tie at distance 0
    with hindex.open(pg_schema) as sql, hindex.open(pg_schema, search="memory") as mem:
        sql.add(recs, fingerprint=FP_A, weights=prints)
        for q in (prints[10].code, prints[299].code):
            for k, r in [(10, None), (None, 118), (4, 122)]:
                a = [(m.distance, m.record.id) for m in sql.search_weights(q, k=k, radius=r)]
                b = [(m.distance, m.record.id) for m in mem.search_weights(q, k=k, radius=r)]
                assert a == b and a
        store = sql._store
        with store.transaction(write=False) as cur:
            cur.execute("SELECT length(code_bits), bits FROM hnn_weights LIMIT 1")
            assert cur.fetchone() == (256, 256)


def test_remove_and_rehash_keep_the_weight_tables_consistent(
    url, bed, hasher, tiny_checkpoint
) -> None:
    with hindex.open(url) as idx:
        idx.add_models([bed["exact_onnx"]], hasher, checkpoint=tiny_checkpoint)
        [seed] = idx.add_models([bed["seed0"]], hasher, structure=bed["exact_onnx"])
        seed_code = fingerprint(bed["seed0"]).code
        assert [m.record.id for m in idx.search_weights(seed_code, k=1)] == [seed.id]
        # a rehash hashes the weights file from its structure and keeps every weight record
        res = idx.rehash(hasher, checkpoint=tiny_checkpoint)
        assert res["rehashed"] == 2 and res["dropped"] == []
        assert idx.get(seed.id).weights is not None and idx.verify() == []
        idx.remove([seed.id])
        s = idx.stats()
        assert s["weights"]["records"] == 1 and s["weights"]["digests"] == 4
        assert idx.verify() == []
        assert all(m.record.id != seed.id for m in idx.search_weights(seed_code, k=10))
        [(_, v)] = idx.check_models([bed["seed0"]], hasher, structure=bed["exact_onnx"])
        assert v.tier == "same architecture"  # its own record is gone; its structure's stays


def test_schema1_index_is_migrated(url, bed, hasher) -> None:
    """An index made before the weight tier (schema 1) opens, is migrated in place, keeps its
    records and binding, and takes models with weights."""
    old = fake(5, bits=hasher.bits, seed=7)
    make_schema1_index(url, old, hasher.fingerprint)
    with hindex.open(url, create=False) as idx:
        s = idx.stats()
        assert (
            s["schema_version"] == SCHEMA_VERSION
            and s["records"] == 5
            and s["weights"]["records"] == 0
        )
        assert [(r.name, r.code, r.weights, r.structure) for r in idx.list()] == [
            (r.name, r.code, None, None) for r in old
        ]
        assert idx.binding.fingerprint == hasher.fingerprint and idx.verify() == []
        assert idx.search(old[2], k=1)[0].record.name == "m2"
        [r] = idx.add_models([bed["exact_onnx"]], hasher)
        assert r.added and r.weights is not None and r.id == 6
        [(_, v)] = idx.check_models([bed["fp16"]], hasher)
        assert v.tier == "weight match" and v.candidates[0].record.id == 6
    with hindex.open(url, create=False) as again:  # a second open finds the work done
        assert again.stats()["schema_version"] == SCHEMA_VERSION and len(again) == 6


def test_schema1_index_opened_by_many_processes_at_once(url, tmp_path) -> None:
    """Four processes open a schema-1 index at the same moment: one migrates it, the others
    wait for its write lock and find the work done."""
    make_schema1_index(url, fake(3, bits=64, seed=8), FP_A)
    go = tmp_path / "go"
    code = (
        "import os, sys, time\n"
        "import hnnframe.index as h\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.005)\n"
        "with h.open(sys.argv[1], create=False) as idx:\n"
        "    print(idx.stats()['schema_version'], len(idx), idx.verify())\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, str(go)],
            cwd=ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    time.sleep(0.5)
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == f"{SCHEMA_VERSION} 3 []", err
