"""Fixtures of the demo tests: one demo root built per session (2 days)."""

from datetime import date
from pathlib import Path

import pytest

from stix_assets.demo import DemoRoot, build_demo_root

DEMO_START = date(2024, 5, 14)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> DemoRoot:
    return build_demo_root(tmp_path_factory.mktemp("demo") / "stix-demo", start=DEMO_START, days=2)


@pytest.fixture(scope="session")
def demo_idb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stix_assets.demo import write_demo_history, write_demo_idb

    root = tmp_path_factory.mktemp("demo_idb")
    write_demo_idb(root / "2.26.34" / "idb.sqlite")
    write_demo_history(root / "idbVersionHistory.json")
    return root
