"""A CLI that starts fast (issue 24): the ``hnn`` commands that compute no code import neither
torch nor DGL. Each runs in a fresh interpreter, which then reports what it imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.index import ROOT, fake

import hnnframe.index as hindex

pytest_plugins = ["support.index"]

HEAVY = ("torch", "dgl", "onnx", "fastapi", "uvicorn")
PROBE = (
    "import sys, json\n"
    "from hnnframe.cli import main\n"
    "try:\n"
    "    rc = main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    rc = e.code\n"
    "print(json.dumps({'rc': rc, 'heavy': sorted(m for m in sys.modules\n"
    "    if m.split('.')[0] in " + repr(HEAVY) + ")}), file=sys.stderr)\n"
)


def _imports(*argv: str) -> dict:
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return json.loads(r.stderr.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("lazy") / "index.db")
    with hindex.open(path) as idx:
        idx.add(fake(4), fingerprint="a" * 64)
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["index", "stats"],
        ["index", "list"],
        ["index", "search", "id:2", "-k", "2"],
        ["index", "search", "hex:0011223344556677"],
        ["index", "remove", "4"],
        ["serve", "--help"],
    ],
)
def test_commands_without_code_computation_import_no_torch(db, argv):
    extra = ["--db", db] if argv[0] == "index" else []
    got = _imports(*argv, *extra)
    assert got["rc"] == 0 and got["heavy"] == [], got


def test_search_by_id_gives_the_record_itself_first(db, capsys):
    from support.index import run_cli

    rc, out, _ = run_cli(capsys, "search", "--db", db, "id:2", "-k", "1", "--json")
    [res] = json.loads(out)
    assert rc == 0 and res["matches"][0]["id"] == 2 and res["matches"][0]["distance"] == 0
    rc, _, err = run_cli(capsys, "search", "--db", db, "id:x")
    assert rc == 2 and "id: takes a record id" in err
