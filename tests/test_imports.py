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
    ("checkpoint", "hashing", "evaluate", "upload"),
    ("index",),
    ("train", "train_resume", "robustness", "protocol_c"),
    ("reproduce", "tune"),
    ("serve",),
    ("commands",),
    ("cli",),
]


def module_name(path: Path, pkg: Path = PKG) -> str:
    rel = path.relative_to(pkg.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules(pkg: Path = PKG) -> dict[str, Path]:
    return {module_name(p, pkg): p for p in pkg.rglob("*.py")}


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


# -- lazy imports (docs/writing-rules.md, "Lazy imports") ---------------------------------------
#: Third-party packages slow to import: 30 ms or more each (``python -X importtime -c "import
#: X"`` on the 2-core development machine: torch 1.3 s, onnx 0.7 s, transformers 0.6 s, fastapi
#: 0.25 s, sqlalchemy 0.2 s, optuna 0.16 s, numpy and networkx 0.11 s, pydantic 0.07 s, tqdm
#: 0.05 s; ``hnn --help`` takes about 0.2 s in all). yaml (0.02 s) and the standard library
#: are light. A hnnframe module is heavy when its import loads one of these.
HEAVY = frozenset(
    {
        "dgl",
        "fastapi",
        "gguf",
        "huggingface_hub",
        "matplotlib",
        "networkx",
        "numpy",
        "onnx",
        "onnx_ir",
        "onnxruntime",
        "onnxscript",
        "onnxsim",
        "onnxslim",
        "optuna",
        "pandas",
        "plotly",
        "psycopg",
        "psycopg2",
        "pydantic",
        "safetensors",
        "scipy",
        "setuptools",
        "sklearn",
        "sqlalchemy",
        "starlette",
        "tensorboard",
        "timm",
        "torch",
        "torchvision",
        "tqdm",
        "transformers",
        "uvicorn",
    }
)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
Import = ast.Import | ast.ImportFrom


def import_statements(path: Path) -> tuple[list[Import], list[Import]]:
    """A module's import statements run inside a function (lazy) and those run when it is
    imported (eager: module level, class bodies, ``try`` and ``if`` blocks). The body of an
    ``if TYPE_CHECKING:`` block never runs and counts as neither."""
    lazy: list[Import] = []
    eager: list[Import] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for n in child.orelse:
                    walk(ast.Module(body=[n], type_ignores=[]), in_function)
                continue
            if isinstance(child, Import):
                (lazy if in_function else eager).append(child)
            walk(child, in_function or isinstance(child, _FUNCTIONS))

    walk(ast.parse(path.read_text()), False)
    return lazy, eager


def loaded_by(stmt: Import, me: str, is_pkg: bool, modules: dict[str, Path]) -> set[str]:
    """The hnnframe modules an import statement loads, the packages above them included."""
    if isinstance(stmt, ast.Import):
        named = {a.name for a in stmt.names}
    else:
        if stmt.level:
            base = me.split(".") if is_pkg else me.split(".")[:-1]
            base = base[: len(base) - stmt.level + 1]
            mod = ".".join([*base, stmt.module] if stmt.module else base)
        else:
            mod = stmt.module or ""
        named = {mod} | {f"{mod}.{a.name}" for a in stmt.names}
    out = set()
    for name in named:
        parts = name.split(".")
        out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {m for m in out if m in modules}


def _third_party(stmt: Import) -> set[str]:
    if isinstance(stmt, ast.Import):
        return {a.name.split(".")[0] for a in stmt.names}
    return set() if stmt.level or not stmt.module else {stmt.module.split(".")[0]}


def heavy_modules(modules: dict[str, Path]) -> dict[str, str]:
    """Every module whose import loads a :data:`HEAVY` package through module-level imports
    (its own, its packages', and those of the modules they load), with the chain that does."""
    eager: dict[str, set[str]] = {}
    why: dict[str, str] = {}
    for m, p in modules.items():
        stmts = import_statements(p)[1]
        is_pkg = p.name == "__init__.py"
        parts = m.split(".")
        packages = {".".join(parts[:i]) for i in range(1, len(parts))}  # imported before it
        eager[m] = set().union(packages, *(loaded_by(s, m, is_pkg, modules) for s in stmts))
        eager[m].discard(m)
        found = sorted(set().union(*map(_third_party, stmts)) & HEAVY)
        if found:
            why[m] = found[0]
    grew = True
    while grew:  # heavy spreads to every module that loads a heavy one
        grew = False
        for m, deps in eager.items():
            hit = next((d for d in sorted(deps) if d in why), None)
            if m not in why and hit is not None:
                why[m] = f"{hit} -> {why[hit]}"
                grew = True
    return why


def light_lazy_imports(modules: dict[str, Path]) -> list[str]:
    """In-function imports of hnnframe modules none of which is heavy, as ``path:line: module``."""
    heavy = heavy_modules(modules)
    bad = []
    for m, p in sorted(modules.items()):
        for stmt in import_statements(p)[0]:
            loads = loaded_by(stmt, m, p.name == "__init__.py", modules) - {m}
            # `from pkg import sub` loads pkg and sub: heavy when either is
            if loads and not loads & heavy.keys():
                deepest = max(loads, key=lambda d: d.count("."))
                bad.append(
                    f"{p.relative_to(p.parents[len(m.split('.')) - 1])}:{stmt.lineno}: {deepest}"
                )
    return bad


def test_lazy_imports_are_of_heavy_modules_only() -> None:
    """An in-function import of a hnnframe module is for a heavy one only (it keeps torch,
    ONNX, numpy... out of the processes that do not need them); a light one goes at the top,
    where a reader sees what the module depends on."""
    bad = light_lazy_imports(all_modules())
    assert not bad, (
        f"{len(bad)} in-function imports of light modules (move them to the top):\n"
        + "\n".join(bad)
    )


def test_the_lazy_import_check_sees_heavy_chains(tmp_path: Path) -> None:
    """The checker itself: heaviness travels through module-level imports and packages,
    not through imports inside functions, and a lazy import of a light module is named."""
    pkg = tmp_path / "hnnframe"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "leaf.py": "import json\n",
        "num.py": "import numpy as np\n",
        "via.py": "from hnnframe import num\n",
        "sub/__init__.py": "from hnnframe.via import *\n",
        "sub/inner.py": "X = 1\n",
        "lazy_torch.py": "def f():\n    import torch\n",
        "typing_only.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
        "user.py": (
            "def f():\n"
            "    from hnnframe import leaf\n"
            "    from hnnframe.sub import inner\n"
            "    import hnnframe.lazy_torch\n"
            "    from hnnframe.typing_only import X\n"
            "    from . import via\n"
        ),
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    modules = all_modules(pkg)
    heavy = heavy_modules(modules)
    assert set(heavy) == {"hnnframe.num", "hnnframe.via", "hnnframe.sub", "hnnframe.sub.inner"}
    assert heavy["hnnframe.sub.inner"] == "hnnframe.sub -> hnnframe.via -> hnnframe.num -> numpy"
    assert light_lazy_imports(modules) == [
        "hnnframe/user.py:2: hnnframe.leaf",
        "hnnframe/user.py:4: hnnframe.lazy_torch",
        "hnnframe/user.py:5: hnnframe.typing_only",
    ]
