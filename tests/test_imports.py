"""The package's import graph: layers import only downwards, and there are no circles.

Every ``import hnnframe...`` and ``from hnnframe... import ...`` statement counts, at module
top level or inside a function (a lazy import still ties the layers together). A package's
``__init__`` may import its own submodules (that is how built-in components register), but a
submodule never imports its own package's ``__init__``: shared pieces live in a sibling such
as ``base.py``. The layer of every module is given below; a new module must be placed in it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "hnnframe"

# Bottom to top (DEVELOPERS.md: frontends -> ir -> canonical -> merge -> encoders -> nn -> codes
# -> index -> commands, with the shared leaf modules below everything). A module may import
# modules of its own layer or of lower layers, never of a higher one.
LAYERS: list[tuple[str, ...]] = [
    (
        "hnnframe",
        "errors",
        "log",
        "registry",
        "plugins",
        "files",
        "codes",
        "limits",
        "repo",
        "formats",
        "evidence",
    ),
    ("frontends",),
    ("sources",),
    ("ir",),
    ("canonical",),
    ("merge",),
    ("pipeline", "presets", "recipe"),
    ("encoders", "wl"),
    ("dgl_compat", "nn", "losses", "ged", "metric_logging"),
    ("data", "variants", "baselines", "weights", "corpus"),
    ("checkpoint", "hashing", "evaluate"),
    ("train", "train_resume", "robustness", "protocol_c"),
    ("reproduce", "tune"),
    ("index",),
    ("serve",),
    ("commands",),
    ("cli",),
]


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else "hnnframe"
    for rank, names in enumerate(LAYERS):
        if top in names:
            return rank
    raise AssertionError(f"{module} is in no layer of tests/test_imports.py: place it there")


def imports_of(path: Path, modules: dict[str, Path], me: str | None = None) -> set[str]:
    """The hnnframe modules a file imports (``from a import b`` counts ``a.b`` if a module)."""
    me = me or module_name(path)
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("hnnframe")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = me.split(".") if is_pkg else me.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            if not mod.startswith("hnnframe"):
                continue
            subs = {f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in modules}
            named = {a.name for a in node.names}
            # `from pkg import sub` imports only the submodule when every name is one.
            if not subs or len(subs) < len(named):
                out.add(mod)
            out |= subs
    out.discard(me)
    return {m for m in out if m in modules}


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {m: imports_of(p, modules) for m, p in modules.items()}


def test_every_module_has_a_layer() -> None:
    for m in all_modules():
        layer_of(m)


def test_no_import_goes_up_a_layer() -> None:
    bad = [
        f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
        for m, deps in graph().items()
        for d in deps
        if layer_of(d) > layer_of(m)
    ]
    assert not bad, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(bad))


def test_no_submodule_imports_its_own_package() -> None:
    bad = [
        f"{m} imports its package {d}"
        for m, deps in graph().items()
        for d in deps
        if m.startswith(d + ".")
    ]
    assert not bad, "\n".join(sorted(bad))


def test_import_graph_has_no_cycles() -> None:
    cycles = _cycles(graph())
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def package_graph() -> dict[str, set[str]]:
    """The import graph of the top-level packages and modules (``hnnframe.frontends``, ...):
    an import between two of their modules is an edge between them."""

    def top(m: str) -> str:
        return ".".join(m.split(".")[:2])

    out: dict[str, set[str]] = {}
    for m, deps in graph().items():
        out.setdefault(top(m), set()).update(top(d) for d in deps if top(d) != top(m))
    out.pop("hnnframe", None)  # the package root only registers plugins
    return {p: {d for d in deps if d != "hnnframe"} for p, deps in out.items()}


def _cycles(g: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                found.append(" -> ".join([*stack[stack.index(d) :], d]))
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    return found


def test_package_graph_has_no_cycles() -> None:
    """Packages as well as modules: two packages never import each other, even through
    different modules (``data.dataset`` -> ``corpus`` -> ``data.zoo`` was such a circle)."""
    cycles = _cycles(package_graph())
    assert not cycles, "import circles between packages:\n" + "\n".join(cycles)


def test_the_package_check_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}}) == ["a -> b -> a"]
    assert not _cycles({"a": {"b"}, "b": set()})


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself: an import inside a function and a relative import are found."""
    src = tmp_path / "probe.py"
    src.write_text(
        "from . import errors\n"
        "def f():\n"
        "    from hnnframe.canonical import fold\n"
        "    from hnnframe.train import Trainer\n"
        "    return Trainer\n"
    )
    found = imports_of(src, all_modules(), me="hnnframe.probe")
    assert found == {"hnnframe.errors", "hnnframe.canonical.fold", "hnnframe.train"}
