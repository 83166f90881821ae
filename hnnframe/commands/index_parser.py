"""The parser of ``hnn index`` and its subcommands (their handlers live in
:mod:`hnnframe.commands.index` and :mod:`hnnframe.commands.index_check`)."""

from __future__ import annotations

import argparse
from typing import Any

from hnnframe.commands import index as handlers  # looked up when the parser is built
from hnnframe.commands.index import EPILOG
from hnnframe.commands.index_check import FAIL_ON_HELP, cmd_check
from hnnframe.commands.limit_options import add_limit_options
from hnnframe.commands.options import (
    add_checkpoint_option,
    add_db_option,
    add_device_option,
    add_json_option,
)


def _common(p: argparse.ArgumentParser) -> None:
    add_db_option(p)
    add_json_option(p)


def _weight_args(p: argparse.ArgumentParser, cmd: str) -> None:
    p.add_argument(
        "--structure",
        metavar="SOURCE",
        help="the architecture of weights files (.safetensors, state dicts), which have "
        "none: an ONNX file, a config.json, timm:NAME... (default: the config.json beside "
        "the file)",
    )
    p.add_argument(
        "--no-weights",
        action="store_true",
        help=f"{cmd} by structure (and sha256) only: read no weights",
    )


def _hashing(p: argparse.ArgumentParser, ckpt_help: str) -> None:
    add_checkpoint_option(p, ckpt_help)
    add_device_option(p)


def register(sub: Any) -> None:
    """Add ``hnn index`` and its subcommands."""
    ix = sub.add_parser(
        "index",
        help="add, search and check models against a database of hash codes",
        description="A database of model hash codes: add models, search the nearest ones by "
        "Hamming distance, and check an upload for suspected copies. " + EPILOG,
    )
    isub = ix.add_subparsers(dest="index_command", metavar="INDEX_COMMAND", required=True)
    _add(isub)
    _search(isub)
    _check(isub)
    _list(isub)
    _remove(isub)
    _stats(isub)
    _rehash(isub)


def _add(isub: Any) -> None:
    """The parser of ``hnn index add``."""
    a = isub.add_parser(
        "add",
        help="hash models and add them to the index",
        description="Hash models with the checkpoint and add them, committing every --chunk "
        "models, so an interrupted batch keeps what it committed. A model whose file (sha256) "
        "is already indexed is reported as 'exists', left unchanged and not hashed again, so a "
        "rerun of a batch hashes only the rest. A model that cannot be read is named on stderr "
        "(hnn: error: PATH: reason) and skipped; the others are added and the exit status is 1. "
        "Exit status 2: an error that stops the whole command (another checkpoint or Q, an "
        "unreadable index). The first add creates the index and binds it to the checkpoint. "
        + EPILOG,
    )
    a.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help=".onnx, TorchScript, a GGUF file, torchvision:NAME, timm:NAME, hf:TYPE, a "
        "config.json, a snapshot directory (config.json with model.safetensors, shards or "
        "pytorch_model.bin: one record named after the directory, keyed by its weights), or "
        "a weights file or directory of weights with --structure",
    )
    _hashing(a, "model.pt from `hnn train` (default: the checkpoint the index is bound to)")
    a.add_argument("--label", help="a label stored with every added model (e.g. zoo, licence)")
    a.add_argument(
        "--meta",
        action="append",
        metavar="KEY=VALUE",
        help="metadata stored with every added model (repeatable)",
    )
    _weight_args(a, "add")
    a.add_argument(
        "--weight-bits",
        type=int,
        metavar="Q",
        help="Q of the weight codes of an index that holds none yet (default 256; a Q with a "
        "threshold in hnnframe/weights/threshold.json); later adds use the index's",
    )
    a.add_argument(
        "--chunk",
        type=int,
        metavar="N",
        # The default lives in hnnframe.index.model_files.ADD_CHUNK; importing it here would load
        # numpy whenever the parser is built.
        help="models hashed and committed per transaction (default 32)",
    )
    _common(a)
    add_limit_options(a)
    a.set_defaults(func=handlers.cmd_add)


def _search(isub: Any) -> None:
    """The parser of ``hnn index search``."""
    s = isub.add_parser(
        "search",
        help="the k indexed models nearest to each query",
        description="Hash each QUERY (a model file, a named source such as torchvision:NAME, "
        "hex:CODE for a code already computed, or id:N for the code of indexed record N) and print the k nearest indexed models by Hamming distance, ties "
        "broken by order of addition; an indexed model of the query's architecture (the same "
        "canonical graph, or config architecture fields) is marked '= same architecture' and "
        "listed even beyond the k nearest. " + EPILOG,
    )
    s.add_argument("queries", nargs="+", metavar="QUERY", help="a model, hex:CODE or id:N")
    s.add_argument("-k", type=int, default=10, help="matches per query (default 10)")
    s.add_argument(
        "--structure",
        metavar="SOURCE",
        help="the architecture of queries that are weights files (default: the config.json "
        "beside the file)",
    )
    s.add_argument("--radius", type=int, help="only matches within this Hamming distance")
    _hashing(s, "hash queries with this checkpoint (must be the index's; default: the index's)")
    _common(s)
    add_limit_options(s)
    s.set_defaults(func=handlers.cmd_search)


