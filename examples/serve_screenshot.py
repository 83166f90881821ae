"""The screenshot of the review page in docs/serve.md (docs/serve_review.png): a real ``hnn
serve`` over an index of three tiny models (the tests' checkpoint, trained here), a real
headless Chromium (Debian's chromium and chromium-driver), and an upload that is not in the
index but shares structure with what is.

    PYTHONPATH=. python examples/serve_screenshot.py [--out docs/serve_review.png]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.browser import check_on_page, chromium, missing  # noqa: E402
from support.models import tiny_checkpoint, tiny_models  # noqa: E402
from support.serve import serving  # noqa: E402

from hnnframe.cli import main as hnn  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "serve_review.png"))
    p.add_argument("--upload", default="resnet_d2", help="which tiny model to check")
    args = p.parse_args(argv)
    why = missing()
    if why:
        raise SystemExit(why)
    work = Path(tempfile.mkdtemp(prefix="hnn-shot-"))
    try:
        models = tiny_models(work / "models")
        ckpt = tiny_checkpoint(models, work / "run")
        by = {m.stem: m for m in models}
        db = work / "index.db"
        indexed = [by[n] for n in ("resnet_d1", "resnet_d3", "convnet", "mlp_2")]
        assert (
            hnn(
                [
                    "index",
                    "add",
                    "--db",
                    str(db),
                    "--checkpoint",
                    str(ckpt),
                    "--label",
                    "zoo",
                    *map(str, indexed),
                ]
            )
            == 0
        )
        with serving("--db", db, "--data-dir", work / "data") as s, chromium(1100, 820) as d:
            check_on_page(d, s.url + "/", upload=by[args.upload])
            d.save_screenshot(args.out)
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
