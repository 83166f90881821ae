"""hnnframe.presets: the named graph pipelines, and recipes that name them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from support.models import TINY_INPUT, TinyResNet

from hnnframe.cli import main
from hnnframe.errors import ConfigError, RegistryError
from hnnframe.pipeline import check_names, graph_of, prepare_graph
from hnnframe.presets import (
    INVARIANT_PASSES,
    PAPER_RULES,
    PRESETS,
    ROBUST_MERGE,
    ROBUST_PASSES,
    Preset,
    resolve_graph,
)
from hnnframe.recipe import RECIPE_DIR, load_recipe


def test_every_preset_names_registered_passes_and_rules() -> None:
    assert {"paper", "robust", "robust_resolution", "invariant"} <= set(PRESETS.names())
    for name in PRESETS.names():
        section = PRESETS.build(name)
        check_names(section["merge"], section["canonical"])  # RegistryError on a stale name
        assert section == PRESETS.build(name) and section is not PRESETS.build(name)


def test_bundled_recipes_hold_explicit_lists() -> None:
    robust = PRESETS.build("robust")
    for path in sorted(RECIPE_DIR.glob("*.yaml")):
        graph = load_recipe(path.stem).get("graph", {})
        assert set(graph) <= {"canonical", "merge"}, path.stem
    # The robust recipes: the robust preset with the resolution pass last.
    for name in ("hnn_net_robust", "hnn_hub"):
        graph = load_recipe(name)["graph"]
        assert graph["canonical"] == [*robust["canonical"], "normalise_resolution"], name
        assert graph["merge"] == robust["merge"] == ROBUST_MERGE, name
    paper = load_recipe("hnn_net")["graph"]
    assert paper == {"canonical": [], "merge": PAPER_RULES}


def test_overrides_pick_another_preset_or_replace_its_lists() -> None:
    inv = load_recipe("hnn_net_robust", ["graph.preset=invariant"])["graph"]
    assert inv == {"canonical": INVARIANT_PASSES, "merge": []}
    no_merge = load_recipe("hnn_net_robust", ["graph.merge=[]"])["graph"]
    assert no_merge["merge"] == [] and no_merge["canonical"][: len(ROBUST_PASSES)] == ROBUST_PASSES
    with pytest.raises(RegistryError, match="valid: .*invariant.*robust"):
        load_recipe("hnn_net", ["graph.preset=robustt"])


def test_extra_passes_go_on_top_and_other_keys_stay() -> None:
    section = {"preset": "robust", "extra_canonical": ["absorb_activation"], "note": 1}
    out = resolve_graph(section)
    assert out == {
        "canonical": [*ROBUST_PASSES, "absorb_activation"],
        "merge": ROBUST_MERGE,
        "note": 1,
    }
    assert list(out) == ["canonical", "merge", "note"]
    mine = resolve_graph({"canonical": ["fold_bn"], "extra_merge": ["conv_relu"]})
    assert mine == {"canonical": ["fold_bn"], "merge": ["conv_relu"]}
    # A section without preset keys (an older recipe, a checkpoint's) is itself.
    old = {"canonical": ["fold_bn"], "merge": ["conv_relu"]}
    assert resolve_graph(old) == old
    with pytest.raises(ConfigError, match="extra_canonical is a list"):
        resolve_graph({"preset": "robust", "extra_canonical": "fold_bn"})
    with pytest.raises(ConfigError, match="graph section is a mapping"):
        resolve_graph(["robust"])  # type: ignore[arg-type]


def test_a_plugin_preset_works_in_a_recipe(tmp_path: Path) -> None:
    PRESETS.register("test_robust_bn", Preset(("fold_bn",), ("conv_relu",)))
    try:
        (tmp_path / "mine.yaml").write_text("graph: {preset: test_robust_bn}\n")
        assert load_recipe(str(tmp_path / "mine.yaml"))["graph"] == {
            "canonical": ["fold_bn"],
            "merge": ["conv_relu"],
        }
    finally:
        PRESETS.unregister("test_robust_bn")


def test_prepare_graph_takes_a_preset_or_its_lists() -> None:
    torch.manual_seed(0)
    raw = graph_of(TinyResNet(), example_input=torch.zeros(*TINY_INPUT))
    named, named_counts = prepare_graph(raw, {"preset": "robust"})
    explicit, counts = prepare_graph(raw, {"canonical": ROBUST_PASSES, "merge": ROBUST_MERGE})
    assert named.content_hash() == explicit.content_hash() and named_counts == counts
    assert named.content_hash() != raw.content_hash()


def test_hnn_list_shows_the_graph_presets(capsys: pytest.CaptureFixture[str]) -> None:
    """`hnn list` gathers PRESETS with the other registries, a preset registered later too."""
    assert main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["graph_presets"]
    assert listed == PRESETS.names() and {"paper", "robust", "invariant"} <= set(listed)
    PRESETS.register("test_listed_nop", Preset(tuple(ROBUST_PASSES), ()))
    try:
        assert main(["list"]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("graph_"))
        assert "robust_resolution" in line and "test_listed_nop" in line
    finally:
        PRESETS.unregister("test_listed_nop")
