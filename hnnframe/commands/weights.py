"""``hnn weights``: the weight tier (issue 12). Exact tensor digests and a weight perceptual
code for model files that carry weights (ONNX, safetensors, weights_only state dicts, GGUF,
snapshot directories, PEFT adapters), the
test bed of trained models and copies, and its evaluation."""

from __future__ import annotations

import argparse
import shutil
import time
from typing import Any

from hnnframe.commands.limit_options import add_limit_options
from hnnframe.commands.options import add_json_option
from hnnframe.commands.output import print_json, printable, report_failures
from hnnframe.errors import ConfigError, HnnError
from hnnframe.files import cache_path
from hnnframe.reproduce.report import provenance, write_block
from hnnframe.weights.lm_testbed import TINY_LM, LMPlan, build_lm_testbed, load_lm_manifest


def _bar(total: int, desc: str, quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="model", disable=quiet, leave=False)


def _lm_testbed(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The language-model bed (issue 21): its folder and its models."""
    plan = TINY_LM if args.tiny else LMPlan()
    out = cache_path("weights_lm_testbed_tiny" if args.tiny else "weights_lm_testbed", args.out)
    if args.force and out.exists():
        shutil.rmtree(out)
    with _bar(None, "language-model bed", args.json) as bar:
        root = build_lm_testbed(
            out, plan, progress=lambda mid: (bar.set_postfix_str(mid), bar.update())
        )
    return root, load_lm_manifest(root)["models"]


def cmd_testbed(args: argparse.Namespace) -> int:
    from hnnframe.weights.testbed import FULL, TINY, build_testbed, jobs, load_manifest

    t0 = time.perf_counter()
    if args.lm:
        root, models = _lm_testbed(args)
        return _testbed_summary(args, root, models, t0)
    plan = TINY if args.tiny else FULL
    with _bar(len(jobs(plan)), "weight test bed", args.json) as bar:
        root = build_testbed(
            args.out,
            tiny=args.tiny,
            force=args.force,
            progress=lambda mid: (bar.set_postfix_str(mid), bar.update()),
        )
    return _testbed_summary(args, root, load_manifest(root)["models"], t0)


def _testbed_summary(args: argparse.Namespace, root: Any, models: dict[str, Any], t0: float) -> int:
    roles: dict[str, int] = {}
    for e in models.values():
        k = e["kind"] or e["role"]
        roles[k] = roles.get(k, 0) + 1
    result = {
        "testbed": str(root),
        "tiny": args.tiny,
        "models": len(models),
        "by_kind": roles,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if args.json:
        print_json(result)
    else:
        print(
            f"{len(models)} models in {root} ({result['seconds']:.0f} s): "
            + ", ".join(f"{k} {n}" for k, n in roles.items())
        )
    return 0


def cmd_fingerprint(args: argparse.Namespace) -> int:
    from hnnframe.weights.code import check_weight_bits
    from hnnframe.weights.fingerprint import fingerprint

    check_weight_bits(args.bits)  # a usage error, not one per file
    rows, failures = [], []
    for path in args.files:
        try:
            rows.append(fingerprint(path, args.bits))
        except HnnError as e:
            failures.append({"file": path, "error": str(e)})
    if args.json:
        out = [r.to_dict() for r in rows]
        if not args.digests:
            for d in out:
                d.pop("digests")
        print_json({"fingerprints": out, "failures": failures})
    else:
        for r in rows:
            miss = f", {r.missing} tensor(s) missing or unreadable" if r.missing else ""
            print(
                f"{printable(r.path)}: {r.format}, {r.tensors} tensors, {r.params:,} "
                f"parameters{miss}, {r.seconds:.2f} s"
            )
            print(f"  sha256      {r.sha256}")
            print(f"  tensor set  {r.tensor_set}")
            print(f"  code Q={r.bits} {r.code.hex()}")
            if args.digests:
                for t in r.digests:
                    print(f"  tensor {t.digest} {t.numel}")
    return report_failures(failures)


def cmd_compare(args: argparse.Namespace) -> int:
    from hnnframe.weights.fingerprint import fingerprint, match, validate_threshold

    a, b = fingerprint(args.a, args.bits), fingerprint(args.b, args.bits)
    thr = validate_threshold(args.threshold) if args.threshold is not None else None
    v = match(a, b, thr)
    if args.json:
        print_json({"a": args.a, "b": args.b, **v.to_dict()})
    else:
        block = (
            f"; nearest shared hidden-axis block {v.block_distance} bits apart"
            if v.block_distance is not None
            else ""
        )
        print(
            f"{v.verdict}: Hamming distance {v.distance} of {v.bits} bits (threshold "
            f"{v.threshold}){block}; {v.shared:.1%} of the smaller model's weights in the "
            "same tensors"
        )
    return 0 if v.verdict == "none" else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from hnnframe.weights.code import check_weight_bits
    from hnnframe.weights.evaluate import FPR, evaluate, fingerprint_bed, markdown, write_threshold
    from hnnframe.weights.fingerprint import THRESHOLD_FILE
    from hnnframe.weights.lm_evaluate import lm_negatives
    from hnnframe.weights.testbed import load_manifest

    try:
        bits = [check_weight_bits(int(b)) for b in args.bits.split(",")]
    except ValueError as e:
        raise ConfigError(f"--bits takes comma-separated integers, got {args.bits!r}") from e
    if args.fpr is None:
        args.fpr = FPR
    if not 0 < args.fpr < 1:
        raise ConfigError(f"--fpr must be between 0 and 1, got {args.fpr}")
    root = cache_path("weights_testbed", args.testbed)
    n = len(load_manifest(root)["models"])
    lm_root = None if args.lm_bed is None else cache_path("weights_lm_testbed", args.lm_bed or None)
    results = []
    for q in bits:
        with _bar(n, f"fingerprints Q={q}", args.json) as bar:
            manifest, prints = fingerprint_bed(root, q, progress=lambda _m: bar.update())
        more = None
        if lm_root is not None:
            with _bar(None, f"language-model bed Q={q}", args.json) as bar:
                more = lm_negatives(lm_root, q, progress=lambda _m: bar.update())
        results.append(evaluate(manifest, prints, args.fpr, more))
    default = args.default_bits if args.default_bits in bits else bits[-1]
    threshold_file = args.threshold_file or (None if results[0]["tiny"] else THRESHOLD_FILE)
    if threshold_file:
        write_threshold(results, args.command_line, threshold_file)
    if args.write_results:
        block = markdown(results, provenance(args.command_line), default)
        for path in args.write_results:
            write_block(path, "weights", block)
    if args.json:
        print_json({"results": results, "threshold_file": str(threshold_file or "")})
        return 0
    _print_eval(results)
    if threshold_file:
        print(f"thresholds written to {threshold_file}")
    elif results[0]["tiny"]:
        print("tiny bed: the shipped thresholds were left as they are (--threshold-file to write)")
    return 0


def _print_eval(results: list[dict[str, Any]]) -> None:
    """Per Q: the threshold and its false-positive rates, then one row per copy kind."""
    for r in results:
        print(
            f"Q={r['bits']}: threshold {r['threshold']}, FPR {r['fpr']:.2%} pooled, "
            + ", ".join(f"{a} {v:.2%}" for a, v in r["fpr_per_arch"].items())
            + f" ({r['negatives']} independent pairs)"
        )
        print(f"  {'copy kind':<18} {'n':>3} {'AUC':>6} {'detected':>9} {'max dist':>9}")
        for kind, k in r["kinds"].items():
            print(f"  {kind:<18} {k['n']:>3} {k['auc']:>6.3f} {k['tpr']:>9.0%} {k['max']:>9}")
        if r["exact_missed"]:
            print(
                "  exact copies NOT named exact: "
                + ", ".join(f"{kind} {len(v)}" for kind, v in r["exact_missed"].items())
            )


def register(sub: Any) -> None:
    # numpy comes with the default Q: the one import of the parser that is not cheap
    from hnnframe.weights.code import DEFAULT_WEIGHT_BITS

    w = sub.add_parser(
        "weights",
        help="weight tier: exact tensor digests and a weight code (same trained model?)",
        description="The weight tier: given model files with weights (ONNX, safetensors, "
        "weights_only PyTorch state dicts, GGUF files, snapshot directories read shard by "
        "shard, PEFT adapters), tell copies of one trained model (exact, "
        "re-exported, fine-tuned, quantized, fp16, pruned, permuted) from models trained "
        "independently. See docs/weights.md.",
    )
    ws = w.add_subparsers(dest="weights_command", metavar="WEIGHTS_COMMAND", required=True)
    _testbed_parser(ws)
    _fingerprint_parser(ws, DEFAULT_WEIGHT_BITS)
    _compare_parser(ws, DEFAULT_WEIGHT_BITS)
    _eval_parser(ws, DEFAULT_WEIGHT_BITS)


def _bits_option(p: argparse.ArgumentParser, default: int) -> None:
    p.add_argument(
        "--bits", type=int, default=default, help=f"Q of the weight code (default {default})"
    )


def _testbed_parser(ws: Any) -> None:
    t = ws.add_parser(
        "testbed",
        help="train the test bed of models, copies and distractors",
        description="Train a CNN and an MLP on scikit-learn's digits and a character "
        "transformer on the standard library's source, several seeds each; store copies of "
        "every kind and independently trained distractors as real files with a manifest. "
        "Resumes where an interrupted build stopped.",
    )
    t.add_argument("--tiny", action="store_true", help="the tiny bed for tests (seconds)")
    t.add_argument(
        "--lm",
        action="store_true",
        help="the language-model bed instead (tiny Llama, GPT-2, BERT and their "
        "copies; benchmarks/lm_weights.py evaluates it)",
    )
    t.add_argument("--out", help="folder (default $HNN_CACHE_DIR/weights_[lm_]testbed[_tiny])")
    t.add_argument("--force", action="store_true", help="delete the bed first and rebuild it")
    add_json_option(t, "print JSON")
    t.set_defaults(func=cmd_testbed)


def _fingerprint_parser(ws: Any, bits: int) -> None:
    f = ws.add_parser(
        "fingerprint",
        help="file sha256, tensor digests and weight code of model files",
        description="Read each file's weights tensor by tensor and print its fingerprint.",
    )
    f.add_argument("files", nargs="+", metavar="FILE")
    _bits_option(f, bits)
    f.add_argument("--digests", action="store_true", help="also list every tensor digest")
    add_json_option(f, "print JSON")
    add_limit_options(f)
    f.set_defaults(func=cmd_fingerprint)


def _compare_parser(ws: Any, bits: int) -> None:
    c = ws.add_parser(
        "compare",
        help="which tier two model files agree on",
        description="Compare two model files: exact file, exact tensors, weight match (code "
        "within the threshold) or none. Exits 1 on any match, 0 on none.",
    )
    c.add_argument("a", metavar="A")
    c.add_argument("b", metavar="B")
    _bits_option(c, bits)
    c.add_argument("--threshold", type=int, help="Hamming threshold (default: the shipped one)")
    add_json_option(c, "print JSON")
    add_limit_options(c)
    c.set_defaults(func=cmd_compare)


def _eval_parser(ws: Any, bits: int) -> None:
    e = ws.add_parser(
        "eval",
        help="per-kind AUC, detection and false positives on the test bed; the threshold",
        description="Fingerprint the test bed, report per copy kind the AUC of copy vs "
        "independent model and, at the threshold for --fpr, the detection rate. Writes the "
        "thresholds to hnnframe/weights/threshold.json (full bed only).",
    )
    e.add_argument("--testbed", help="the bed's folder (default $HNN_CACHE_DIR/weights_testbed)")
    e.add_argument("--bits", default="64,128,256,512", help="comma-separated Q values")
    e.add_argument(
        "--default-bits",
        type=int,
        default=bits,
        help=f"the Q reported per kind in the results block (default {bits})",
    )
    e.add_argument(
        "--fpr",
        type=float,
        help="false-positive rate of the thresholds, per architecture (default 0.001, "
        "hnnframe.weights.evaluate.FPR)",
    )
    e.add_argument(
        "--lm-bed",
        nargs="?",
        const="",
        metavar="DIR",
        help="pool the independent pairs of the language-model bed (`hnn weights testbed --lm`; "
        "default folder $HNN_CACHE_DIR/weights_lm_testbed) into the thresholds",
    )
    e.add_argument("--threshold-file", help="write the thresholds here instead")
    e.add_argument(
        "--write-results",
        metavar="MD",
        action="append",
        help="write the weights block of this file (repeatable)",
    )
    add_json_option(e, "print JSON")
    e.set_defaults(func=cmd_eval)
