"""The exact-architecture tier on the paper's zoo: false "same architecture" and found copies.

The index's ``same architecture`` tier compares the digest of the canonical graph
(:func:`hnnframe.hashing.graph_digest` of the graph after the checkpoint recipe's
canonicalisation passes and merge rules). Over the 21 torchvision architectures of Table 1,
each exported with the TorchScript exporter's two common modes (hnnframe's own: training-
preserve without constant folding, the database entry; and the exporter's defaults: eval mode
with constant folding, which folds BatchNorm into the convolutions, the tool copy), and under the
graph section of each recipe given, this reports:

* **false "same architecture"**: pairs of distinct architectures any of whose exports share a
  digest (the tier would call them one network);
* **copies found**: architectures whose folded export has the digest of their own unfolded
  export (the tier names the right architecture for that copy);
* named twins (``--twin A=B``, e.g. torchvision's and timm's ``efficientnet_b0``): whether the
  two names canonicalise to one graph, which the tier then treats as one architecture.

No checkpoint is needed: the digest depends on the recipe's graph section only. Exports are
cached (weight-stripped ONNX) in ``--cache``, so a rerun only canonicalises.

    python benchmarks/arch_tier.py --out docs/arch_tier.md
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import warnings
from itertools import combinations
from pathlib import Path
from typing import Any

RECIPES = ("hnn_net_robust", "hnn_net")
MODES = ("unfolded", "folded")


def export(spec: str, mode: str, cache: Path) -> Path:
    """The weight-stripped ONNX of ``spec`` exported in ``mode`` (cached)."""
    import onnx
    import torch

    from hnnframe.frontends import build_module, example_input, source_label, strip_weights

    path = cache / f"{source_label(spec)}-{spec.split(':')[0]}-{mode}.onnx"
    if path.exists():
        return path
    module = build_module(spec).eval()
    x = example_input(spec, module)
    buf = io.BytesIO()
    folded = mode == "folded"
    train = torch.onnx.TrainingMode.EVAL if folded else torch.onnx.TrainingMode.PRESERVE
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer warnings
        torch.onnx.export(module, (x,), buf, dynamo=False, opset_version=17, training=train,
                          do_constant_folding=folded)  # fmt: skip
    proto = strip_weights(onnx.load_from_string(buf.getvalue()))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(proto.SerializeToString())
    tmp.replace(path)
    return path


def digests(files: dict[tuple[str, str], Path], recipe: str) -> tuple[dict[Any, str], list[float]]:
    """The canonical-graph digest of every export under ``recipe``'s graph section, and the
    seconds each digest took (structure_hash alone)."""
    from hnnframe.frontends import load_onnx_file
    from hnnframe.hashing import graph_digest
    from hnnframe.ir import from_onnx
    from hnnframe.pipeline import prepare_graph
    from hnnframe.recipe import load_recipe

    cfg = load_recipe(recipe).get("graph", {})
    graph_digest(from_onnx(load_onnx_file(next(iter(files.values()))), "warm-up"))  # imports
    out, secs = {}, []
    for key, path in files.items():
        g, _ = prepare_graph(from_onnx(load_onnx_file(path), key[0]), cfg)
        t = time.perf_counter()
        out[key] = graph_digest(g)
        secs.append(time.perf_counter() - t)
    return out, secs


def measure(names: list[str], twins: list[tuple[str, str]], cache: Path) -> dict[str, Any]:
    from tqdm import tqdm

    specs = [f"torchvision:{n}" for n in names]
    todo = [(s, m) for s in specs for m in MODES] + [(s, "unfolded") for t in twins for s in t]
    files = {k: export(k[0], k[1], cache) for k in tqdm(todo, desc="exports", unit="file")}
    rows = []
    for recipe in RECIPES:
        d, secs = digests(files, recipe)
        false = [(a, b) for a, b in combinations(specs, 2)
                 if {d[(a, m)] for m in MODES} & {d[(b, m)] for m in MODES}]  # fmt: skip
        missed = [s for s in specs if d[(s, "folded")] != d[(s, "unfolded")]]
        rows.append({
            "recipe": recipe, "archs": len(specs), "pairs": len(specs) * (len(specs) - 1) // 2,
            "false": false, "found": len(specs) - len(missed), "missed": missed,
            "twins": [(a, b, d[(a, "unfolded")] == d[(b, "unfolded")]) for a, b in twins],
            "digest_ms": 1000 * statistics.median(secs), "digest_ms_max": 1000 * max(secs),
        })  # fmt: skip
    return {"rows": rows}


def markdown(res: dict[str, Any], command: str, seconds: float) -> str:
    lines = [
        "# The exact-architecture tier on the zoo",
        "",
        "Made by `" + command + f"` in {seconds:.0f} s (CPU, exports cached in `--cache`).",
        "",
        f"The {res['rows'][0]['archs']} torchvision architectures of Table 1, each exported "
        "by the TorchScript "
        "exporter in two modes: hnnframe's own (training-preserve, no constant folding: the "
        "database entry) and the exporter's defaults (eval mode, constant folding, BatchNorm "
        "folded into the convolutions: the tool copy). The digest is the one the index stores "
        "(`hnnframe.hashing.graph_digest`: `OpGraph.structure_hash` of the graph after the "
        "recipe's canonicalisation passes and merge rules). *False same architecture* counts "
        "pairs of distinct architectures any of whose exports share a digest; *copies found*, "
        "architectures whose folded export has its own unfolded export's digest.",
        "",
        "| recipe (graph section) | architectures | pairs | false same architecture "
        "| copies found | digest ms (median, max) |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(f"| {r['recipe']} | {r['archs']} | {r['pairs']} | {len(r['false'])} | "
                     f"{r['found']} / {r['archs']} | {r['digest_ms']:.1f}, "
                     f"{r['digest_ms_max']:.1f} |")  # fmt: skip
    for r in res["rows"]:
        if r["false"]:
            pairs = ", ".join(f"{a} = {b}" for a, b in r["false"])
            lines += ["", f"{r['recipe']}: architectures sharing a digest: {pairs}."]
        if r["missed"]:
            lines += ["", f"{r['recipe']}: folded copies on another digest than their own "
                      f"export: {', '.join(m.split(':')[1] for m in r['missed'])}."]  # fmt: skip
        for a, b, same in r["twins"]:
            verdict = "one canonical graph (one architecture)" if same else "different graphs"
            lines += ["", f"{r['recipe']}: twins `{a}` and `{b}`: {verdict}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--cache", type=Path, help="export cache (default: the hnnframe cache)")
    p.add_argument("--models", help="comma-separated zoo names (default: all 21)")
    p.add_argument("--twin", action="append", default=[], metavar="A=B",
                   help="two named sources that may be one network")  # fmt: skip
    p.add_argument("--out", type=Path, help="Markdown file to write the figures to")
    args = p.parse_args(argv)
    from hnnframe.data.zoo import TABLE1
    from hnnframe.files import cache_path

    cache = cache_path("arch_tier", args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    names = args.models.split(",") if args.models else [e.name for e in TABLE1]
    twins = [tuple(t.split("=", 1)) for t in args.twin]
    t0 = time.perf_counter()
    res = measure(names, twins, cache)  # type: ignore[arg-type]
    command = "python benchmarks/arch_tier.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:])
    )
    text = markdown(res, command.strip(), time.perf_counter() - t0)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
