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
* with ``--transforms``, tool copies made by :mod:`hnnframe.variants` (onnxsim, onnxruntime's
  optimizers, ...), counted like the folded export;
* named twins (``--twin A=B``, e.g. torchvision's and timm's ``efficientnet_b0``): whether the
  two names canonicalise to one graph, which the tier then treats as one architecture.

No checkpoint is needed: the digest depends on the recipe's graph section only. Exports are
cached (weight-stripped ONNX) in ``--cache``, so a rerun only canonicalises.

    python benchmarks/arch_tier.py --twin torchvision:efficientnet_b0=timm:efficientnet_b0 \
        --transforms onnxsim,ort_basic,ort_extended --out docs/arch_tier.md
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import warnings
from itertools import combinations
from pathlib import Path
from typing import Any

from _common import command as bench_command

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
        torch.onnx.export(
            module,
            (x,),
            buf,
            dynamo=False,
            opset_version=17,
            training=train,
            do_constant_folding=folded,
        )
    proto = strip_weights(onnx.load_from_string(buf.getvalue()))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(proto.SerializeToString())
    tmp.replace(path)
    return path


def graphs_of(files: dict[tuple[str, str], Path]) -> dict[tuple[str, str], Any]:
    """The raw graph of every cached export."""
    from hnnframe.frontends import load_onnx_file
    from hnnframe.ir import from_onnx

    return {k: from_onnx(load_onnx_file(p), k[0]) for k, p in files.items()}


def tool_copies(
    specs: list[str], transforms: list[str], cache: Path
) -> tuple[dict[tuple[str, str], Any], list[str]]:
    """The raw graph of each ``hnnframe.variants`` transform (a real tool: onnxsim,
    onnxruntime, dynamo...) of each source, by ``(spec, transform)``; and the copies a tool
    could not make."""
    from hnnframe.variants import build_variants

    made = build_variants([(s, s) for s in specs], transforms, cache / "variants", progress=True)
    graphs = {(s, t): v.graph for (t, s), v in made.items() if v.ok}
    return graphs, [f"{t}:{s.split(':')[1]}" for (t, s), v in made.items() if not v.ok]


def digests(graphs: dict[Any, Any], recipe: str) -> tuple[dict[Any, str], list[float]]:
    """The canonical-graph digest of every graph under ``recipe``'s graph section, and the
    seconds each digest took (structure_hash alone)."""
    from hnnframe.hashing import graph_digest
    from hnnframe.pipeline import prepare_graph
    from hnnframe.recipe import load_recipe

    cfg = load_recipe(recipe).get("graph", {})
    graph_digest(next(iter(graphs.values())).copy())  # the first call imports networkx
    out, secs = {}, []
    for key, g in graphs.items():
        g, _ = prepare_graph(g, cfg)
        t = time.perf_counter()
        out[key] = graph_digest(g)
        secs.append(time.perf_counter() - t)
    return out, secs


def measure(
    names: list[str], twins: list[tuple[str, str]], transforms: list[str], cache: Path
) -> dict[str, Any]:
    from tqdm import tqdm

    specs = [f"torchvision:{n}" for n in names]
    todo = [(s, m) for s in specs for m in MODES] + [(s, "unfolded") for t in twins for s in t]
    files = {k: export(k[0], k[1], cache) for k in tqdm(todo, desc="exports", unit="file")}
    graphs = graphs_of(files)
    copies, failed = tool_copies(specs, transforms, cache) if transforms else ({}, [])
    graphs.update(copies)
    kinds = ["folded", *transforms]
    rows = []
    for recipe in RECIPES:
        d, secs = digests(graphs, recipe)
        of = {s: {v for (a, _), v in d.items() if a == s} for s in specs}
        false = [(a, b) for a, b in combinations(specs, 2) if of[a] & of[b]]
        found = {
            k: [s for s in specs if (s, k) in d and d[(s, k)] == d[(s, "unfolded")]] for k in kinds
        }
        made = {k: sum((s, k) in d for s in specs) for k in kinds}
        rows.append(
            {
                "recipe": recipe,
                "archs": len(specs),
                "pairs": len(specs) * (len(specs) - 1) // 2,
                "graphs": len(d),
                "false": false,
                "found": {k: (len(found[k]), made[k]) for k in kinds},
                "missed": {
                    k: [s for s in specs if (s, k) in d and s not in found[k]] for k in kinds
                },
                "twins": [(a, b, d[(a, "unfolded")] == d[(b, "unfolded")]) for a, b in twins],
                "digest_ms": 1000 * statistics.median(secs),
                "digest_ms_max": 1000 * max(secs),
            }
        )
    return {"rows": rows, "kinds": kinds, "failed": failed}


