"""The weight tier on language models (issue 21, deliverable 1): build the language-model bed
(:mod:`hnnframe.weights.lm_testbed`: tiny Llama, GPT-2 and BERT trained on the standard
library's source, their copies of every kind, independently trained models), fingerprint
every saved directory and GGUF file, and report per copy kind and over the independent pairs
(:mod:`hnnframe.weights.lm_evaluate`).

The bed is cached (``$HNN_CACHE_DIR/weights_lm_testbed`` or ``--bed``): a rerun trains
nothing, and more ``--seeds`` adds only the new independents.

``--with-baseline`` also scores every pair with the Model Provenance Kit re-implementation
(``hnnframe.weights.provenance_kit.compare``, deliverable 2 of the issue), imported only then.

    PYTHONPATH=. python benchmarks/lm_weights.py --write-results docs/weights.md \\
        --write-results docs/results.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from _common import command as bench_command  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BLOCK = "lm-weights"  # docs/*.md: between <!-- lm-weights:begin --> and <!-- lm-weights:end -->


def baseline(root: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The Model Provenance Kit's score per copy kind (AUC against the independent pairs)
    and its verdicts; a copy it cannot read counts as not detected."""
    from hnnframe.weights.evaluate import auc
    from hnnframe.weights.lm_evaluate import independent_pairs

    try:
        from hnnframe.weights.provenance_kit import compare
    except ImportError as e:
        raise SystemExit(
            f"--with-baseline needs hnnframe/weights/provenance_kit.py (issue 21, item 2): {e}"
        ) from e

    models = manifest["models"]

    def score(a: str, b: str) -> tuple[float, float, str]:
        """(its score, its weight score alone, its verdict); -1 where it has none."""
        try:
            r = compare(root / models[a]["path"], root / models[b]["path"])
        except Exception as e:  # noqa: BLE001 - the baseline's own failure is a figure
            return -1.0, -1.0, f"unreadable ({type(e).__name__})"
        ident = -1.0 if math.isnan(r.identity) else float(r.identity)
        return float(r.score), ident, str(r.verdict)

    neg: dict[str, list[tuple[float, float]]] = {}
    neg_verdicts: dict[str, int] = {}
    for arch, pairs in independent_pairs(models).items():
        for a, b in pairs:
            sc, ident, v = score(a, b)
            neg.setdefault(arch, []).append((sc, ident))
            neg_verdicts[v] = neg_verdicts.get(v, 0) + 1
    kinds: dict[str, Any] = {}
    for mid, e in models.items():
        if e["role"] == "copy":
            sc, ident, v = score(mid, e["base"])
            k = kinds.setdefault(e["kind"], {"scores": {}, "verdicts": {}, "n": 0, "detected": 0})
            k["scores"].setdefault(e["arch"], []).append((sc, ident))
            k["verdicts"][v] = k["verdicts"].get(v, 0) + 1
            k["n"] += 1
            k["detected"] += _mpk_detected(v)
    for k in kinds.values():  # a higher score is a copy: AUC of -score as of a distance
        for i, name in ((0, "auc"), (1, "auc_weights")):
            k[name] = min(
                auc([-x[i] for x in s], [-x[i] for x in neg[a]]) for a, s in k["scores"].items()
            )
    flagged = sum(n for v, n in neg_verdicts.items() if _mpk_detected(v))
    return {"kinds": kinds, "independent_verdicts": neg_verdicts, "flagged": flagged}


def _mpk_detected(verdict: str) -> bool:
    """A verdict of the kit that names the pair related (confirmed, high or weak match)."""
    return verdict.split(" (")[0] in ("Confirmed Match", "High-Confidence Match", "Weak Match")


def header(r: dict[str, Any], command: str) -> list[str]:
    """What the bed holds and the command behind the figures."""
    from hnnframe.reproduce.report import provenance
    from hnnframe.weights.lm_testbed import KINDS

    plan = r["plan"]
    return [
        "## Weight tier on language models (issue 21)",
        "",
        provenance(command),
        "",
        f"Bed: {r['models']} models (tiny Llama, GPT-2, BERT: hidden 32, {plan['layers']} "
        f"layers, character vocabulary of 96; originals {plan['steps']} steps, fine-tunes "
        f"{plan['tune_steps']} steps), built in {r['build_seconds'] / 60:.1f} min. Text A and B: "
        "the two halves of the standard library's source (every other file). Independently "
        "trained models per architecture (bases, other seeds on A, other data B): "
        + ", ".join(f"{a} {n}" for a, n in r["independents"].items())
        + f"; every pair of them once: {r['pairs']} same-architecture pairs. Copy kinds: "
        + "; ".join(f"`{k}` {KINDS[k]}" for k in r["kinds"])
        + ". Every copy is compared with its base by `fingerprint` and `match` (what `hnn "
        'weights compare` and `hnn index check` run); "detected": a verdict other than '
        "`none`: the weight codes within the code threshold, or the nearest shared hidden-axis "
        'block within the block threshold (docs/weights.md, "Block codes"). The verdict score '
        "of a pair is the nearer of the two distances in units of its shipped threshold (at "
        "most 1: a weight match; `lm_evaluate.verdict_score`); its AUC ranks copies against the "
        "independent pairs by what the verdict reads, the code's AUC by the code alone. "
        "Thresholds: the "
        "shipped ones (`hnnframe/weights/threshold.json`, written by `hnn weights eval "
        "--lm-bed`: derived on the digits bed's and this bed's independent pairs together, so "
        "the rate on these pairs is in-sample), and the ones re-derived on these pairs alone at "
        f"the same {r['fpr_target']:.1%} FPR per architecture.",
        "",
    ]


