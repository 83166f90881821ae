"""A real ``hnn index check`` session, as the README shows it.

Run (after ``make demo``, which writes ``runs/demo/model.pt``):
    python examples/readme_check.py --write README.md

A platform protects one model (``protected.onnx``: a torchvision network with its weights) and
holds another architecture beside it. Four uploads are checked against that index with the
real ``hnn`` commands, and each command is shown with what it printed and its exit status:

* ``protected.onnx`` renamed (the same bytes): exact file;
* the protected model converted to float16 by onnxruntime: its tensors differ, its weight code
  is within the shipped threshold: weight match;
* the same architecture with independently initialised weights: same architecture (the
  canonical graph's digest is the protected model's) with other weights, exit 0;
* another architecture: nothing.

``--write`` replaces the ``readme-check`` block of that Markdown file with the session.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BLOCK = "readme-check"  # README.md: between <!-- readme-check:begin --> and its end marker


def export(arch: str, seed: int, path: Path) -> Path:
    """``torchvision:<arch>`` with seeded random weights, exported with its weights."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None).eval()
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), str(path), dynamo=False)
    return path


def fp16_copy(src: Path, dst: Path) -> Path:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(src)), keep_io_types=True), str(dst))
    return dst


def run(cmd: list[str], cwd: Path) -> tuple[str, int]:
    """Run one ``hnn`` command in ``cwd``; its stdout (stderr's warnings left out) and status."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if p.returncode == 2:
        raise SystemExit(f"{shlex.join(cmd)} failed: {p.stderr.strip().splitlines()[-1]}")
    return p.stdout.rstrip().replace(f"{cwd}/", ""), p.returncode


def session(checkpoint: Path, arch: str, other: str, work: Path) -> str:
    """The Markdown of the session: each command, its output and its exit status."""
    hnn = str(Path(sys.executable).with_name("hnn"))
    export(arch, 0, work / "protected.onnx")
    export(other, 0, work / f"{other}.onnx")
    shutil.copy(work / "protected.onnx", work / "upload_renamed.onnx")
    fp16_copy(work / "protected.onnx", work / "upload_fp16.onnx")
    export(arch, 1, work / "upload_retrained.onnx")
    ckpt = ["--checkpoint", str(checkpoint)]
    steps = [
        ["index", "add", "--db", "models.db", *ckpt, "protected.onnx", f"{other}.onnx"],
        ["index", "check", "--db", "models.db", *ckpt, "upload_renamed.onnx"],
        ["index", "check", "--db", "models.db", *ckpt, "upload_fp16.onnx"],
        ["index", "check", "--db", "models.db", *ckpt, "upload_retrained.onnx"],
    ]
    blocks = []
    for args in steps:
        out, status = run([hnn, *args], work)
        shown = shlex.join(["hnn", *args]).replace(str(checkpoint), "runs/demo/model.pt")
        blocks.append(f"$ {shown}\n{out}\n$ echo $?\n{status}")
    intro = (
        f"`protected.onnx` is torchvision's {arch} with its weights; the index also holds "
        f"{other}. The uploads: the same file renamed, the protected model converted to "
        f"float16 by onnxruntime, and {arch} with independently initialised weights. Made by "
        "`python examples/readme_check.py --write README.md` with the `make demo` checkpoint."
    )
    return intro + "\n\n```console\n" + "\n\n".join(blocks) + "\n```\n"


def write_readme_block(path: Path, text: str) -> None:
    """Replace the readme-check block of ``path``, which must already have one."""
    from hnnframe.files import read_block, write_block

    if read_block(path, BLOCK) is None:
        raise SystemExit(f"{path} has no <!-- {BLOCK}:begin --> ... <!-- {BLOCK}:end --> block")
    write_block(path, BLOCK, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", default="runs/demo/model.pt", help="model.pt of `hnn train`")
    p.add_argument("--arch", default="resnet18", help="torchvision architecture to protect")
    p.add_argument("--other", default="mobilenet_v2", help="another architecture in the index")
    p.add_argument("--write", help="Markdown file whose readme-check block gets the session")
    args = p.parse_args(argv)
    ckpt = Path(args.checkpoint).resolve()
    if not ckpt.exists():
        raise SystemExit(f"no checkpoint at {ckpt}; run `make demo` or pass --checkpoint")
    with tempfile.TemporaryDirectory() as d:
        text = session(ckpt, args.arch, args.other, Path(d))
    if args.write:
        write_readme_block(Path(args.write), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
