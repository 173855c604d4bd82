"""The settings model: one TOML file, ``STIX_*`` environment variables and defaults.

Every path, cron time, delay and host of the pipeline is one named setting (`FIELDS`). The value
of a setting comes from, in this order (first found wins):

1. an explicit override (a Dagster resource field, a CLI option);
2. the environment variable ``STIX_<NAME>`` (``STIX_DATA_ROOT``, ``STIX_TM_SOURCE``, ...);
3. the TOML file (``[section] key = value``; the file is ``STIX_CONFIG`` or ``--config``);
4. the default, which for most folders is derived from the data root (``<data_root>/incoming``).

Relative paths in the TOML file are taken relative to the file's folder; relative paths from the
environment or an override relative to the working directory. Sync sources of the form
``user@host:path`` are kept as given. An unknown key in the TOML file is an error (a typo would
otherwise be silently ignored). The keys the demo data root writes (``tm_inbox``, ``idb_root``,
``spice_kernels``, ``archive``, ``catalog``) are accepted as aliases.

This module is pure: it reads the file and the mapping it is given, never ``os.environ`` itself.
"""

import datetime as dt
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from stix_assets.core.errors import StixError

__all__ = [
    "CONFIG_ENV",
    "FIELDS",
    "ConfigError",
    "Field",
    "Settings",
    "env_name",
    "is_remote",
    "load_settings",
    "read_toml",
]

logger = logging.getLogger(__name__)

CONFIG_ENV = "STIX_CONFIG"
"""Environment variable naming the TOML file."""

_REMOTE = re.compile(r"^(?:[^@/:\s]+@)?[^/:\s]+:(?!//)")


