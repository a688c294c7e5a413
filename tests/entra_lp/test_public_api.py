"""The flat public API: every exported name resolves, import stays light, no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

import entra_lp

REPO = Path(__file__).resolve().parents[2]


def test_every_exported_name_resolves_and_has_a_docstring() -> None:
    for name in entra_lp.__all__:
        if name == "__version__":
            continue
        value = getattr(entra_lp, name)
        assert value is not None, name
        if callable(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        entra_lp.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_is_light() -> None:
    """``import entra_lp`` must not pull in the optional Graph SDK or the heavy engines."""
    code = (
        "import sys, entra_lp, permission_catalog;"
        "heavy = [m for m in ('msgraph', 'duckdb', 'scipy', 'networkx', 'pandas')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _module_level_imports(path: Path, module: str, is_package: bool) -> set[str]:
    """Project modules imported at module level (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    base = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in (
            ast.walk(node)
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            else ()
        ):
            if isinstance(sub, ast.ImportFrom):
                if sub.level:
                    parts = base.split(".")
                    anchor = ".".join(parts[: len(parts) - sub.level + 1])
                    target = f"{anchor}.{sub.module}" if sub.module else anchor
                else:
                    target = sub.module or ""
                found.add(target)
            elif isinstance(sub, ast.Import):
                found.update(alias.name for alias in sub.names)
    return {t for t in found if t.split(".")[0] in ("entra_lp", "permission_catalog")}


def test_no_import_cycles_between_modules() -> None:
    """One stage per module, one direction: the module-level import graph is acyclic."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    for root in (REPO / "entra_lp", REPO / "permission_catalog"):
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(REPO).with_suffix("")
            is_package = rel.name == "__init__"
            module = ".".join(rel.parts[:-1] if is_package else rel.parts)
            graph.add_node(module)
            for target in _module_level_imports(path, module, is_package):
                if target != module:
                    graph.add_edge(module, target)
    # a package importing its own submodules is how re-exports work, not a cycle
    for a, b in list(graph.edges):
        if b.startswith(a + "."):
            graph.remove_edge(a, b)
    assert graph.has_edge("entra_lp.tenant.reads", "entra_lp.export.graph")  # the walk sees edges
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], cycles[:5]
