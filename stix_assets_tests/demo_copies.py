"""Copies of one processed demo, so that the test modules that need it do not each run it.

Running the demo (2 days, TM -> L1 and the daily products through the assets) takes most of a
minute; seven modules used to run it for themselves. The session fixture ``demo_run`` runs it
once per test process and is read-only; a module that writes into a demo (more products, a
dropped TM file, a served instance whose daemon may start runs) takes `copy_demo_run` of it.
"""

import dataclasses
import shutil
from pathlib import Path

from stix_assets.demo import DemoRoot
from stix_assets.demo_runner import DemoResult


def _moved(path: Path, source: Path, target: Path) -> Path:
    return target / path.relative_to(source) if path.is_relative_to(source) else path


def copy_demo_run(result: DemoResult, folder: Path) -> DemoResult:
    """Copy a processed demo root, its Dagster instance included, to ``folder/<root name>``.

    File times are kept (`shutil.copy2`), so a rerun of the demo on the copy finds nothing new.
    The instance's runs and events are the original's: paths inside event metadata (a plot's
    ``plot_path``) and the catalog's TM file paths still name the original root.
    """
    source = result.root.root
    target = folder / source.name
    shutil.copytree(source, target, symlinks=True)
    moved = {
        field.name: _moved(value, source, target)
        for field in dataclasses.fields(DemoRoot)
        if isinstance(value := getattr(result.root, field.name), Path)
    }
    root = dataclasses.replace(
        result.root,
        **moved,
        tm_files=tuple(_moved(p, source, target) for p in result.root.tm_files),
    )
    return dataclasses.replace(
        result, root=root, dagster_home=_moved(result.dagster_home, source, target)
    )
