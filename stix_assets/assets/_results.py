"""Asset keys, versions and the only code that wraps core results in `dg.MaterializeResult`.

``tm/raw`` records what one TM file holds; each ``lb/<product>`` records the LB files one run wrote
for one SCET day. Metadata values are plain (ints, text, JSON) and small: full file lists live in
the catalog.
"""

import datetime as dt
import hashlib
import importlib.metadata
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from stix_assets.assets._lean import LIST_HEAD, lean_metadata
from stix_assets.core.fits import content_digest
from stix_assets.core.levels.day import stix_conf_tag
from stix_assets.core.products.registry import (
    BASE_PROCESSING_VERSION,
    PRODUCTS,
    product_by_key,
    product_for,
)

if TYPE_CHECKING:
    from stix_assets.core.ingest import TmIndex
    from stix_assets.core.products.l0 import L0Build, L0FileResult
    from stix_assets.core.products.l1 import L1FileResult
    from stix_assets.core.products.lb import LbFileResult

__all__ = [
    "CATALOG_POOL",
    "L0_GROUP",
    "L1_GROUP",
    "LB_CODE_VERSION",
    "LB_GROUP",
    "SOFTWARE_VERSION",
    "TM_CODE_VERSION",
    "TM_RAW_KEY",
    "conf_version",
    "data_days_from_metadata",
    "day_version_observations",
    "days_touched_from_metadata",
    "l0_asset_key",
    "l0_code_version",
    "l0_results",
    "lb_asset_key",
    "lb_results",
    "level_asset_key",
    "level_code_version",
    "level_data_version",
    "level_results",
    "product_key_of",
    "product_of_file",
    "tm_index_result",
]

TM_RAW_KEY = dg.AssetKey(["tm", "raw"])
LB_GROUP = "level_binary"
CATALOG_POOL = "stix_catalog"
"""Concurrency pool of the steps that write the catalog and merge LB files (see dagster.yaml).

Limit 1 with the DuckDB catalog (one writing process per file); with a PostgreSQL catalog the
deployment raises it (``dagster instance concurrency set stix_catalog 8``, docs/operations.md).
"""
TM_CODE_VERSION = "tm-1"
LB_CODE_VERSION = f"lb-{BASE_PROCESSING_VERSION}"
SOFTWARE_VERSION = importlib.metadata.version("stix_assets")
_MAX_LISTED = LIST_HEAD  # longer lists are cut in metadata (the catalog holds them all)


def lb_asset_key(product_key: str) -> dg.AssetKey:
    """``lb/<product key>``."""
    return dg.AssetKey(["lb", product_key])


def product_key_of(asset_key: dg.AssetKey) -> str:
    """Return the registry key of a level asset key (``lb/ql_lightcurve`` -> ``ql_lightcurve``)."""
    return asset_key.path[-1]


def _days_json(days_by_product: Mapping[str, Iterable[dt.date]]) -> dict[str, list[str]]:
    return {p: sorted(d.isoformat() for d in days) for p, days in sorted(days_by_product.items())}


def day_version_observations(
    key: dg.AssetKey, versions: Mapping[dt.date, str], *, label: str
) -> list[dg.AssetObservation]:
    """Runless observations of a day-partitioned observable source, one per day.

    Each carries the day's data version, so the downstream days whose version changed show as
    stale (``idb add``, ``conf add``).
    """
    return [
        dg.AssetObservation(
            key,
            partition=d.isoformat(),
            tags={"dagster/data_version": v},
            metadata={label: v},
        )
        for d, v in sorted(versions.items())
    ]


def data_days_from_metadata(metadata: Mapping[str, object]) -> list[dt.date]:
    """Read back the ``data_days`` metadata of an L0 materialization."""
    entry = metadata.get("data_days")
    value = getattr(entry, "value", entry) or []
    if isinstance(value, str):
        value = json.loads(value)
    return [dt.date.fromisoformat(d) for d in value]


def days_touched_from_metadata(metadata: Mapping[str, object]) -> dict[str, list[dt.date]]:
    """Read back the ``days_touched`` metadata of a ``tm/raw`` materialization."""
    entry = metadata.get("days_touched")
    value = getattr(entry, "value", entry) or {}
    if isinstance(value, str):
        value = json.loads(value)
    return {p: [dt.date.fromisoformat(d) for d in days] for p, days in value.items()}


