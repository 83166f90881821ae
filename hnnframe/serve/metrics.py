"""Prometheus metrics in its text format (exposition format 0.0.4): requests, latency and
verdicts by tier.

Each worker counts its own and writes them to ``DATA_DIR/metrics/PID.json`` after every
request; ``/metrics`` adds up every worker's file, so whichever worker a scrape reaches, it
sees the whole deployment (a worker that died keeps what it counted).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

#: Upper bounds (seconds) of the latency histogram's buckets.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _key(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True)


def _labels(key: str, extra: str = "") -> str:
    d = json.loads(key)
    parts = [f'{k}="{_escape(v)}"' for k, v in d.items()]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """This worker's counters.

    Args:
        folder: ``DATA_DIR/metrics``, shared by the workers.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.latency: dict[str, list[float]] = {}  # bucket counts, then sum and count
        self.verdicts: dict[str, int] = {}

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self.lock:
            k = _key({"method": method, "route": route, "status": str(status)})
            self.requests[k] = self.requests.get(k, 0) + 1
            k = _key({"route": route})
            h = self.latency.setdefault(k, [0.0] * (len(BUCKETS) + 2))
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    h[i] += 1
            h[-2] += seconds
            h[-1] += 1
            self._dump()

    def verdict(self, tier: str, suspect: bool) -> None:
        with self.lock:
            k = _key({"tier": tier, "suspect": str(suspect).lower()})
            self.verdicts[k] = self.verdicts.get(k, 0) + 1

    def _dump(self) -> None:
        data = {"requests": self.requests, "latency": self.latency, "verdicts": self.verdicts}
        # renamed into place (a reader never sees half a file) but not synced: counters are
        # not worth a disk flush per request
        path = self.folder / f"{os.getpid()}.json"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)

    def _gather(self) -> dict[str, dict[str, Any]]:
        total: dict[str, dict[str, Any]] = {"requests": {}, "latency": {}, "verdicts": {}}
        for p in sorted(self.folder.glob("[0-9]*.json")):
            try:
                d = json.loads(p.read_text())
            except (OSError, ValueError):  # a file being replaced: the next scrape has it
                continue
            for name in ("requests", "verdicts"):
                for k, v in d.get(name, {}).items():
                    total[name][k] = total[name].get(k, 0) + v
            for k, h in d.get("latency", {}).items():
                cur = total["latency"].setdefault(k, [0.0] * len(h))
                total["latency"][k] = [a + b for a, b in zip(cur, h, strict=True)]
        return total

    def render(self) -> str:
        """Every worker's counters, added up, in Prometheus' text format."""
        with self.lock:
            self._dump()
        t = self._gather()
        out = [
            "# HELP hnn_requests_total HTTP requests answered, by route and status.",
            "# TYPE hnn_requests_total counter",
        ]
        out += [f"hnn_requests_total{_labels(k)} {v}" for k, v in sorted(t["requests"].items())]
        out += [
            "# HELP hnn_request_seconds Time to answer a request, by route.",
            "# TYPE hnn_request_seconds histogram",
        ]
        for k, h in sorted(t["latency"].items()):
            for b, n in [*zip(BUCKETS, h, strict=False), ("+Inf", h[-1])]:
                le = f'le="{b}"'
                out.append(f"hnn_request_seconds_bucket{_labels(k, le)} {n:g}")
            out.append(f"hnn_request_seconds_sum{_labels(k)} {h[-2]:.6f}")
            out.append(f"hnn_request_seconds_count{_labels(k)} {h[-1]:g}")
        out += [
            "# HELP hnn_verdicts_total Checks answered, by strongest tier and suspect.",
            "# TYPE hnn_verdicts_total counter",
        ]
        out += [f"hnn_verdicts_total{_labels(k)} {v}" for k, v in sorted(t["verdicts"].items())]
        return "\n".join(out) + "\n"
