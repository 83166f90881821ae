"""What the endpoints (and jobs) do with an upload once it is on disk: check it, add it,
search with it. Each returns the HTTP status and body of its answer, so that a job stores
exactly what the synchronous endpoint would have answered."""

from __future__ import annotations

import os
from typing import Any

from hnnframe.errors import HnnError, LimitError
from hnnframe.serve.metrics import Metrics
from hnnframe.serve.receive import Upload, int_field, meta_field
from hnnframe.serve.service import Service
from hnnframe.serve.uploads import UploadError, scrub

#: ``fail_on`` policies (hnnframe.index.records.FAIL_ON).
POLICIES = ("auto", "exact", "weights", "structure", "none")
#: Candidates the page compares operator by operator.
EXPLAIN = 3

Outcome = tuple[int, dict[str, Any]]


def _truthy(v: Any) -> bool:
    return v is True or str(v).lower() in ("1", "true", "yes", "on")


def _failed(e: BaseException, up: Upload) -> Outcome:
    detail = {"detail": scrub(str(e), up.folder or up.source.parent, up.shown)}
    if isinstance(e, UploadError):
        return e.status, detail
    return (413 if isinstance(e, LimitError) else 422), detail


def check(svc: Service, metrics: Metrics, up: Upload) -> Outcome:
    """``POST /v1/check``: the verdict of ``hnn index check --json``."""
    f = up.fields
    try:
        policy = f.get("fail_on") or None
        if policy is not None and policy not in POLICIES:
            raise UploadError(f"fail_on must be one of {', '.join(POLICIES)}, not {policy!r}")
        v = svc.check(
            up.source,
            up.shown,
            radius=int_field(f, "radius"),
            fail_on=policy,
            weight_threshold=int_field(f, "weight_threshold"),
        )
        if _truthy(f.get("explain")):
            v["explain"] = explain(svc, up, v)
    except HnnError as e:
        return _failed(e, up)
    metrics.verdict(v["tier"], v["suspect"])
    return 200, v


def add(svc: Service, up: Upload) -> Outcome:
    """``POST /v1/models``: 201 with the new record, 409 with the one already in."""
    try:
        res = svc.add(up.source, up.fields.get("label") or None, meta_field(up.fields))
    except HnnError as e:
        return _failed(e, up)
    if not res.ok:
        return 422, {"detail": scrub(res.error or "", up.folder or up.source.parent, up.shown)}
    rec = svc.get(res.id).to_dict()
    if res.added:
        return 201, {"added": True, "record": rec}
    return 409, {
        "detail": f"{up.shown} is already indexed as #{rec['id']} ({rec['name']})",
        "record": rec,
    }


def explain(svc: Service, up: Upload, verdict: dict[str, Any]) -> dict[str, Any]:
    """Operator counts of the upload's canonical graph and of its first candidates (or its
    nearest model), with their differences: which parts of the graph differ (the page's
    structural comparison). A candidate whose file is not on this server has none."""
    mine = svc.op_histogram(up.source)
    recs = [c["record"] for c in verdict["candidates"][:EXPLAIN]]
    if not recs and verdict["nearest"]:
        recs = [verdict["nearest"]]
    out = []
    for r in recs:
        src = r.get("structure") or r["path"]
        ops = None
        if os.path.isfile(src):
            try:
                ops = svc.op_histogram(src)
            except HnnError:
                ops = None
        diff = None
        if ops is not None:
            diff = {
                op: mine.get(op, 0) - ops.get(op, 0)
                for op in sorted(set(mine) | set(ops))
                if mine.get(op, 0) != ops.get(op, 0)
            }
        out.append({"id": r["id"], "name": r["name"], "ops": ops, "diff": diff})
    return {"upload_ops": mine, "candidates": out}


def search(svc: Service, query: Any, k: int, radius: int | None, shown: str | None) -> Outcome:
    """``POST /v1/search``: the query as the index saw it, and its matches."""
    q, matches = svc.search(query, k, radius)
    if hasattr(q, "id") and hasattr(q, "to_dict"):
        desc = {"id": q.id, "name": q.name, "code": q.hex, "category": q.category}
    elif hasattr(q, "hex"):
        desc = {"upload": shown, "code": q.hex, "category": q.category}
    else:
        desc = {"code": str(q).removeprefix("hex:")}
    # the indexed models of its architecture (equal digests), as `hnn index search --json`
    arch = [r.to_dict() for r in svc.same_architecture(q)]
    ids = {r["id"] for r in arch}
    return 200, {
        "query": desc,
        "same_architecture": arch,
        "matches": [{**m.to_dict(), "same_architecture": m.record.id in ids} for m in matches],
    }