def tm_index_result(index: "TmIndex") -> dg.MaterializeResult:
    """Metadata of one indexed TM file; the data version is the file's sha256."""
    report = index.report.as_metadata()
    # the sha256 is the data version (shown as such); the quarantine lists only when not empty
    quarantine = (
        {
            "quarantined_by_reason": dg.MetadataValue.json(report["by_reason"]),
            "quarantine_examples": dg.MetadataValue.json(report["examples"][:5]),
        }
        if report["quarantined"]
        else {}
    )
    return dg.MaterializeResult(
        metadata=_lean_tm_metadata(
            {
                "kind": index.tm.kind,
                "complete": index.complete,
                "n_packets": len(index.batch),
                "packets_by_kind": dg.MetadataValue.json(dict(index.packets_by_kind)),
                "days_touched": dg.MetadataValue.json(_days_json(index.days_by_product)),
                "idb_versions": dg.MetadataValue.json(list(index.idb_versions)),
                "quarantined": report["quarantined"],
                **quarantine,
                "size_bytes": index.tm.size,
                # lets the inbox sensor recognise a file already ingested by another route (CLI)
                "mtime_ns": index.tm.path.stat().st_mtime_ns,
                "software_version": SOFTWARE_VERSION,
            }
        ),
        data_version=dg.DataVersion(index.tm.sha256),
    )


def _lean_tm_metadata(metadata: Mapping[str, object]) -> dict[str, object]:
    # tm_to_days_sensor routes the file by its days_touched: never cut
    return lean_metadata(metadata, keep=("days_touched",))


def _lb_data_version(results: Sequence["LbFileResult"], tm_sha256: Mapping[str, str]) -> str:
    # From the inputs, not the bytes: DATE in the files is the run's time, so a re-run with the
    # same TM files rewrites different bytes; files, packet counts and TM content decide instead.
    digest = hashlib.sha256(LB_CODE_VERSION.encode())
    for r in sorted(results, key=lambda r: r.path.name):
        digest.update(f"|{r.path.name}:{r.n_packets}".encode())
    for name in sorted({n for r in results for n in r.raw_files}):
        digest.update(f"|{name}:{tm_sha256.get(name, '')}".encode())
    return digest.hexdigest()


def _lb_result(
    product_key: str,
    results: Sequence["LbFileResult"],
    tm_sha256: Mapping[str, str],
    idb_versions: Sequence[str],
) -> dg.MaterializeResult:
    files = [
        {"path": str(r.path), "sha256": r.sha256, "n_packets": r.n_packets, "n_new": r.n_new}
        for r in sorted(results, key=lambda r: str(r.path))
    ]
    tm_inputs = sorted({name for r in results for name in r.raw_files})
    return dg.MaterializeResult(
        asset_key=lb_asset_key(product_key),
        metadata=lean_metadata(
            {
                "n_files": len(files),
                "n_packets": sum(r.n_packets for r in results),
                "n_new_packets": sum(r.n_new for r in results),
                "files": dg.MetadataValue.json(files[:_MAX_LISTED]),
                "tm_inputs": dg.MetadataValue.json(tm_inputs[:_MAX_LISTED]),
                "n_tm_inputs": len(tm_inputs),
                "idb_versions": dg.MetadataValue.json(sorted(set(idb_versions))),
                "software_version": SOFTWARE_VERSION,
            }
        ),
        data_version=dg.DataVersion(_lb_data_version(results, tm_sha256)),
    )


def lb_results(
    results: Sequence["LbFileResult"], indexes: Sequence["TmIndex"]
) -> list[dg.MaterializeResult]:
    """One result per product that got LB files, from the `write_lb` results and its inputs.

    The data version is derived from the files' names and packet counts and the sha256 of the TM
    files named in them, so identical inputs give an identical version. A product with no file is
    absent: its spec is skippable (see `stix_assets.assets.levels`).
    """
    tm_sha256 = {index.tm.name: index.tm.sha256 for index in indexes}
    idb_versions = sorted({v for index in indexes for v in index.idb_versions})
    by_product: dict[str, list[LbFileResult]] = {}
    for r in results:
        by_product.setdefault(r.product_key, []).append(r)
    return [_lb_result(p, rs, tm_sha256, idb_versions) for p, rs in sorted(by_product.items())]


# -- L0 and later levels --------------------------------------------------------------------------
L0_GROUP = "level_0"
L1_GROUP = "level_1"


def level_asset_key(level: str, product_key: str) -> dg.AssetKey:
    """``l0/<product key>``, ``l1/<product key>``, ..."""
    return dg.AssetKey([level.lower(), product_key])


def l0_asset_key(product_key: str) -> dg.AssetKey:
    """``l0/<product key>``."""
    return level_asset_key("l0", product_key)


def level_code_version(level: str, processing_version: int) -> str:
    """Code version of a level product: its processing version (bumping it marks days stale)."""
    return f"{level.lower()}-{processing_version}"


def l0_code_version(processing_version: int) -> str:
    """Code version of an L0 product."""
    return level_code_version("l0", processing_version)


def conf_version(conf_dir: Path) -> str:
    """STIX-CONF tag of a clone (`stix_assets.core.levels.stix_conf_tag`)."""
    return stix_conf_tag(conf_dir)


