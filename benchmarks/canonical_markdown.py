"""The Markdown report of ``benchmarks/canonical_hub.py`` (docs/canonical_hub.md): the header
(command, machine, the set and where it came from), the table per tool against both
references, the families below 100 %, the misses grouped by reason, and, for a small set, the
table per architecture. Every figure comes from the result :func:`canonical_hub.main` made.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from canonical_report import BITS, CORPUS, FOLDED, REFERENCE

PER_ARCH_MAX = 100  # larger sets leave the per-architecture table to the JSON


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def num(x: Any) -> str:
    return "-" if x is None else (f"{x:.1f}" if x != int(x) else str(int(x)))


def _cell(row: dict[str, Any], ref: str, field: str, fmt: Any) -> str:
    after = fmt(row[ref][field])
    before = row.get(f"{ref}_before")
    return after if before is None else f"{after} ({fmt(before[field])})"


def header(result: dict[str, Any], command: str) -> list[str]:
    src = result["sources"].values()
    status = Counter(s["status"] for s in src)
    by_source = Counter(s["source"] for s in src if s["status"] == "ok")
    limits = result["limits"]
    limit_text = (
        f" under `hnn corpus build`'s limits ({limits['max_params']:,} parameters, "
        f"{limits['max_nodes']:,} nodes)"
        if limits
        else ""
    )
    return [
        "# Canonicalisation beyond the zoo",
        "",
        f"Command: `{command}` ({result['seconds']:.0f} s on {result['machine']}).",
        "",
        f"{result['note']} {status['ok']} architectures measured ("
        + ", ".join(f"{n} {s}" for s, n in sorted(by_source.items()))
        + f"); {status['filtered']} left out by size{limit_text}, {status['failed']} failed.",
        "",
        "Each copy is compared after `ROBUST_PASSES` and the merge rules `conv_relu, bn_relu, "
        "gemm_relu` with two TorchScript references: the unfolded, training-preserving export "
        "(*reference*) and the folded one (*folded*, the `bn_folded` copy; its row compares "
        "the two references). *Same G* is the share whose canonical graph is the reference's "
        f"up to node order, *WL bits* the Hamming distance of the canonical WL SimHash (Q = "
        f"{BITS}) to the unfolded reference, *> 4* how many differ by more than 4 bits. "
        + (
            f"Each cell is this checkout's figure, in brackets that of `{result['baseline']}`'s "
            "passes and graph reader on the same files. "
            if result["baseline"] != "-"
            else ""
        )
        + "`corpus` is the graph the hub corpus holds (the meta-device dynamo export for "
        "transformers). Exports, copies and prepared graphs already in `--cache` are read, "
        "not made again.",
    ]


def tool_table(result: dict[str, Any]) -> list[str]:
    from hnnframe.variants import get_transform

    lines = [
        "",
        "| tool | listed | copies (n/a) | same G vs reference | same G vs folded | "
        "median WL bits | max | > 4 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, s in result["summary"].items():
        listed = "-" if t == CORPUS else ("yes" if get_transform(t).listed else "no")
        name = f"{t} (folded reference)" if t == FOLDED else t
        folded = "-" if t == FOLDED else _cell(s, FOLDED, "same", pct)
        lines.append(
            f"| {name} | {listed} | {s[REFERENCE]['n']} ({s['failed']}) | "
            f"{_cell(s, REFERENCE, 'same', pct)} | {folded} | "
            f"{_cell(s, REFERENCE, 'median', num)} | {_cell(s, REFERENCE, 'max', num)} | "
            f"{_cell(s, REFERENCE, 'over4', num)} |"
        )
    return lines


def family_table(result: dict[str, Any]) -> list[str]:
    fams = result["families"]
    below = {f: v for f, v in fams.items() if v["same"] is not None and v["same"] < 1}
    lines = [
        "",
        "## Per family",
        "",
        f"Over all tools' copies (`corpus` not counted), {len(fams) - len(below)} of "
        f"{len(fams)} families have every copy's canonical graph equal to the unfolded "
        f"reference's"
        + (
            f"; the {len(below)} below 100%, lowest first (*misses*: copies per tool that "
            "differ from the unfolded reference):"
            if below
            else "."
        ),
    ]
    if below:
        lines += [
            "",
            "| family | architectures | copies | same G vs reference | vs folded | misses |",
            "|---|---|---|---|---|---|",
        ]
    for f, v in below.items():
        miss = ", ".join(f"{t} {n}" for t, n in v["misses"].items())
        lines.append(
            f"| {f} | {v['architectures']} | {v['copies']} | {pct(v['same'])} | "
            f"{pct(v['same_folded'])} | {miss} |"
        )
    return lines


def miss_section(result: dict[str, Any]) -> list[str]:
    groups = result["misses"]
    total = sum(g["count"] for g in groups)
    lines = [
        "",
        "## Misses",
        "",
        f"{total} copies differ from the unfolded reference after canonicalisation. The "
        "reason compares the two canonical graphs: the ops the copy has more (+) and fewer "
        "(-) of; with equal op counts, the ops whose FLOPs or parameters differ; with equal "
        "nodes, *different wiring*."
        + (" Grouped by the reason without its counts:" if groups else ""),
    ]
    if groups:
        lines += ["", "| reason | copies | tools |", "|---|---|---|"]
    for g in groups:
        tools = Counter(i["tool"] for i in g["items"])
        t = ", ".join(f"{k} {n}" for k, n in tools.most_common())
        lines.append(f"| {g['kind'] or '-'} | {g['count']} | {t} |")
    for g in groups:
        lines += [
            "",
            f"<details><summary>{g['kind']} ({g['count']})</summary>",
            "",
            *[f"- {i['key']} / {i['tool']}: {i['reason']}" for i in g["items"]],
            "",
            "</details>",
        ]
    return lines


def arch_table(result: dict[str, Any]) -> list[str]:
    details = result["details"]
    if len(details) > PER_ARCH_MAX:
        return ["", f"The per-architecture table ({len(details)} rows) is in the JSON."]
    ts = list(result["summary"])
    lines = [
        "",
        "## Per architecture",
        "",
        "WL bits to the unfolded reference for each tool; `=` marks the reference's "
        "canonical graph, `F` the folded reference's, `n/a` a copy the tool could not make:",
        "",
        "| architecture | " + " | ".join(ts) + " |",
        "|---|" + "---|" * len(ts),
    ]
    for key, d in details.items():
        cells = []
        for t in ts:
            c = d["vs"].get(t, {})
            r, f = c.get(REFERENCE, {}), c.get(FOLDED, {})
            if "bits" not in r:
                cells.append("n/a")
                continue
            mark = ("=" if r["same"] else "") + ("F" if f.get("same") else "")
            cells.append(f"{mark}{r['bits']}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def failures(result: dict[str, Any]) -> list[str]:
    errors = sorted(
        {
            f"{t}: {c[REFERENCE]['error'][:120]}"
            for d in result["details"].values()
            for t, c in d["vs"].items()
            if "error" in c.get(REFERENCE, {})
        }
    )
    left = [
        f"- {k} ({s['status']}): {s['error'][:160]}"
        for k, s in result["sources"].items()
        if s["status"] != "ok"
    ]
    lines: list[str] = []
    if left:
        lines += ["", f"<details><summary>Architectures left out ({len(left)})</summary>", ""]
        lines += [*left, "", "</details>"]
    if errors:
        lines += [
            "",
            f"<details><summary>Copies that could not be made ({len(errors)} distinct errors)"
            "</summary>",
            "",
            *[f"- {e}" for e in errors],
            "",
            "</details>",
        ]
    return lines


def shared_section(result: dict[str, Any]) -> list[str]:
    """The architectures that share one canonical graph (twins, or a false "same
    architecture" of the exact-architecture tier)."""
    groups = result.get("shared", [])
    refs = [
        d for d in result["details"].values() if "structure" in d["graphs"].get("reference", {})
    ]
    distinct = len({d["graphs"]["reference"]["structure"] for d in refs})
    lines = [
        "",
        "## Architectures that share one canonical graph",
        "",
        f"{distinct} distinct canonical graphs among the references of {len(refs)} "
        f"architectures; {len(groups)} groups share one. *raw equal*: the exported graphs were "
        "equal before canonicalisation too (one network under two names); *no*: the passes made "
        "them equal.",
        "",
    ]
    if groups:
        lines += ["| architectures | families | raw equal |", "|---|---|---|"]
        for g in groups:
            raw = {True: "yes", False: "no", None: "?"}[g["raw_equal"]]
            lines.append(f"| {', '.join(g['keys'])} | {', '.join(g['families'])} | {raw} |")
    return lines


def markdown(result: dict[str, Any], command: str) -> str:
    lines = [
        *header(result, command),
        *tool_table(result),
        *family_table(result),
        *shared_section(result),
        *miss_section(result),
        *arch_table(result),
        *failures(result),
    ]
    return "\n".join(lines) + "\n"
