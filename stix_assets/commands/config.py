"""``stix-assets config``: the effective settings and where each value came from."""

import argparse
import json

from stix_assets.commands._common import add_config_option, out, settings_from_args

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``config``."""
    p = subparsers.add_parser(
        "config",
        help="print the effective settings (TOML + STIX_* environment + defaults)",
        description="Print every setting, its value and its source (default/derived/toml/env).",
    )
    add_config_option(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the settings; exit 0 (a bad config file raises `ConfigError`, exit 1)."""
    settings = settings_from_args(args)
    rows = settings.as_table()
    if args.json:
        file = str(settings.config_file) if settings.config_file else None
        out(json.dumps({"config_file": file, "settings": rows}, indent=2))
        return 0
    out(f"# config file: {settings.config_file or '(none: set STIX_CONFIG or --config)'}")
    width = max(len(r["toml"]) for r in rows)
    for r in rows:
        value = "" if r["value"] is None else r["value"]
        if isinstance(value, list):
            value = ", ".join(value)
        out(f"{r['toml']:<{width}}  {r['source']:<8}  {value}")
    return 0