def level_data_version(code_version: str, files: Sequence[Path]) -> str:
    """Content-derived data version of a level product: its files without volatile keywords.

    DATE and the checksums change with every write; everything else (data, units, header values)
    decides the version, so an identical re-run keeps the version and downstream stays fresh.
    """
    digest = hashlib.sha256(code_version.encode())
    for path in sorted(files, key=lambda p: p.name):
        digest.update(path.name.encode())
        digest.update(content_digest(path).encode())
    return digest.hexdigest()


def product_of_file(name: str) -> str | None:
    """Registry key of a product file name (LB ``stix-21-6-30``, L0+ ``stix-ql-lightcurve``)."""
    parts = name.split("_")
    if len(parts) < 3 or not parts[2].startswith("stix-"):
        return None
    kind = parts[2].removeprefix("stix-")
    numbers = kind.split("-")
    if all(n.isdigit() for n in numbers) and len(numbers) >= 2:
        pi1 = int(numbers[2]) if len(numbers) > 2 else None
        return product_for(int(numbers[0]), int(numbers[1]), pi1).key
    named = [p for p in PRODUCTS if kind == p.name or kind.startswith(p.name + "-")]
    return max(named, key=lambda p: len(p.name)).key if named else None


def level_results(
    level: str,
    written: Sequence["L0FileResult | L1FileResult"],
    *,
    issues: Sequence[Mapping[str, object]] = (),
    extra: Mapping[str, Mapping[str, object]] | None = None,
    versions: Mapping[str, int] | None = None,
    config_version: str = "",
) -> list[dg.MaterializeResult]:
    """One result per product that got files at ``level``: files, rows, inputs, issues, version.

    ``extra`` adds product-specific metadata (IDB versions, waiting sequences, SPICE coverage,
    a plot). ``versions`` overrides a product's processing version (CAL is 2 where its L0/L1 are
    3). The data version is derived from the files' content (`level_data_version`).
    """
    by_product: dict[str, list] = {}
    for r in written:
        by_product.setdefault(r.product_key, []).append(r)
    out = []
    for product, unsorted in sorted(by_product.items()):
        spec = product_by_key(product)
        results = sorted(unsorted, key=lambda r: r.path.name)
        files = [{"path": str(r.path), "sha256": r.sha256, "rows": r.n_rows} for r in results]
        mine = [dict(i) for i in issues if product_of_file(str(i.get("file", ""))) == product]
        inputs = sorted({i for r in results for i in r.inputs})
        metadata: dict[str, object] = {
            "n_files": len(files),
            "n_rows": sum(r.n_rows for r in results),
            "files": dg.MetadataValue.json(files[:_MAX_LISTED]),
            "n_inputs": len(inputs),
            "inputs": dg.MetadataValue.json(inputs[:_MAX_LISTED]),
            "n_issues": len(mine),
            **({"issues": dg.MetadataValue.json(mine[:_MAX_LISTED])} if mine else {}),
            "software_version": SOFTWARE_VERSION,
            "stix_conf_version": config_version,
            **(extra or {}).get(product, {}),
        }
        code = level_code_version(level, (versions or {}).get(product, spec.processing_version))
        out.append(
            dg.MaterializeResult(
                asset_key=level_asset_key(level, product),
                # bsd_l1_days_sensor and the runner route L1 by the L0 data_days: never cut
                metadata=lean_metadata(metadata, keep=("data_days",)),
                data_version=dg.DataVersion(level_data_version(code, [r.path for r in results])),
            )
        )
    return out


def l0_results(
    written: Sequence["L0FileResult"],
    build: "L0Build",
    *,
    config_version: str = "",
    data_days: Mapping[dt.date, set[str]] | None = None,
) -> list[dg.MaterializeResult]:
    """L0 results: `level_results` plus IDB versions, waiting BSD sequences and data days.

    ``data_days`` (day of the data -> products, `LevelDayResult.data_days`) says which L1 days
    the files feed: a BSD request's data may start long before the day its TM arrived.
    """
    versions: dict[str, set[str]] = {}
    for prod in build.products:
        versions.setdefault(prod.spec.key, set()).update(v for v, _, _ in prod.idb_versions)
    days: dict[str, list[str]] = {}
    for day, products in sorted((data_days or {}).items()):
        for product in products:
            days.setdefault(product, []).append(day.isoformat())
    extra = {
        key: {
            "idb_versions": dg.MetadataValue.json(sorted(v)),
            "n_waiting_sequences": len(build.waiting) if product_by_key(key).per_request else 0,
            "data_days": dg.MetadataValue.json(days.get(key, [])),
        }
        for key, v in versions.items()
    }
    return level_results(
        "l0",
        written,
        issues=[i.as_dict() for i in build.issues],
        extra=extra,
        config_version=config_version,
    )
