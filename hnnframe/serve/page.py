"""The review page at ``/``: plain HTML and a little JavaScript (``static/``), served by the
same app, that uploads a model (or names a storage path) to ``/v1/check`` and shows the
nearest indexed models with distance, tier and family, the weight comparison of a weight
match, and the operator counts that differ for a structural one."""

from __future__ import annotations

from functools import cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


@cache
def review_page() -> str:
    return (STATIC / "review.html").read_text(encoding="utf-8")


@cache
def review_script() -> str:
    return (STATIC / "review.js").read_text(encoding="utf-8")
