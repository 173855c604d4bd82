"""The core must stay free of Dagster so it works in a notebook (STYLE.md section 2)."""

import pkgutil
import subprocess
import sys

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