class ConfigError(StixError):
    """The configuration file or a setting value is unusable."""

    def __init__(self, message: str, *, key: str | None = None, file: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.file = file

    def _fields(self) -> dict[str, object]:
        return {"key": self.key, "file": self.file}


@dataclass(frozen=True, slots=True)
class Field:
    """One setting.

    Attributes
    ----------
    name : attribute name; the environment variable is ``STIX_<NAME>``
    section : TOML table
    key : key inside the table
    kind : ``path``, ``source`` (local path or ``user@host:path``), ``str``, ``url`` (a
        ``postgresql://`` URL; its password is hidden in `Settings.as_table`), ``float``, ``int``,
        ``bool``, ``cron``, ``date`` (ISO ``YYYY-MM-DD`` or a TOML date) or ``list`` (a TOML
        array, or comma separated text from the environment)
    default : the default value, or ``None``
    derive : ``(other field, suffix)``: default ``<other>/<suffix>`` when ``default`` is None
    doc : one line for ``stix-assets config`` and docs/operations.md
    """

    name: str
    section: str
    key: str
    kind: str
    default: Any = None
    derive: tuple[str, str] | None = None
    doc: str = ""


def _p(name: str, key: str, derive: tuple[str, str] | None, doc: str) -> Field:
    return Field(name, "paths", key, "path", None, derive, doc)


FIELDS: tuple[Field, ...] = (
    # folders (derived from the data root unless set)
    Field("data_root", "paths", "data_root", "path", "./stix-data", None, "root of all data"),
    _p("incoming_dir", "incoming_dir", ("data_root", "incoming"), "TM inbox the pipeline ingests"),
    _p("waiting_dir", "waiting_dir", ("data_root", "waiting"), "TM sync target (stage and delay)"),
    _p("archive_dir", "archive_dir", ("data_root", "archive"), "FITS product archive"),
    _p("idb_dir", "idb_dir", ("data_root", "idb"), "IDB versions + idbVersionHistory.json"),
    _p("catalog_path", "catalog_path", ("archive_dir", "stix_catalog.duckdb"), "DuckDB catalog"),
    Field("catalog_url", "catalog", "url", "url", None, None,
          "PostgreSQL catalog postgresql://user:pw@host/db (unset: the DuckDB catalog_path)"),
    _p("kernel_dir", "kernel_dir", ("data_root", "spice/kernels"), "SPICE kernel store"),
    _p("soc_dir", "soc_dir", ("data_root", "soc/from_soc"), "local copy of the SOC exchange"),
    _p("stix_conf_dir", "stix_conf_dir", ("data_root", "STIX-CONF"), "STIX-CONF git clone"),
    _p("lock_dir", "lock_dir", ("data_root", "locks"), "lock files of the sync jobs"),
    _p("meta_kernel", "meta_kernel", None, "explicit meta-kernel (else the latest)"),
    # sync sources and targets
    Field("tm_source", "sync", "tm_source", "source", None, None, "TM source folder"),
    Field("soc_source", "sync", "soc_source", "source", None, None, "SOC exchange folder"),
    Field("stix_conf_remote", "sync", "stix_conf_remote", "str", None, None, "clone URL"),
    Field("mirror_target", "sync", "mirror_target", "source", None, None, "NAS mirror target"),
    Field("tm_stage_delay_s", "sync", "tm_stage_delay_s", "float", 172800.0, None,
          "seconds a TM file waits unless SPICE covers it"),
    Field("kernel_margin_s", "sync", "kernel_margin_s", "float", 86400.0, None,
          "TM end must be this long before the flown meta-kernel date"),
    Field("rsync_timeout_s", "sync", "rsync_timeout_s", "int", 300, None, "rsync --timeout"),
    Field("ssh_options", "sync", "ssh_options", "str", "-o BatchMode=yes -o ConnectTimeout=20",
          None, "ssh options of remote rsync"),
    Field("lock_wait_s", "sync", "lock_wait_s", "float", 0.0, None,
          "how long a sync waits for its lock before skipping"),
    # ingest
    Field("settle_time_s", "ingest", "settle_time_s", "float", 30.0, None,
          "seconds a TM file must be unchanged before the inbox sensor takes it"),
    Field("sensor_interval_s", "ingest", "sensor_interval_s", "int", 30, None,
          "seconds between ticks of the inbox, TM-days and BSD-days sensors (read at load)"),
    Field("scet_window_start", "ingest", "scet_window_start", "date", "2018-02-10", None,
          "packets dated (SCET as UTC) before this day are quarantined (launch - 2 years)"),
    Field("scet_window_future_s", "ingest", "scet_window_future_s", "float", 86400.0, None,
          "packets dated more than this after now are quarantined"),
    Field("max_packet_bytes", "ingest", "max_packet_bytes", "int", 4112, None,
          "longer packets are quarantined (16 header bytes + 4096 data bytes)"),
    Field("idb_force_version", "idb", "force_version", "str", None, None, "force one IDB"),
    Field("idb_fallback_version", "idb", "fallback_version", "str", "2.26.34", None,
          "IDB used before the first history entry"),
    # daily products
    Field("sas_param_dir", "anc", "sas_param_dir", "path", None, None,
          "STX-GSW SAS_param folder (apcoord_FM_circ.sav, SAS_calib_*.sav) for the aspect solution"),
    Field("sas_calib_file", "anc", "sas_calib_file", "str", None, None,
          "SAS calibration file in it (default: the newest SAS_calib_*.sav)"),
    # schedules (cron, UTC)
    Field("tm_sync_cron", "schedules", "tm_sync", "cron", "*/15 * * * *", None, "TM sync"),
    Field("spice_soop_sync_cron", "schedules", "spice_soop_sync", "cron", "*/15 * * * *", None,
          "SPICE/SOOP sync"),
    Field("stix_conf_sync_cron", "schedules", "stix_conf_sync", "cron", "10 */4 * * *", None,
          "STIX-CONF sync"),
    Field("archive_mirror_cron", "schedules", "archive_mirror", "cron", "0 */6 * * *", None,
          "archive mirror to the NAS"),
    Field("publish_cron", "schedules", "publish", "cron", "0 5 * * *", None, "SOAR publish"),
    Field("daily_cron", "schedules", "daily", "cron", "0 8 * * *", None, "daily products"),
    Field("retention_cron", "schedules", "retention", "cron", "30 3 * * *", None,
          "retention of the Dagster instance (old ticks and runs)"),
    # retention of the Dagster instance (retention_job); the catalog keeps everything
    Field("retention_tick_days", "retention", "tick_days", "int", 30, None,
          "sensor, schedule and automation ticks older than this (days) are purged"),
    Field("retention_run_days", "retention", "run_days", "int", 90, None,
          "successful runs older than this (days) are deleted unless they hold a latest event"),
    Field("retention_max_runs", "retention", "max_runs", "int", 500, None,
          "runs examined per retention pass (a backlog continues on the next pass)"),
    # publish (read by the publish helper; plain values)
    Field("publish_target_dir", "publish", "target_dir", "path", None, None, "SOAR target"),
    Field("publish_target_host", "publish", "target_host", "str", "localhost", None, "host"),
    Field("publish_same_esa_name_dir", "publish", "same_esa_name_dir", "path", None, None,
          "conflicts folder"),
    Field("publish_rid_lut_file", "publish", "rid_lut_file", "path", None, None, "RID LUT"),
    Field("publish_rid_lut_update_url", "publish", "rid_lut_update_url", "str",
          "https://datacenter.stix.i4ds.net/api/bsd/info/", None, "RID LUT update API"),
    Field("publish_update_rid_lut", "publish", "update_rid_lut", "bool", False, None,
          "update the RID LUT before publishing"),
    Field("publish_sort_files", "publish", "sort_files", "bool", False, None, "sort by name"),
    Field("publish_waiting_period", "publish", "waiting_period", "str", "14d", None,
          "wait after the last modification"),
    Field("publish_include_versions", "publish", "include_versions", "list", ["*"], None, ""),
    Field("publish_include_levels", "publish", "include_levels", "list",
          ["L0", "L1", "L2", "ANC", "LL03", "CAL"], None, ""),
    Field("publish_include_products", "publish", "include_products", "list",
          ["ql", "hk", "sci", "asp", "cal"], None, ""),
    Field("publish_fits_dir", "publish", "fits_dir", "path", None, None,
          "input FITS folder (default the archive)"),
    Field("publish_db", "publish", "db", "path", None, None, "history DB (default the catalog)"),
)  # fmt: skip

_BY_NAME = {f.name: f for f in FIELDS}
_BY_TOML = {(f.section, f.key): f for f in FIELDS}
_ALIASES = {  # keys the demo data root writes (stix_assets/demo/root.py)
    ("paths", "tm_inbox"): "incoming_dir",
    ("paths", "idb_root"): "idb_dir",
    ("paths", "spice_kernels"): "kernel_dir",
    ("paths", "archive"): "archive_dir",
    ("paths", "catalog"): "catalog_path",
}
_BOOL_TEXT = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def env_name(name: str) -> str:
    """Environment variable of a setting: ``STIX_<NAME>``."""
    return f"STIX_{name.upper()}"


def is_remote(location: str) -> bool:
    """True for rsync remote locations ``[user@]host:path`` (not drive letters or URLs).

    >>> is_remote("stixcore@147.86.8.26:/home/solmoc"), is_remote("/data/stix")
    (True, False)
    """
    return bool(_REMOTE.match(location)) and not re.match(r"^[A-Za-z]:[\\/]", location)


@dataclass(frozen=True, slots=True)
class Settings:
    """The effective settings: values by field name and where each came from.

    Attributes
    ----------
    values : field name -> value (``Path`` for path kinds, ``None`` when unset)
    sources : field name -> ``"override"``, ``"env"``, ``"toml"``, ``"default"`` or ``"derived"``
    config_file : the TOML file read, or ``None``
    """

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    config_file: Path | None = None

    def __getattr__(self, name: str) -> Any:
        if name in ("values", "sources", "config_file") or name.startswith("_"):
            raise AttributeError(name)  # unset slot (copy, pickle): no recursion
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def path(self, name: str) -> Path:
        """A path setting that must be set.

        Raises
        ------
        ConfigError
            If the setting has no value.
        """
        value = self.values[name]
        if value is None:
            field = _BY_NAME[name]
            raise ConfigError(
                f"setting {name} is not configured: set [{field.section}] {field.key} in the "
                f"TOML file or {env_name(name)}",
                key=name,
            )
        return value

    def as_table(self) -> list[dict[str, Any]]:
        """One row per setting: name, TOML key, env var, value (text), source, doc."""
        return [
            {
                "name": f.name,
                "toml": f"{f.section}.{f.key}",
                "env": env_name(f.name),
                "value": _as_text(self.values[f.name], secret=f.kind == "url"),
                "source": self.sources[f.name],
                "doc": f.doc,
            }
            for f in FIELDS
        ]


def _as_text(value: Any, *, secret: bool = False) -> Any:
    if secret and isinstance(value, str):
        parts = urlsplit(value)
        if parts.password is not None:
            host = parts.netloc.rsplit("@", 1)[1]
            return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    if isinstance(value, Path | dt.date):
        return str(value)
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return value


def read_toml(path: Path) -> dict[tuple[str, str], Any]:
    """Read the TOML file into ``{(section, key): value}`` (aliases resolved).

    Raises
    ------
    ConfigError
        If the file is missing, not TOML, has a top-level value or an unknown key.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError("configuration file not found", file=str(path)) from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"configuration file is not valid TOML: {err}", file=str(path)) from err
    out: dict[tuple[str, str], Any] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"top-level key {section!r} must be a [table]", file=str(path))
        for key, value in table.items():
            alias = _ALIASES.get((section, key))
            field = _BY_NAME[alias] if alias else _BY_TOML.get((section, key))
            if field is None:
                raise ConfigError(f"unknown setting [{section}] {key}", key=key, file=str(path))
            out[(field.section, field.key)] = value
    return out


def _convert(field: Field, raw: Any, base: Path | None) -> Any:
    """Convert a raw value to the field's kind; ``base`` resolves relative paths."""
    try:
        if field.kind == "path":
            p = Path(str(raw)).expanduser()
            return (base / p if base and not p.is_absolute() else p).resolve()
        if field.kind == "source":
            text = str(raw)
            return text if is_remote(text) else _convert(Field("", "", "", "path"), text, base)
        if field.kind == "url":
            return _check_url(field, str(raw).strip())
        if field.kind == "float":
            return float(raw)
        if field.kind == "int":
            return int(raw)
        if field.kind == "bool":
            return raw if isinstance(raw, bool) else _BOOL_TEXT[str(raw).strip().lower()]
        if field.kind == "list":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return [str(i).strip() for i in items if str(i).strip()]
        if field.kind == "cron":
            return _check_cron(field, str(raw))
        if field.kind == "date":
            if isinstance(raw, dt.datetime):
                return raw.date()
            return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw).strip())
        return str(raw)
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"bad value {raw!r} for {field.name}: {err}", key=field.name) from err