def _or_dash(v: Any) -> str:
    return "-" if v is None else str(v)


def section(r: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    """One Q: the independent pairs and the per-kind table."""
    lines = [
        f"### Q = {r['bits']}",
        "",
        f"**Independent pairs flagged at the shipped thresholds (code {r['threshold']}, block "
        f"{r['block_threshold']}): {r['flagged']} "
        f"of {r['pairs']} (FPR {r['fpr']:.2%}; per architecture "
        + ", ".join(f"{a} {v:.2%}" for a, v in r["fpr_per_arch"].items())
        + "). Expected false weight matches of one upload against 1,000 indexed "
        f"same-architecture models: {r['false_per_1000']:.1f} (95% upper bound "
        f"{r['false_per_1000_upper95']:.1f}).** Nearest independent pair {r['negative_min']} "
        f"bits, median {r['negative_median']:.0f}; nearest shared block of an independent pair "
        f"{_or_dash(r['block_negative_min'])} bits, median "
        f"{_or_dash(r['block_negative_median'])}. Re-derived "
        f"thresholds: code {r['rederived_threshold']}, block {r['rederived_block_threshold']} "
        f"(FPR there {r['fpr_rederived']:.2%}, "
        f"{1000 * r['fpr_rederived']:.1f} expected false matches per 1,000). Per "
        "architecture, nearest independent pair / farthest copy of any kind: "
        + ", ".join(
            f"{a} {n} / {max(k['max_per_arch'].get(a, 0) for k in r['kinds'].values())}"
            for a, n in r["negative_min_per_arch"].items()
        )
        + ".",
        "",
        "| copy kind | n | AUC of the verdict score (worst arch) | AUC of the code alone "
        "| detected at shipped "
        f"{r['threshold']}, {r['block_threshold']} | by the code alone | named exact "
        "| median / max code distance to base | max nearest-block distance "
        f"| detected at re-derived {r['rederived_threshold']}, {r['rederived_block_threshold']} |"
        + (" MPK AUC: score / weight score alone | MPK detected |" if base else ""),
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if base else ""),
    ]
    for kind, k in r["kinds"].items():
        row = (
            f"| {kind} | {k['n']} | {k['auc_verdict']:.3f} | {k['auc']:.3f} | "
            f"{k['detected']}/{k['n']} | "
            f"{k['detected_code_alone']}/{k['n']} | {k['exact']}/{k['n']} | "
            f"{k['median']:.0f} / {k['max']} | {_or_dash(k['max_block'])} | "
            f"{k['detected_rederived']}/{k['n']} |"
        )
        if base:
            b = base["kinds"][kind]
            row += f" {b['auc']:.3f} / {b['auc_weights']:.3f} | {b['detected']}/{b['n']} |"
        lines.append(row)
    return lines + [""]


def mpk_notes(base: dict[str, Any], pairs: int) -> list[str]:
    """What the Model Provenance Kit re-implementation said, beside the tables."""
    v = ", ".join(f"{n} {c}" for c, n in sorted(base["independent_verdicts"].items()))
    copies = {}
    for k in base["kinds"].values():
        for c, n in k["verdicts"].items():
            copies[c] = copies.get(c, 0) + n
    return [
        "### The Model Provenance Kit baseline, on the same pairs",
        "",
        "`hnnframe.weights.provenance_kit.compare` (issue 21, item 2; docs/weights.md says what "
        "it re-implements and its anchor stand-in) on every copy and its base and on every "
        "independent pair, side by side with the weight tier in the tables above (its columns "
        'are the same at every Q). "MPK detected": a verdict of Confirmed, High-Confidence or '
        "Weak Match. AUC (worst architecture, as for the weight tier) of its score (config "
        "screening first, as its verdict; a tie for every pair whose configs agree) and of its "
        "weight score alone (`identity`, the five signals); a copy it cannot read (GGUF: no "
        "config.json beside it) scores lowest.",
        "",
        f"**Independent pairs it names related: {base['flagged']} of {pairs}** ({v}). Its "
        "verdicts on all copies: " + ", ".join(f"{n} {c}" for c, n in sorted(copies.items())) + ".",
        "",
    ]


