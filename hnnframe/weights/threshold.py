"""The shipped thresholds of the weight tier (``threshold.json`` beside this module), written
by ``hnn weights eval`` from the test beds at a stated false-positive rate, never by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hnnframe.errors import ConfigError
from hnnframe.files import PathLike

THRESHOLD_FILE = Path(__file__).with_name("threshold.json")


def load_threshold(bits: int, path: PathLike | None = None) -> dict[str, Any]:
    """The shipped threshold for ``bits``-bit codes, with the FPR and the command behind it.

    Raises:
        ConfigError: no threshold was measured for this Q.
    """
    p = Path(path) if path else THRESHOLD_FILE
    if not p.is_file():
        raise ConfigError(f"no weight-code threshold at {p}; run `hnn weights eval`")
    data = json.loads(p.read_text())
    entry = data.get("thresholds", {}).get(str(bits))
    if entry is None:
        known = ", ".join(sorted(data.get("thresholds", {}), key=int)) or "none"
        raise ConfigError(f"no weight-code threshold for Q = {bits} (measured: {known})")
    return {**entry, "fpr_target": data.get("fpr_target"), "command": data.get("command")}
