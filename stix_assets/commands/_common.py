"""Helpers shared by the operations sub-commands."""

import argparse
import os
import sys
from pathlib import Path

from stix_assets.core.config import Settings, load_settings

__all__ = ["add_config_option", "out", "settings_from_args"]


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` (default ``$STIX_CONFIG``)."""
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML configuration (default $STIX_CONFIG)"
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The effective settings for ``--config`` and the environment."""
    return load_settings(config_file=args.config, env=os.environ)


def out(text: str) -> None:
    """Write one line to stdout (the commands' only output channel besides the exit status)."""
    sys.stdout.write(text + "\n")
