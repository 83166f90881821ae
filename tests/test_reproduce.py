"""The reproduction (hnnframe.reproduce): run plans, results blocks and their tables."""

from __future__ import annotations

from pathlib import Path

from hnnframe.files import read_block
from hnnframe.reproduce import (
    RECIPE_CANDIDATES,
    recipe_runs,
    recipes_markdown,
    wall_clock_line,
    write_block,
)
from hnnframe.robustness import write_results


def test_write_block_replaces_only_its_block(tmp_path: Path) -> None:
    p = tmp_path / "results.md"
    write_block(p, "one", "first")
    write_block(p, "two", "second")
    write_block(p, "one", "first, again")
    text = p.read_text()
    assert "first, again" in text and "second" in text and text.count("<!-- one:begin -->") == 1
    assert text.index("first, again") < text.index("second")


def test_one_block_writer_keeps_the_hand_written_text(tmp_path: Path) -> None:
    """docs/results.md blocks, the robustness block's sections and README's block share
    hnnframe.files.write_block: the text around a block stays byte for byte."""
    p = tmp_path / "doc.md"
    p.write_text("# Doc\n\nby hand above\n")
    write_block(p, "one", "first")
    write_results(p, "a", "section a")
    write_results(p, "b", "section b")
    p.write_text(p.read_text() + "by hand below\n")
    write_results(p, "a", "section a, again")
    write_block(p, "one", "first, again")
    text = p.read_text()
    assert text.startswith("# Doc\n\nby hand above\n\n<!-- one:begin -->\nfirst, again\n")
    assert text.endswith("<!-- robustness:end -->\nby hand below\n")
    block = read_block(p, "robustness")
    assert block is not None and "section a, again" in block and "section b" in block
    assert block.index("section a, again") < block.index("section b")
    assert read_block(p, "absent") is None


def test_recipe_comparison_runs_and_table() -> None:
    runs = recipe_runs(5, seeds=(0, 1))
    assert len(runs) == len(RECIPE_CANDIDATES) * 2 * 2
    assert len({r.name for r in runs}) == len(runs)
    b = [r for r in runs if r.meta["protocol"] == "b"]
    assert all(any(o.startswith("data.holdout=") for o in r.overrides) for r in b)
    assert all("train.epochs=5" in r.overrides and "hash.bits=32" in r.overrides for r in runs)
    # Every run's recipe resolves (a candidate may set its own Q after the default 32).
    from hnnframe.checkpoint import code_layout
    from hnnframe.recipe import load_recipe

    for r in runs:
        learned, _ = code_layout(load_recipe(r.recipe, r.overrides))
        assert learned >= 8, r.name

    def result(run: object, f1r2: float, m: float) -> dict:
        metrics = {"f1@10": 0.6, "mAP": m, "f1@r2": f1r2}
        return {
            **run.meta,
            "run": run.name,
            "seconds": 60.0,
            "epochs": 5,  # type: ignore[attr-defined]
            "metrics": {"a": metrics, "b": metrics},
            "wl": {"a": metrics, "b": metrics},
        }

    # Seed 0 good, seed 1 poor: the goal is judged on the mean, the range shows both.
    results = [result(r, 0.99 if r.meta["seed"] == 0 else 0.85, 0.95) for r in runs]
    text = recipes_markdown(results, "hnn reproduce recipes", 5)
    row = next(line for line in text.splitlines() if line.startswith("| HNN-Net (paper)"))
    assert "0.920 (0.850-0.990)" in row and row.endswith("| missed |")
    assert "WL SimHash" in text and "hnn reproduce recipes" in text


def test_wall_clock_line_only_claims_a_full_run() -> None:
    assert "12.0 min" in wall_clock_line([{"run": "a"}, {"run": "b"}], 720)
    line = wall_clock_line([{"run": "a", "reused": True}, {"run": "b"}], 720)
    assert "1 of 2 runs were reused" in line and "min" not in line


def test_table2_plan_and_table() -> None:
    from hnnframe.reproduce import METHODS, table2_markdown, table2_runs

    runs = table2_runs(3)
    assert len(runs) == 24 and len({r.name for r in runs}) == 24
    assert sum(r.meta["protocol"] == "a" for r in runs) == 18
    metrics = {
        k: 0.5
        for k in ("precision@10", "recall@10", "f1@10", "mAP", "precision@r2", "recall@r2", "f1@r2")
    }
    results = [
        {
            **r.meta,
            "run": r.name,
            "seconds": 30.0,
            "epochs": 3,
            "metrics": {"a": metrics, "b": metrics},
            "wl": {"a": metrics, "b": metrics},
        }
        for r in runs
    ]
    text = table2_markdown(results, "hnn reproduce table2", 3)
    assert "| - / " not in text and "0.500 / 0.762" in text  # HNN-Net raw 32 F1 in the paper
    assert "hnn reproduce table2" in text and "12.0 min" in text
    assert (
        sum(
            line.startswith(f"| {label} | ")
            for label in METHODS.values()
            for line in text.splitlines()
        )
        == 3 * 3 + 3 + 3 * 2
    )
