"""Study reports: the best trials (or the Pareto front), importances, plots and ``best.yaml``.

``hnn tune`` prints :func:`format_summary` of :func:`study_summary` after a run; ``hnn tune
report`` adds parameter importances and Optuna's plots (:func:`report`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hnnframe.errors import TuneError
from hnnframe.log import get_logger
from hnnframe.recipe import dump_recipe
from hnnframe.tune.optuna_import import import_optuna
from hnnframe.tune.space import Q_KEY
from hnnframe.tune.storage import first_line, load_study, open_storage, redact

log = get_logger(__name__)

#: The plot formats of :func:`write_plots`.
PLOT_FORMATS = ("png", "html")


def format_value(v: Any) -> str:
    """A sampled value or metric as a table cell: floats to 4 significant digits."""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _metric_of(study: Any) -> str:
    sig = study.user_attrs.get("hnn_signature") or {}
    return str(sig.get("metric", "value"))


def _counts(trials: Sequence[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in trials:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def _complete(study: Any) -> list[Any]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]


def trial_row(t: Any) -> dict[str, Any]:
    """One trial as plain data."""
    return {
        "number": t.number,
        "state": t.state.name,
        "values": list(t.values) if t.values is not None else None,
        "params": dict(t.params),
        "epochs": t.user_attrs.get("epochs")
        or (max(t.intermediate_values) if t.intermediate_values else None),
        "seconds": t.user_attrs.get("seconds"),
        "final": t.user_attrs.get("final", {}),
        "host": t.user_attrs.get("host"),
        "retry_of": t.system_attrs.get("failed_trial"),
    }


def best_trials(study: Any, top: int = 5) -> list[Any]:
    """Single objective: the ``top`` complete trials, best first. Multi: the Pareto front."""
    if len(study.directions) > 1:
        return sorted(study.best_trials, key=lambda t: (-t.values[0], t.values[1]))
    sign = -1 if study.direction.name == "MAXIMIZE" else 1
    return sorted(_complete(study), key=lambda t: (sign * t.value, t.number))[:top]


def study_summary(study: Any, metric: str | None = None, top: int = 5) -> dict[str, Any]:
    """Counts by state, the best trials (or the Pareto front) and the directions."""
    trials = study.get_trials(deepcopy=False)
    best = best_trials(study, top)
    return {
        "study": study.study_name,
        "metric": metric or _metric_of(study),
        "objective": "multi" if len(study.directions) > 1 else "single",
        "directions": [d.name.lower() for d in study.directions],
        "trials": len(trials),
        "states": _counts(trials),
        "best": [trial_row(t) for t in best],
    }


def write_best_recipe(study: Any, path: str | os.PathLike[str]) -> str | None:
    """Write the best trial's resolved recipe as YAML that ``hnn train`` accepts unchanged.

    In multi-objective mode this is the Pareto trial with the highest metric. Returns the path,
    or None when no trial has completed.
    """
    best = best_trials(study, 1)
    if not best:
        return None
    t = best[0]
    recipe = t.user_attrs.get("recipe")
    if not recipe:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recipe = dict(recipe)
    recipe["name"] = f"{study.study_name}_best"
    values = ", ".join(format_value(v) for v in t.values)
    out = f"runs/{study.study_name}_best"
    text = dump_recipe(recipe, None, command=f"hnn train {path} --out {out}")
    head, rest = text.split("\n", 1)
    path.write_text(
        f"{head}\n# best trial {t.number} of Optuna study {study.study_name!r}: "
        f"{_metric_of(study)} = {values}\n{rest}"
    )
    return str(path)


def _save_png(plot: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    # optuna.visualization.matplotlib returns an Axes, or an array of them for some plots.
    fig = plot.figure if hasattr(plot, "figure") else plot.flat[0].figure
    fig.set_size_inches(7, 4.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _save_html(plot: Any, path: Path) -> None:
    plot.write_html(str(path))


def _plot_backend(fmt: str) -> tuple[Any, Callable[[Any, Path], None]]:
    """The Optuna visualisation module of a format, and how to save one of its figures."""
    if fmt == "png":
        import matplotlib

        matplotlib.use("Agg")
        import optuna.visualization.matplotlib as vis

        return vis, _save_png
    if fmt == "html":
        try:
            import optuna.visualization as vis
            import plotly  # noqa: F401
        except ImportError:
            raise TuneError(
                "--plots html needs plotly (pip install plotly); use --plots png"
            ) from None
        return vis, _save_html
    raise TuneError(f"unknown plot format {fmt!r}; use {' or '.join(PLOT_FORMATS)}")


def write_plots(
    study: Any, out_dir: str | os.PathLike[str], fmt: str = "png", prefix: str = ""
) -> dict[str, str]:
    """Optuna's optimisation-history and parameter-importance plots (and the Pareto front).

    Args:
        study: the study.
        out_dir: the folder the files go to.
        fmt: ``png`` (optuna.visualization.matplotlib) or ``html`` (plotly, needs plotly).
        prefix: a prefix for the file names.

    Returns:
        Plot name -> written file; plots that need more complete trials are left out.

    Raises:
        TuneError: for an unknown format, or html without plotly.
    """
    import_optuna()
    vis, save = _plot_backend(fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metric = _metric_of(study)
    multi = len(study.directions) > 1
    kw: dict[str, Any] = {"target_name": metric}
    if multi:
        kw["target"] = lambda t: t.values[0]
    plots: dict[str, tuple[str, dict[str, Any]]] = {
        "history": ("plot_optimization_history", kw),
        "importance": ("plot_param_importances", kw),
    }
    if multi:
        plots["pareto"] = ("plot_pareto_front", {"target_names": [metric, "Q"]})
    if len(_complete(study)) < 2:
        del plots["importance"]  # importances need two complete trials
    written: dict[str, str] = {}
    for name, (fn, extra) in plots.items():
        path = out / f"{prefix}{name}.{fmt}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plot = getattr(vis, fn)(study=study, **extra)
        except (ValueError, RuntimeError, ZeroDivisionError) as e:
            log.warning("skipped %s: %s", path.name, first_line(e))
            continue
        save(plot, path)
        written[name] = str(path)
    return written


def param_importances(study: Any) -> dict[str, float]:
    """Parameter importances for the (first) objective; empty if too few trials.

    Optuna's default evaluator (PED-ANOVA in Optuna 5) is deterministic, so a report prints the
    same numbers every time; fANOVA would need scikit-learn.
    """
    optuna = import_optuna()
    if len(_complete(study)) < 2:
        return {}
    target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study, target=target)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
    return {k: float(v) for k, v in imp.items()}


def report(
    storage: str,
    study_name: str,
    out_dir: str | os.PathLike[str],
    top: int = 5,
    plots: str = "png",
) -> dict[str, Any]:
    """Summarise a study: best trials (or Pareto front), importances, plots and best.yaml.

    Raises:
        StorageError: when the storage cannot be opened; TuneError when the study is absent.
    """
    st = open_storage(storage)
    study = load_study(st, study_name)
    out = Path(out_dir)
    summary = study_summary(study, top=top)
    summary["importances"] = param_importances(study)
    summary["plots"] = write_plots(study, out, plots) if plots != "none" else {}
    summary["best_recipe"] = write_best_recipe(study, out / "best.yaml")
    summary["storage"] = redact(storage)
    summary["dashboard"] = f"optuna-dashboard {redact(storage)}"
    return summary


def format_summary(summary: Mapping[str, Any]) -> str:
    """A study summary as the table ``hnn tune`` and ``hnn tune report`` print."""
    lines = []
    states = ", ".join(f"{v} {k.lower()}" for k, v in sorted(summary["states"].items()))
    lines.append(f"study {summary['study']}: {summary['trials']} trials ({states or 'none'})")
    multi = summary["objective"] == "multi"
    metric = summary["metric"]
    best = summary["best"]
    if not best:
        lines.append("no complete trial yet")
        return "\n".join(lines)
    keys = sorted({k for r in best for k in r["params"]} - ({Q_KEY} if multi else set()))
    # The other protocol's mAP, for context (protocol a when the metric is protocol b).
    other = "val/mAP" if metric.startswith("unseen/") else "unseen/mAP"
    show_other = any(other in (r.get("final") or {}) for r in best)
    title = f"Pareto front (max {metric}, min Q)" if multi else f"best trials by {metric}"
    lines.append(title + ":")
    head = ["trial", metric] + (["Q"] if multi else []) + ([other] if show_other else [])
    head += ["epochs", *keys]
    rows = []
    for r in best:
        vals = r["values"] or []
        row = [str(r["number"]), f"{vals[0]:.4f}" if vals else "-"]
        if multi:
            row.append(str(int(vals[1])) if len(vals) > 1 else "-")
        if show_other:
            o = (r.get("final") or {}).get(other)
            row.append("-" if o is None else f"{o:.4f}")
        row.append(str(r.get("epochs") or "-"))
        row += [format_value(r["params"].get(k, "-")) for k in keys]
        rows.append(row)
    widths = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(head)]
    for row in [head, *rows]:
        lines.append(
            ("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()
        )
    imp = summary.get("importances")
    if imp:
        lines.append("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items()))
    return "\n".join(lines)
