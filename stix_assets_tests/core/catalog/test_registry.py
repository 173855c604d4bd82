"""The catalog's op handlers are assembled in one place; importing a store changes nothing."""

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import stix_assets.core.catalog
from stix_assets.core.catalog import kernels, products, publish, quarantine, tm_files
from stix_assets.core.catalog.registry import OP_HANDLERS, build_op_handlers


def test_handlers_are_the_stores_lists():
    stores = (tm_files, quarantine, products, publish, kernels)
    expected = {name: fn for store in stores for name, fn in store.HANDLERS}
    assert dict(OP_HANDLERS) == expected
    assert set(expected) == {
        "tm_file",
        "tm_days",
        "forget_tm_files",
        "forget_levels",
        "quarantine",
        "products",
        "lb_inputs",
        "publish_upsert",
        "publish_delete",
        "kernel_zip",
    }


def test_catalog_applies_ops_through_the_registry(tmp_path):
    assert stix_assets.core.catalog.Catalog(tmp_path / "c.duckdb")._handlers is OP_HANDLERS


def test_handlers_cannot_be_changed():
    with pytest.raises(TypeError):
        OP_HANDLERS["kernel_zip"] = print  # type: ignore[index]


def test_importing_the_stores_and_their_users_does_not_change_the_handlers():
    # a fresh interpreter: the mapping right after the registry is imported, then after every
    # module that uses the publish and kernel stores is imported too
    code = (
        "import importlib\n"
        "from stix_assets.core.catalog.registry import OP_HANDLERS\n"
        "before = dict(OP_HANDLERS)\n"
        "for name in ('stix_assets.core.catalog.publish', 'stix_assets.core.catalog.kernels',\n"
        "             'stix_assets.core.publish', 'stix_assets.core.sync',\n"
        "             'stix_assets.core.process'):\n"
        "    importlib.import_module(name)\n"
        "print(sorted(before) == sorted(OP_HANDLERS),\n"
        "      all(before[k] is OP_HANDLERS[k] for k in before))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_two_handlers_for_one_op_are_refused():
    with pytest.raises(ValueError, match="'x' has two handlers"):
        build_op_handlers(((("x", print),), (("x", repr),)))


def _catalog_modules() -> list[str]:
    path = stix_assets.core.catalog.__path__
    return [m.name for m in pkgutil.iter_modules(path, prefix="stix_assets.core.catalog.")]


@pytest.mark.parametrize("name", _catalog_modules())
def test_no_module_fills_a_mapping_at_import(name):
    # module-level statements: no ``X[key] = ...`` and no ``X.update(...)`` / ``X.setdefault(...)``
    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        assert not any(isinstance(t, ast.Subscript) for t in targets), ast.unparse(node)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            assert not (
                isinstance(func, ast.Attribute) and func.attr in {"update", "setdefault"}
            ), ast.unparse(node)
