"""The format contract in the tests: every product a test writes is checked against its schema."""

from collections.abc import Iterable
from pathlib import Path

from stix_assets.schemas.structure import validate_file

__all__ = ["assert_conform"]


def assert_conform(paths: Iterable[Path | str]) -> None:
    """Fail with every schema problem of the written product files ``paths``."""
    paths = list(paths)
    assert paths, "no product files to check"
    problems = [p for path in paths for p in validate_file(path)]
    assert problems == []
