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
from typing import TYPE_CHECKING

import dagster as dg

from stix_assets.core.products.registry import BASE_PROCESSING_VERSION

if TYPE_CHECKING:
    from stix_assets.core.ingest import TmIndex
    from stix_assets.core.products.lb import LbFileResult

__all__ = [
    "CATALOG_POOL",
    "LB_CODE_VERSION",
    "LB_GROUP",
    "SOFTWARE_VERSION",
    "TM_CODE_VERSION",
    "TM_RAW_KEY",
    "days_touched_from_metadata",
    "lb_asset_key",
    "lb_results",
    "product_key_of",
    "tm_index_result",
]

TM_RAW_KEY = dg.AssetKey(["tm", "raw"])
LB_GROUP = "level_binary"
CATALOG_POOL = "stix_catalog"
"""Concurrency pool of the steps that write the catalog and merge LB files (see dagster.yaml)."""
TM_CODE_VERSION = "tm-1"
LB_CODE_VERSION = f"lb-{BASE_PROCESSING_VERSION}"
SOFTWARE_VERSION = importlib.metadata.version("stix_assets")
_MAX_LISTED = 50  # longer lists are cut in metadata (the catalog holds them all)


def lb_asset_key(product_key: str) -> dg.AssetKey:
    """``lb/<product key>``."""
    return dg.AssetKey(["lb", product_key])


def product_key_of(asset_key: dg.AssetKey) -> str:
    """Return the registry key of a level asset key (``lb/ql_lightcurve`` -> ``ql_lightcurve``)."""
    return asset_key.path[-1]


def _days_json(days_by_product: Mapping[str, Iterable[dt.date]]) -> dict[str, list[str]]:
    return {p: sorted(d.isoformat() for d in days) for p, days in sorted(days_by_product.items())}


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
    return dg.MaterializeResult(
        metadata={
            "kind": index.tm.kind,
            "complete": index.complete,
            "n_packets": len(index.batch),
            "packets_by_kind": dg.MetadataValue.json(dict(index.packets_by_kind)),
            "days_touched": dg.MetadataValue.json(_days_json(index.days_by_product)),
            "idb_versions": dg.MetadataValue.json(list(index.idb_versions)),
            "quarantined": report["quarantined"],
            "quarantined_by_reason": dg.MetadataValue.json(report["by_reason"]),
            "quarantine_examples": dg.MetadataValue.json(report["examples"][:5]),
            "sha256": index.tm.sha256,
            "size_bytes": index.tm.size,
            # lets the inbox sensor recognise a file already ingested by another route (CLI)
            "mtime_ns": index.tm.path.stat().st_mtime_ns,
            "software_version": SOFTWARE_VERSION,
        },
        data_version=dg.DataVersion(index.tm.sha256),
    )


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
        metadata={
            "n_files": len(files),
            "n_packets": sum(r.n_packets for r in results),
            "n_new_packets": sum(r.n_new for r in results),
            "files": dg.MetadataValue.json(files[:_MAX_LISTED]),
            "tm_inputs": dg.MetadataValue.json(tm_inputs[:_MAX_LISTED]),
            "n_tm_inputs": len(tm_inputs),
            "idb_versions": dg.MetadataValue.json(sorted(set(idb_versions))),
            "software_version": SOFTWARE_VERSION,
        },
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