def _check_url(field: Field, text: str) -> str:
    if urlsplit(text).scheme.lower() not in ("postgresql", "postgres"):
        raise ValueError("the catalog URL must start with postgresql:// (user:password@host/db)")
    return text


def _check_cron(field: Field, text: str) -> str:
    parts = text.split()
    if len(parts) != 5 or not all(re.fullmatch(r"[\d*/,\-]+", p) for p in parts):
        raise ValueError("a cron schedule has five fields of digits, '*', '/', ',' and '-'")
    return " ".join(parts)


def load_settings(
    *,
    config_file: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the effective settings.

    Parameters
    ----------
    config_file : the TOML file; default ``env["STIX_CONFIG"]``; no file when neither is set
    env : the environment (pass ``os.environ``); only ``STIX_*`` names are read, empty = unset
    overrides : field name -> value; ``None`` values are ignored

    Raises
    ------
    ConfigError
        For an unknown override name, an unreadable TOML file, an unknown key or a bad value.
    """
    env = env or {}
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    for name in overrides:
        if name not in _BY_NAME:
            raise ConfigError(f"unknown setting {name}", key=name)
    file_text = config_file if config_file is not None else (env.get(CONFIG_ENV) or None)
    file = Path(file_text).expanduser().resolve() if file_text else None
    toml = read_toml(file) if file else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for field in FIELDS:
        env_value = env.get(env_name(field.name)) or None
        if field.name in overrides:
            raw, base, source = overrides[field.name], None, "override"
        elif env_value is not None:
            raw, base, source = env_value, None, "env"
        elif (field.section, field.key) in toml:
            raw, base, source = toml[(field.section, field.key)], file.parent, "toml"
        elif field.derive is not None:
            parent, suffix = field.derive
            values[field.name], sources[field.name] = values[parent] / suffix, "derived"
            continue
        else:
            raw, base, source = field.default, None, "default"
        values[field.name] = None if raw is None else _convert(field, raw, base)
        sources[field.name] = source
    return Settings(values=values, sources=sources, config_file=file)