def blocks_table(blocks: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Per architecture, what each block of the code shares between independent models."""
    lines = [
        "### What independent models share, block by block (Q = 256)",
        "",
        "Mean cosine of a block's features between independently trained models of one "
        "architecture (the first 12; 66 pairs), and the block's mean norm, its weight in the "
        "half's sum (`hnnframe.weights.lm_evaluate.block_agreement`). A block near 1 carries "
        "what every model of this data learns, and pulls independent models together.",
        "",
        "| arch | half | tensor shape, axis | cosine between independents | norm |",
        "|---|---|---|---|---|",
    ]
    for arch, rows in blocks.items():
        for b in rows:
            lines.append(
                f"| {arch} | {b['half']} | {tuple(b['shape'])}, {b['axis']} | "
                f"{b['cosine']:.2f} | {b['norm']:.1f} |"
            )
    return lines + [""]


def markdown(
    results: list[dict[str, Any]],
    command: str,
    base: dict[str, Any] | None,
    blocks: dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    """The results block, naming the command that produced it."""
    lines = header(results[0], command)
    for r in results:
        lines += section(r, base)
    if blocks:
        lines += blocks_table(blocks)
    if base:
        lines += mpk_notes(base, results[0]["pairs"])
    else:
        lines += [
            "The Model Provenance Kit baseline columns come with `--with-baseline` "
            "(`hnnframe/weights/provenance_kit.py`, issue 21 item 2); this run was made "
            "without it."
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from hnnframe.reproduce.report import write_block
    from hnnframe.weights.lm_evaluate import evaluate_lm, fingerprint_lm_bed
    from hnnframe.weights.lm_testbed import LMPlan, build_lm_testbed

    d = LMPlan()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bed", help="the bed's folder (default $HNN_CACHE_DIR/weights_lm_testbed)")
    p.add_argument("--bases", type=int, default=d.bases, help="bases per architecture")
    p.add_argument("--seeds", type=int, default=d.seeds, help="other-seed independents per arch")
    p.add_argument("--others", type=int, default=d.others, help="other-data independents per arch")
    p.add_argument("--layers", type=int, default=d.layers)
    p.add_argument("--steps", type=int, default=d.steps, help="training steps of an original")
    p.add_argument("--tune-steps", type=int, default=d.tune_steps, help="steps of a fine-tune")
    p.add_argument("--bits", default="256,512", help="comma-separated Q values")
    p.add_argument("--fpr", type=float, default=0.001, help="per architecture, as hnn weights eval")
    p.add_argument(
        "--with-baseline",
        action="store_true",
        help="also score with hnnframe.weights.provenance_kit (issue 21, item 2)",
    )
    p.add_argument(
        "--blocks", action="store_true", help="also tabulate what independents share per block"
    )
    p.add_argument("--write-results", metavar="MD", action="append", default=[])
    p.add_argument("--json", help="write the figures as JSON here")
    a = p.parse_args(argv)
    plan = LMPlan(
        bases=a.bases,
        seeds=a.seeds,
        others=a.others,
        layers=a.layers,
        steps=a.steps,
        tune_steps=a.tune_steps,
    )
    t0 = time.perf_counter()
    root = build_lm_testbed(a.bed, plan, progress=lambda m: print("built", m, flush=True))
    results = []
    for q in (int(b) for b in a.bits.split(",")):
        manifest, prints = fingerprint_lm_bed(root, q)
        results.append(evaluate_lm(manifest, prints, a.fpr))
    results[0]["plan"] = manifest["plan"]
    results[0]["build_seconds"] = sum(e.get("seconds", 0.0) for e in manifest["models"].values())
    base = baseline(root, manifest) if a.with_baseline else None
    command = bench_command(__file__, argv, env="PYTHONPATH=.")
    blocks = None
    if a.blocks:
        from hnnframe.weights.lm_evaluate import block_agreement

        blocks = {arch: block_agreement(root, manifest, arch) for arch in plan.archs}
    block = markdown(results, command, base, blocks)
    print(block)
    print(f"{time.perf_counter() - t0:.0f} s")
    for md in a.write_results:
        write_block(md, BLOCK, block)
    if a.json:
        Path(a.json).write_text(
            json.dumps({"results": results, "baseline": base}, indent=1, default=str)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