def _check(isub: Any) -> None:
    """The parser of ``hnn index check``."""
    c = isub.add_parser(
        "check",
        help="is an upload a copy of an indexed model, and on which tier? (exit 1: copy)",
        description="Hash the upload (and read its weights, when it carries them and the index "
        "holds some) and list every indexed model it matches, each with the strongest tier: "
        "exact file (sha256), exact tensors (tensor digests), weight match (weight codes "
        "within the shipped threshold, whose false-positive rate is printed), same "
        "architecture (the same digest of the canonical graph, or of a config's architecture "
        "fields), or structure only (structural code within --radius, default Q/8). Exit "
        "status 1: a suspected copy under --fail-on (by default a weight-level tier, or a "
        "structural neighbour whose weights the index does not hold); 0: none (an "
        "independently trained model of the same architecture is same architecture with "
        "other weights, and exits 0); 2: error (an upload that cannot be "
        "parsed, an unreadable index, a checkpoint mismatch). A PEFT adapter directory is "
        "checked by what it fits: the base architecture named from its tensor shapes, the "
        "indexed models it can be applied to, and 'adapter for #N' (exit 1). " + EPILOG,
    )
    c.add_argument(
        "uploads",
        nargs="+",
        metavar="UPLOAD",
        help="a model (file, snapshot directory, GGUF), a PEFT adapter directory, or hex:CODE",
    )
    c.add_argument(
        "--radius", type=int, help="largest structural distance that counts (default Q/8)"
    )
    c.add_argument(
        "--fail-on",
        choices=list(FAIL_ON_HELP),
        default="auto",
        help="which candidates make exit status 1: "
        + "; ".join(f"{k}: {v}" for k, v in FAIL_ON_HELP.items()),
    )
    c.add_argument(
        "--weight-threshold",
        type=int,
        metavar="T",
        help="Hamming threshold of a weight match (default: the shipped one, measured on the "
        "weight test bed, whose false-positive rate is printed)",
    )
    _weight_args(c, "check")
    _hashing(c, "hash with this checkpoint (must be the index's; default: the index's)")
    _common(c)
    add_limit_options(c)
    c.set_defaults(func=cmd_check)


def _list(isub: Any) -> None:
    """The parser of ``hnn index list``."""
    ls = isub.add_parser(
        "list", help="list indexed models", description="List indexed models in order of addition."
    )
    ls.add_argument("--label", help="only models with this label")
    ls.add_argument(
        "--category", help="only models the hashing network put in this group (not shown)"
    )
    ls.add_argument("--limit", type=int, help="at most this many")
    ls.add_argument("--offset", type=int, default=0, help="skip this many first")
    _common(ls)
    ls.set_defaults(func=handlers.cmd_list)


def _remove(isub: Any) -> None:
    """The parser of ``hnn index remove``."""
    rm = isub.add_parser(
        "remove",
        help="remove models from the index",
        description="Remove records by id or sha256 (a unique prefix of 8+ hex digits will "
        "do), and/or every record with --label, in one transaction: if one RECORD matches "
        "nothing, nothing is removed.",
    )
    rm.add_argument("records", nargs="*", metavar="RECORD", help="record id or sha256")
    rm.add_argument("--label", help="remove every record with this label")
    _common(rm)
    rm.set_defaults(func=handlers.cmd_remove)


def _stats(isub: Any) -> None:
    """The parser of ``hnn index stats``."""
    st = isub.add_parser(
        "stats",
        help="record count, binding, labels, size",
        description="Summarise the index. --verify also runs a full integrity check (SQLite "
        "integrity_check, code lengths, fingerprints) and exits 1 if it finds a problem.",
    )
    st.add_argument("--verify", action="store_true", help="run a full integrity check")
    _common(st)
    st.set_defaults(func=handlers.cmd_stats)


def _rehash(isub: Any) -> None:
    """The parser of ``hnn index rehash``."""
    rh = isub.add_parser(
        "rehash",
        help="re-hash every indexed model with a new checkpoint",
        description="Hash every indexed model again (from its stored path) with a new "
        "checkpoint, then replace all codes and bind the index to the new checkpoint in one "
        "transaction. Fails, changing nothing, if a model file is gone or changed, unless "
        "--drop-missing removes those records.",
    )
    add_checkpoint_option(rh, "the new model.pt", required=True)
    add_device_option(rh)
    rh.add_argument(
        "--drop-missing",
        action="store_true",
        help="remove records whose model file is gone or changed",
    )
    _common(rh)
    rh.set_defaults(func=handlers.cmd_rehash)
