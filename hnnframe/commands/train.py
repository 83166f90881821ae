"""``hnn train`` and ``hnn hash`` (Stage 2)."""

from __future__ import annotations

import argparse
from typing import Any

from hnnframe.commands.limit_options import add_limit_options
from hnnframe.commands.options import (
    add_cache_option,
    add_checkpoint_option,
    add_device_option,
    add_json_option,
    add_overrides_argument,
)
from hnnframe.commands.output import print_json, printable, report_failures
from hnnframe.recipe import dump_recipe, load_recipe


def cmd_train(args: argparse.Namespace) -> int:
    from hnnframe.train import Trainer

    recipe = load_recipe(args.recipe, args.overrides, args.zoo_cache)
    trainer = Trainer(recipe, args.out, progress=not args.json, resume=not args.restart)
    summary = trainer.fit()
    dump_recipe(
        trainer.recipe, f"{args.out}/recipe.yaml", command=f"hnn train {args.out}/recipe.yaml"
    )
    if args.json:
        print_json(summary)
    else:
        fin = summary["final"]
        print(
            f"trained {summary['epochs']} epochs in {summary['seconds']:.0f} s -> {summary['checkpoint']}"
        )
        print(
            "  "
            + "  ".join(
                f"{k}={v:.4g}" for k, v in fin.items() if k.startswith(("val/", "loss/total"))
            )
        )
        print(f"  tensorboard --logdir {args.out}/tb")
    return 0


def cmd_hash(args: argparse.Namespace) -> int:
    from hnnframe.hashing import Hasher

    hasher = Hasher.from_checkpoint(args.checkpoint, device=args.device)
    results = hasher.hash_many(
        args.models, progress=not args.json and len(args.models) > 3, errors="collect"
    )
    if args.json:
        print_json([r.as_dict() for r in results], lines=True)
    else:
        for r in results:
            if r.ok:
                print(f"{r.hex}  {r.bits}  {printable(r.path)}", flush=True)
    return report_failures(r.as_dict() for r in results if not r.ok)


def register(sub: Any) -> None:
    t = sub.add_parser(
        "train",
        help="train a hashing network from a YAML recipe",
        description="Train HashNet as a recipe describes; write OUT/model.pt (checkpoint with "
        "recipe and vocabulary), OUT/recipe.yaml (resolved) and OUT/tb (TensorBoard logs). "
        "The training state is saved after every epoch (OUT/resume.pt): run the same command "
        "again after a kill and training continues from the last finished epoch.",
    )
    t.add_argument("recipe", help="recipe YAML path, or a name in recipes/ (e.g. hnn_net)")
    add_overrides_argument(t, "hash.bits=64 loss.beta=0")
    t.add_argument("--out", default="runs/train", help="output directory (default runs/train)")
    add_cache_option(t, "zoo")
    add_json_option(t, "print a JSON summary, no progress bar")
    t.add_argument(
        "--restart",
        action="store_true",
        help="discard the saved state of an interrupted run in OUT and train from epoch 1",
    )
    t.set_defaults(func=cmd_train)

    h = sub.add_parser(
        "hash",
        help="hash models with a trained checkpoint",
        description="Print one line per model: hex code, bits and path. "
        "Models are .onnx files, TorchScript files, GGUF files, torchvision:NAME, timm:NAME, "
        "hf:MODEL_TYPE, a Hugging Face config.json or a snapshot directory (config.json with "
        "its weights), hashed as one batch. "
        "A model that cannot be read is named on stderr and skipped; the exit status is 1 "
        "when any model failed.",
    )
    h.add_argument("models", nargs="+", metavar="MODEL")
    add_checkpoint_option(h, "model.pt written by hnn train", required=True)
    add_device_option(h, "torch device (default cpu; cuda needs DGL's CUDA build)")
    add_json_option(h, "one JSON object per line: path, code, bits (or path, error)")
    add_limit_options(h)
    h.set_defaults(func=cmd_hash)
