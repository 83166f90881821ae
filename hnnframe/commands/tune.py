"""``hnn tune``: Optuna studies over recipe fields, and ``hnn tune report``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from hnnframe.commands.options import add_cache_option, add_json_option, add_overrides_argument
from hnnframe.commands.output import print_json
from hnnframe.errors import ConfigError
from hnnframe.recipe import load_recipe

DESCRIPTION = """\
Search recipe fields with Optuna. The recipe's search: section maps dotted recipe keys to
distributions ({type: float|int|categorical, low, high, log, step, choices}); its tune:
section sets the objective, metric, pruner, sampler and held-out architectures. Each trial
trains the sampled recipe and reports unseen-architecture mAP (unseen/mAP) after every epoch
for pruning.

Objectives: single (default) maximises unseen/mAP with pruning; multi (--objective multi)
maximises unseen/mAP and minimises Q (hash.bits) and prints the Pareto front.

Storage: an SQLite file OUT/study.db unless --storage names a database URL
(postgresql://user:password@host/db). Rerunning the same command resumes the study: it runs
only the trials missing to reach N finished (complete or pruned) trials; failed trials do not
count. Workers on several machines can share one study through PostgreSQL. A trial whose
worker died (no heartbeat for tune.grace seconds) is marked failed and queued again with the
same parameters (tune.max_retry times).

`hnn tune report --study NAME [--storage URL]` prints the best trials and writes Optuna's
optimisation-history and parameter-importance plots and best.yaml.
"""

EPILOG = """\
examples:
  hnn tune search_default --trials 20 train.epochs=30
  hnn tune search_default --trials 40 --storage postgresql://hnn:pw@db/hnn --study q_sweep
  hnn tune search_default --trials 20 --objective multi --study pareto
  hnn tune report --study search_default
  hnn train runs/tune/search_default/best.yaml --out runs/best
"""


def _default_out(study: str) -> str:
    return str(Path("runs") / "tune" / study)


def cmd_tune(args: argparse.Namespace) -> int:
    if args.recipe == "report":
        return cmd_report(args)
    from hnnframe.tune import TuneConfig, format_summary, prepare_recipe, run_study, storage_url

    if args.trials is None:
        raise ConfigError("hnn tune needs --trials N (the number of finished trials to reach)")
    if args.trials < 1:
        raise ConfigError("--trials must be at least 1")
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    recipe = load_recipe(args.recipe, args.overrides, args.zoo_cache)
    if args.space:
        recipe["search"] = load_recipe(args.space).get("search")
    tune = recipe.setdefault("tune", {}) or {}
    recipe["tune"] = tune
    if args.objective:
        tune["objective"] = args.objective
    if args.pruner:
        tune["pruner"] = {"type": args.pruner}
    if args.sampler:
        tune["sampler"] = {"type": args.sampler}
    if args.holdout is not None:
        recipe.setdefault("data", {})["holdout"] = [h for h in args.holdout.split(",") if h]
    base, _ = prepare_recipe(recipe)
    study = args.study or str(base.get("name", Path(args.recipe).stem))
    out = args.out or _default_out(study)
    url = storage_url(args.storage, out)
    cfg = TuneConfig(
        recipe=base,
        trials=args.trials,
        storage=url,
        study=study,
        out_dir=out,
        jobs=args.jobs,
        progress=not args.json,
        wait=not args.no_wait,
    )

    def emit(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    summary = run_study(cfg, emit if not args.json else None)
    if args.json:
        print_json(summary)
        return 0
    print(format_summary(summary))
    print(f"ran {len(summary['ran'])} trial(s) in this run; storage {summary['storage']}")
    if summary["best_recipe"]:
        print(f"best recipe  {summary['best_recipe']}  (hnn train {summary['best_recipe']})")
    print(f"tensorboard --logdir {Path(out) / 'tb'}")
    storage_arg = ""
    if args.storage or args.out:
        storage_arg = f" --storage {shlex.quote(args.storage or str(Path(out) / 'study.db'))}"
    print(f"report       hnn tune report --study {study}{storage_arg}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from hnnframe.tune import TuneError, format_summary, report, storage_url

    if args.overrides:
        raise ConfigError(f"hnn tune report takes no overrides, got {' '.join(args.overrides)}")
    if not args.study:
        raise ConfigError("hnn tune report needs --study NAME (and --storage URL unless default)")
    if args.storage:
        url = storage_url(args.storage, ".")
    else:
        default = Path(_default_out(args.study)) / "study.db"
        if not default.exists():
            raise TuneError(f"no study storage at {default}; pass --storage URL")
        url = storage_url(None, default.parent)
    out = args.out or str(Path(_default_out(args.study)) / "report")
    summary = report(url, args.study, out, top=args.top, plots=args.plots)
    if args.json:
        print_json(summary)
        return 0
    print(format_summary(summary))
    for name, path in summary["plots"].items():
        print(f"{name + ' plot':<16} {path}")
    if summary["best_recipe"]:
        print(f"{'best recipe':<16} {summary['best_recipe']}")
    print(f"{'dashboard':<16} {summary['dashboard']}  (pip install optuna-dashboard)")
    return 0


def register(sub: Any) -> None:
    t = sub.add_parser(
        "tune",
        help="search recipe fields with Optuna (resumable, distributed); `tune report`",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument(
        "recipe",
        help="recipe YAML with a search: section, or a name in recipes/ (search_default); "
        "the word `report` summarises a study instead",
    )
    add_overrides_argument(t, "train.epochs=30")
    t.add_argument(
        "--trials",
        type=int,
        metavar="N",
        help="finished (complete or pruned) trials the study should have",
    )
    t.add_argument(
        "--storage", metavar="URL", help="database URL or SQLite file (default OUT/study.db)"
    )
    t.add_argument("--study", metavar="NAME", help="study name (default: the recipe's name)")
    t.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="J",
        help="worker processes on this machine (default 1)",
    )
    t.add_argument(
        "--out",
        metavar="DIR",
        help="trials, TensorBoard runs, best.yaml (default runs/tune/NAME); "
        "for report: where plots go (default runs/tune/NAME/report)",
    )
    _search_options(t)
    add_cache_option(t, "zoo")
    t.add_argument(
        "--no-wait",
        action="store_true",
        help="exit when no trial is left to start instead of waiting for other "
        "workers' running trials (to take over if one dies)",
    )
    t.add_argument("--top", type=int, default=5, help="report: best trials to list (default 5)")
    t.add_argument(
        "--plots",
        choices=["png", "html", "none"],
        default="png",
        help="report: plot format (html needs plotly; default png)",
    )
    add_json_option(t, "print a JSON summary, no progress")
    t.set_defaults(func=cmd_tune)


def _search_options(t: argparse.ArgumentParser) -> None:
    """What a study searches and how: overrides of the recipe's search: and tune: sections."""
    t.add_argument(
        "--space",
        metavar="RECIPE",
        help="take the search: section from this recipe (e.g. search_default)",
    )
    t.add_argument(
        "--objective",
        choices=["single", "multi"],
        help="single: max unseen/mAP (default); multi: also min Q, Pareto front",
    )
    t.add_argument(
        "--pruner",
        choices=["median", "hyperband", "none"],
        help="pruner (default tune.pruner, median); ignored for --objective multi",
    )
    t.add_argument(
        "--sampler",
        choices=["tpe", "random", "nsgaii", "gp"],
        help="sampler (default tune.sampler, tpe)",
    )
    t.add_argument(
        "--holdout",
        metavar="A,B",
        help="architectures held out for unseen/mAP (default data.holdout, else "
        "tune.holdout: resnet34,vgg13,densenet161,mnasnet1_0,shufflenet_v2_x1_5)",
    )
