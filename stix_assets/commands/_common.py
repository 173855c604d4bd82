"""Helpers shared by the operations sub-commands."""

import argparse
import datetime as dt
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from stix_assets.core.config import Settings, load_settings

__all__ = [
    "add_config_option",
    "catalog_arg",
    "day_ranges",
    "out",
    "record_day_observations",
    "settings_from_args",
]


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` (default ``$STIX_CONFIG``)."""
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML configuration (default $STIX_CONFIG)"
    )


def catalog_arg(text: str) -> Path | str:
    """A ``--catalog`` value: a ``postgresql://`` URL stays text, anything else is a DuckDB path."""
    return text if text.split("://", 1)[0].lower() in ("postgresql", "postgres") else Path(text)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The effective settings for ``--config`` and the environment."""
    return load_settings(config_file=args.config, env=os.environ)


def out(text: str) -> None:
    """Write one line to stdout (the commands' only output channel besides the exit status)."""
    sys.stdout.write(text + "\n")


def day_ranges(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Group sorted days into runs of consecutive days ``(first, last)``."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for d in days:
        if ranges and (d - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], d)
        else:
            ranges.append((d, d))
    return ranges


def record_day_observations(
    key_path: tuple[str, ...], versions: Mapping[dt.date, str], *, label: str
) -> str:
    """Record one observation of a day-partitioned source per changed day; return a message.

    On the ``DAGSTER_HOME`` instance (Dagster imported only then); without one nothing is
    recorded and the message says what to observe in the UI.
    """
    name = "/".join(key_path)
    if not versions:
        return f"no day changed: nothing to observe for {name}"
    if not os.environ.get("DAGSTER_HOME"):
        return (
            f"DAGSTER_HOME not set: nothing recorded; observe {name} in the UI "
            f"({len(versions)} days changed)"
        )
    import dagster as dg

    from stix_assets.assets._results import day_version_observations

    with dg.DagsterInstance.get() as instance:
        key = dg.AssetKey(list(key_path))
        for event in day_version_observations(key, versions, label=label):
            instance.report_runless_asset_event(event)
    return f"recorded {len(versions)} observations of {name} on {os.environ['DAGSTER_HOME']}"