def markdown(res: dict[str, Any], command: str, seconds: float) -> str:
    kinds = res["kinds"]
    lines = [
        "# The exact-architecture tier on the zoo",
        "",
        "Made by `" + command + f"` in {seconds:.0f} s (CPU, exports cached in `--cache`).",
        "",
        f"The {res['rows'][0]['archs']} torchvision architectures of Table 1, each exported "
        "by the TorchScript exporter in hnnframe's mode (training-preserve, no constant "
        "folding: the database entry), and copies of it: `folded` is the exporter's defaults "
        "(eval mode, constant folding, BatchNorm folded into the convolutions); any other "
        "column is a tool of `hnnframe.variants` applied to the model. The digest is the one "
        "the index stores (`hnnframe.hashing.graph_digest`: `OpGraph.structure_hash` of the "
        "graph after the recipe's canonicalisation passes and merge rules). *False same "
        "architecture* counts pairs of distinct architectures any of whose graphs (entry or "
        "copies) share a digest; a *copies found* cell, the copies whose digest is their own "
        "entry's, of those the tool made.",
        "",
        "| recipe (graph section) | architectures | graphs | pairs | false same architecture | "
        + " | ".join(f"found: {k}" for k in kinds)
        + " | digest ms (median, max) |",
        "|---|---|---|---|---|" + "---|" * len(kinds) + "---|",
    ]
    for r in res["rows"]:
        cells = " | ".join(f"{r['found'][k][0]} / {r['found'][k][1]}" for k in kinds)
        lines.append(
            f"| {r['recipe']} | {r['archs']} | {r['graphs']} | {r['pairs']} | "
            f"{len(r['false'])} | {cells} | {r['digest_ms']:.1f}, "
            f"{r['digest_ms_max']:.1f} |"
        )
    if res["failed"]:
        lines += ["", f"Copies a tool could not make: {', '.join(res['failed'])}."]
    for r in res["rows"]:
        if r["false"]:
            pairs = ", ".join(f"{a} = {b}" for a, b in r["false"])
            lines += ["", f"{r['recipe']}: architectures sharing a digest: {pairs}."]
        for k, missed in r["missed"].items():
            if missed:
                lines += [
                    "",
                    f"{r['recipe']}: {k} copies on another digest than their entry: "
                    f"{', '.join(m.split(':')[1] for m in missed)}.",
                ]
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
    p.add_argument(
        "--twin",
        action="append",
        default=[],
        metavar="A=B",
        help="two named sources that may be one network",
    )
    p.add_argument(
        "--transforms",
        default="",
        help="comma-separated hnnframe.variants transforms to make tool copies with "
        "(e.g. onnxsim,ort_basic; default none)",
    )
    p.add_argument("--out", type=Path, help="Markdown file to write the figures to")
    args = p.parse_args(argv)
    from hnnframe.data.zoo import TABLE1
    from hnnframe.files import cache_path

    cache = cache_path("arch_tier", args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    names = args.models.split(",") if args.models else [e.name for e in TABLE1]
    twins = [tuple(t.split("=", 1)) for t in args.twin]
    t0 = time.perf_counter()
    transforms = [t for t in args.transforms.split(",") if t]
    res = measure(names, twins, transforms, cache)  # type: ignore[arg-type]
    command = bench_command(__file__, argv)
    text = markdown(res, command, time.perf_counter() - t0)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
