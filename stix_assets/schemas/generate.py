"""Write a family's product kinds from example files: ``python -m stix_assets.schemas.generate``.

``python -m stix_assets.schemas.generate FAMILY FILE... [--version N --change TEXT]`` replaces the
``products`` of ``<family>.json`` with the merged structure of the files (`merge_structures`),
keeps the version unless ``--version`` is given (then ``--change`` adds the changelog entry) and
records the content hash of the version in ``schemas.lock.json``. Re-run `render` afterwards.
A new version is needed for any change of content: the lock refuses a second hash for a version.
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from stix_assets.schemas import LOCK_FILE, SCHEMA_DIR, product_kind, schema_hash
from stix_assets.schemas.structure import file_structure, merge_structures

__all__ = ["build_schema", "lock_schema", "main"]

_LEVEL = {"lb": "LB", "l0": "L0", "l1": "L1", "cal": "CAL"}


def build_schema(family: str, files: list[Path], *, base: dict[str, Any] | None) -> dict[str, Any]:
    """The schema of ``family`` with its product kinds taken from ``files``."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in sorted(files):
        by_kind[product_kind(f.name)].append(file_structure(f))
    base = base or {"family": family, "level": _LEVEL[family], "version": 1, "changelog": []}
    products = {kind: merge_structures(s) for kind, s in sorted(by_kind.items())}
    return {**base, "products": products}


def lock_schema(family: str, schema: dict[str, Any]) -> None:
    """Record the hash of the schema's version; refuse a changed content under an old version.

    Raises
    ------
    ValueError
        If the version is already locked with another hash.
    """
    lock = json.loads(LOCK_FILE.read_text()) if LOCK_FILE.is_file() else {}
    versions = lock.setdefault(family, {})
    digest = schema_hash(schema)
    old = versions.get(str(schema["version"]))
    if old is not None and old != digest:
        raise ValueError(f"{family} schema changed without a new version (give --version)")
    versions[str(schema["version"])] = digest
    LOCK_FILE.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command line entry; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m stix_assets.schemas.generate")
    p.add_argument("family", choices=sorted(_LEVEL))
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--version", type=int, help="new schema version")
    p.add_argument("--change", help="changelog text of the new version")
    p.add_argument("--date", help="changelog date of the new version, YYYY-MM-DD")
    args = p.parse_args(argv)
    path = SCHEMA_DIR / f"{args.family}.json"
    base = json.loads(path.read_text()) if path.is_file() else None
    schema = build_schema(args.family, args.files, base=base)
    if args.version is not None:
        if not args.change:
            p.error("--version needs --change")
        schema["version"] = args.version
        entry = {"version": args.version, "date": args.date or "", "change": args.change}
        schema["changelog"] = [*schema["changelog"], entry]
    schema = {k: schema[k] for k in ("family", "level", "version", "changelog", "products")}
    try:
        lock_schema(args.family, schema)
    except ValueError as err:
        sys.stderr.write(f"{err}\n")
        return 1
    path.write_text(json.dumps(schema, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
