"""Layering of the core: free of Dagster (STYLE.md section 2) and free of import cycles."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import stix_assets.core


def _core_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(stix_assets.core.__path__, prefix="stix_assets.core.")
    )


def test_core_modules_do_not_import_dagster():
    modules = _core_modules()
    assert "stix_assets.core.tmtc.soc" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- the import graph of the core ---------------------------------------------------------------
_CORE_ROOT = Path(stix_assets.core.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(_CORE_ROOT.parent.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, modules: set[str]) -> set[str]:
    """Core modules a module imports anywhere (top level, functions, ``TYPE_CHECKING``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in modules:
                    out.add(full)  # from package import submodule
                elif node.module in modules:
                    out.add(node.module)
    return out


def _core_import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in sorted(_CORE_ROOT.rglob("*.py"))}
    modules = set(paths)
    return {
        name: _imported(ast.parse(path.read_text(encoding="utf-8")), modules) - {name}
        for name, path in paths.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_find_cycle_reports_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_core_has_no_import_cycle():
    graph = _core_import_graph()
    assert "stix_assets.core.products.l0_build" in graph
    assert "stix_assets.core.products.builders" in graph["stix_assets.core.products.l0_build"]
    assert _find_cycle(graph) is None


def test_product_builders_do_not_reach_the_catalog():
    graph = _core_import_graph()
    builders = [
        f"stix_assets.core.products.{name}"
        for name in ("builders", "l0_build", "l0_writer", "l1_build", "l1_writer", "l2")
    ]
    for name in builders:
        assert "stix_assets.core.catalog" not in _reachable(graph, name), name
    # no product module at all: which files a level-day reads is `core.levels`' business
    products = [m for m in graph if m.startswith("stix_assets.core.products.")]
    assert len(products) > 20
    for name in products:
        assert "stix_assets.core.catalog" not in _reachable(graph, name), name
