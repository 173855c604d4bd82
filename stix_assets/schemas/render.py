"""Render ``docs/product-format.md`` from the schemas: ``python -m stix_assets.schemas.render``.

``--check`` exits 1 when the committed document differs from the rendered one.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from stix_assets.schemas import FAMILIES, load_schema

__all__ = ["DOC_FILE", "main", "render"]

DOC_FILE = Path(__file__).resolve().parents[2] / "docs" / "product-format.md"

_INTRO = """# Product format

Generated from `stix_assets/schemas/*.json` by `python -m stix_assets.schemas.render`; do not edit
by hand. Every product carries the version of its family's schema in the primary keyword
`SCHEMAV`. A product kind is the `stix-...` part of the file name (a trailing request or event
number of 3 digits or more left out). dtype is what astropy reads (unsigned integers restored
from `TZERO`); shape is per row, `*` a dimension that varies between files. Changing a schema
needs a new version and a changelog entry (`stix_assets/schemas/schemas.lock.json` keeps the
hash of each version; the tests check it).
"""


def _shape(shape: list[int | None]) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in shape) + ")" if shape else ""


def _family(schema: dict[str, Any]) -> list[str]:
    lines = [f"## {schema['level']} (schema `{schema['family']}`, version {schema['version']})", ""]
    lines += ["Changelog:", ""]
    lines += [f"- version {c['version']} ({c['date']}): {c['change']}" for c in schema["changelog"]]
    for kind, spec in schema["products"].items():
        lines += ["", f"### {schema['level']} {kind}", ""]
        lines.append("Primary keywords: " + ", ".join(f"`{k}`" for k in spec["required_keywords"]))
        for hdu in spec["hdus"]:
            if "columns" not in hdu:
                continue
            opt = " (optional)" if hdu.get("optional") else ""
            lines += ["", f"{hdu['name']}{opt}:", "", "| column | dtype | shape | unit |"]
            lines.append("|---|---|---|---|")
            lines += [
                f"| {c['name']} | {c['dtype']} | {_shape(c['shape'])} | {c['unit']} |"
                for c in hdu["columns"]
            ]
    return [*lines, ""]


def render() -> str:
    """The text of ``docs/product-format.md``."""
    lines = [_INTRO]
    for family in FAMILIES:
        lines += _family(load_schema(family))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the document; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m stix_assets.schemas.render")
    p.add_argument("--check", action="store_true", help="exit 1 if the document is out of date")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        return 0 if DOC_FILE.is_file() and DOC_FILE.read_text() == text else 1
    DOC_FILE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
