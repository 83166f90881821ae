"""Search spaces: a recipe's ``search:`` section, checked, as Optuna distributions.

The section maps dotted recipe keys to distributions, after PyKEEN's hpo::

    search:
      loss.alpha: {type: float, low: 1, high: 100, log: true}
      hash.bits: {type: categorical, choices: [16, 32, 64]}
      train.batch_pairs: {type: int, low: 5, high: 20, step: 5}

A searched key must exist in the recipe (``train.*`` keys may be implicit); Q (``hash.bits``)
may only take positive multiples of 8 (:func:`hnnframe.codes.check_bits`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hnnframe.codes import check_bits
from hnnframe.errors import ConfigError
from hnnframe.recipe import get_dotted

#: The recipe key of Q, which a multi-objective study minimises.
Q_KEY = "hash.bits"
DIST_TYPES = ("float", "int", "categorical")
_DIST_FIELDS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
# Keys that exist with a default even when a recipe leaves them out.
_IMPLICIT_KEYS = ("train.",)


@dataclass(frozen=True)
class SearchParam:
    """One searched recipe key and its distribution.

    Attributes:
        key: the dotted recipe key, which is also the Optuna parameter name.
        type: ``float``, ``int`` or ``categorical``.
        low: lower bound (float, int).
        high: upper bound, inclusive (float, int).
        log: sample on a log scale (float, int).
        step: discretisation step (float, int); exclusive with ``log`` for floats.
        choices: the values of a categorical parameter (scalars only).
    """

    key: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> Any:
        """The equivalent ``optuna.distributions`` object."""
        import optuna.distributions as d

        low, high = self.low, self.high
        if self.type == "float":
            step = None if self.step is None else float(self.step)
            return d.FloatDistribution(float(low), float(high), log=self.log, step=step)  # type: ignore[arg-type]
        if self.type == "int":
            return d.IntDistribution(int(low), int(high), log=self.log, step=int(self.step or 1))  # type: ignore[arg-type]
        return d.CategoricalDistribution(list(self.choices))

    def suggest(self, trial: Any) -> Any:
        """Sample this parameter in an Optuna trial."""
        if self.type == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(
                self.key, self.low, self.high, log=self.log, step=int(self.step or 1)
            )
        return trial.suggest_categorical(self.key, list(self.choices))

    def as_dict(self) -> dict[str, Any]:
        """The distribution as a ``search:`` entry (what a study's signature stores)."""
        out: dict[str, Any] = {"type": self.type}
        if self.type == "categorical":
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        return out


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _all_keys(cfg: Any, prefix: str = "") -> list[str]:
    if isinstance(cfg, Mapping):
        out = []
        for k, v in cfg.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            out.append(key)
            out += _all_keys(v, key)
        return out
    return []


def parse_param(key: str, spec: Any, recipe: Mapping[str, Any] | None = None) -> SearchParam:
    """Check one ``search:`` entry and turn it into a :class:`SearchParam`.

    Args:
        key: the dotted recipe key.
        spec: ``{type, low, high, log, step}`` or ``{type: categorical, choices}``; a plain list
            is shorthand for a categorical.
        recipe: when given, ``key`` must exist in it (``train.*`` keys may be implicit) and
            hold a value of a fitting kind.

    Raises:
        ConfigError: for an unknown key or a malformed distribution.
    """
    where = f"search.{key}"
    if not isinstance(key, str) or not key or key.startswith(".") or key.endswith("."):
        raise ConfigError(f"search key {key!r} is not a dotted recipe key")
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected {{type, low, high, ...}} or a list, got {spec!r}")
    kind = spec.get("type")
    if kind not in DIST_TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(DIST_TYPES)}, got {kind!r}")
    extra = set(spec) - _DIST_FIELDS[kind]
    if extra:
        raise ConfigError(
            f"{where}: unknown field(s) {sorted(extra)} for type {kind}; "
            f"valid: {sorted(_DIST_FIELDS[kind])}"
        )
    current = _current_value(key, recipe, where) if recipe is not None else None
    if kind == "categorical":
        p = _categorical(key, spec, where)
    else:
        p = _numeric(key, kind, spec, where)
        if recipe is not None and current is not None and not _is_number(current):
            raise ConfigError(f"{where}: {key!r} holds {current!r}, not a number")
    if key == Q_KEY:
        _check_q(p, where)
    return p


def _current_value(key: str, recipe: Mapping[str, Any], where: str) -> Any:
    """The recipe's value at ``key`` (None for an implicit ``train.*`` key), checked."""
    current: Any = None
    try:
        current = get_dotted(recipe, key)
    except (ConfigError, IndexError, ValueError):
        if not key.startswith(_IMPLICIT_KEYS):
            close = difflib.get_close_matches(key, _all_keys(recipe), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{where}: unknown recipe key {key!r} (a searched key must exist in the "
                f"recipe){hint}"
            ) from None
    if key.startswith("train.") and key.count(".") == 1:
        from hnnframe.train import DEFAULT_TRAIN

        if key.split(".", 1)[1] not in DEFAULT_TRAIN:
            raise ConfigError(
                f"{where}: unknown train key; valid: {', '.join(sorted(DEFAULT_TRAIN))}"
            )
    if isinstance(current, Mapping):
        raise ConfigError(f"{where}: {key!r} is a section; search one of its fields")
    return current


def _categorical(key: str, spec: Mapping[str, Any], where: str) -> SearchParam:
    choices = spec.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{where}: categorical needs a non-empty list 'choices'")
    bad = [c for c in choices if not (c is None or isinstance(c, (bool, int, float, str)))]
    if bad:
        raise ConfigError(f"{where}: choices must be scalars (number, string, bool, null)")
    if len(set(map(repr, choices))) != len(choices):
        raise ConfigError(f"{where}: choices repeat a value")
    return SearchParam(key, "categorical", choices=tuple(choices))


def _numeric(key: str, kind: str, spec: Mapping[str, Any], where: str) -> SearchParam:
    low, high = spec.get("low"), spec.get("high")
    if not _is_number(low) or not _is_number(high):
        raise ConfigError(f"{where}: {kind} needs numbers 'low' and 'high'")
    if low > high:
        raise ConfigError(f"{where}: low {low} is above high {high}")
    use_log = spec.get("log", False)
    if not isinstance(use_log, bool):
        raise ConfigError(f"{where}: log must be true or false")
    step = spec.get("step")
    if step is not None and (not _is_number(step) or step <= 0):
        raise ConfigError(f"{where}: step must be a positive number")
    if use_log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0")
    if kind == "int":
        if not all(isinstance(v, int) for v in (low, high)) or (
            step is not None and not isinstance(step, int)
        ):
            raise ConfigError(f"{where}: int bounds and step must be integers")
        if use_log and step not in (None, 1):
            raise ConfigError(f"{where}: an int log scale needs step 1")
    elif use_log and step is not None:
        raise ConfigError(f"{where}: log and step cannot be combined for floats")
    return SearchParam(key, kind, low=low, high=high, log=use_log, step=step)


def _is_q(value: Any) -> bool:
    try:
        check_bits(value)
    except ConfigError:
        return False
    return True


def _check_q(p: SearchParam, where: str) -> None:
    """Every value a Q parameter can take is a positive multiple of 8 (whole bytes)."""
    if p.type == "categorical":
        ok = all(_is_q(c) for c in p.choices)
    else:  # an int range needs low and step multiples of 8; a float Q is never whole bytes
        ok = p.type == "int" and _is_q(p.low) and _is_q(int(p.step or 1))
    if not ok:
        raise ConfigError(
            f"{where}: Q must be a positive multiple of 8; use choices like [16, 32, 64] or an "
            "int range with low and step multiples of 8"
        )


def parse_search_space(search: Any, recipe: Mapping[str, Any] | None = None) -> list[SearchParam]:
    """Check a ``search:`` section and return its parameters in order.

    Raises:
        ConfigError: if the section is missing, empty, or has a bad key or distribution.
    """
    if not search:
        raise ConfigError(
            "the recipe has no search: section (dotted recipe keys -> distributions); "
            "see recipes/search_default.yaml or pass --space search_default"
        )
    if not isinstance(search, Mapping):
        raise ConfigError(f"search: must map dotted recipe keys to distributions, got {search!r}")
    return [parse_param(str(k), v, recipe) for k, v in search.items()]
