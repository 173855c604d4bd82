"""The ingest group: ``tm/raw``, one partition per TM file, plus the observable IDB source."""

import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from stix_assets.assets._results import (
    CATALOG_POOL,
    TM_CODE_VERSION,
    TM_RAW_KEY,
    day_version_observations,
    tm_index_result,
)
from stix_assets.core.catalog import Catalog
from stix_assets.core.errors import StixError
from stix_assets.core.idb.days import day_data_versions
from stix_assets.core.ingest import TmIndex, index_tm_file
from stix_assets.core.tmtc import TMFile
from stix_assets.partitions import scet_day_key, scet_day_range, scet_days, tm_files
from stix_assets.resources import StixSettings

__all__ = ["IDB_VERSIONS_KEY", "idb_version_observations", "idb_versions", "tm_raw"]

IDB_VERSIONS_KEY = dg.AssetKey(["idb", "versions"])


@dg.observable_source_asset(
    key=IDB_VERSIONS_KEY,
    group_name="external",
    partitions_def=scet_days,
    tags={"dagster/kind/sqlite": ""},
    description=(
        "Installed IDB versions and the version history that says which applies when. One "
        "partition per SCET day; its data version is the IDB version(s) used that day with the "
        "file's sha256 (`stix_assets.core.idb.days`), so a new IDB makes only its days' L0 stale. "
        "`stix-assets idb add` records the changed days; observing here records every day."
    ),
)
def idb_versions(stix: StixSettings) -> dg.DataVersionsByPartition:
    """Observe the IDB data version of every existing SCET day."""
    first, last = scet_day_range(dt.datetime.now(dt.UTC))
    versions = day_data_versions(stix.idb_store(), first, last)
    return dg.DataVersionsByPartition({scet_day_key(d): v for d, v in versions.items()})


def idb_version_observations(versions: Mapping[dt.date, str]) -> list[dg.AssetObservation]:
    """Runless observations of ``idb/versions`` for the given SCET days (what ``idb add`` records)."""
    return day_version_observations(IDB_VERSIONS_KEY, versions, label="idb_versions")


def _unreadable_tm(path: Path) -> TMFile:
    # identity of a file that could not be read as TM, for the catalog's "failed" row
    data = path.read_bytes() if path.is_file() else b""
    return TMFile(path, path.name, len(data), hashlib.sha256(data).hexdigest(), "TM")


def _index_and_record(name: str, stix: StixSettings, catalog: Catalog) -> TmIndex:
    path = stix.tm_path(name)
    try:
        index = index_tm_file(path, stix.idb_store(), gates=stix.packet_gates())
    except (StixError, OSError) as err:
        catalog.record_tm_file(_unreadable_tm(path), status="failed", error=str(err))
        raise dg.Failure(
            description=f"TM file {name} cannot be ingested: {err}",
            metadata={"path": dg.MetadataValue.path(str(path)), "error": str(err)},
        ) from err
    catalog.record_tm_index(index, status="indexed" if index.complete else "incomplete")
    return index


@dg.asset(
    key=TM_RAW_KEY,
    partitions_def=tm_files,
    group_name="ingest",
    kinds={"xml", "python"},
    owners=["team:stix"],
    code_version=TM_CODE_VERSION,
    # lineage only: a TM file is indexed with the IDBs of the days its packets fall in
    deps=[dg.AssetDep(IDB_VERSIONS_KEY, partition_mapping=dg.AllPartitionMapping())],
    pool=CATALOG_POOL,
)
def tm_raw(context: dg.AssetExecutionContext, stix: StixSettings) -> dg.MaterializeResult:
    """One SOC/EDDS TM file from the incoming folder, validated and indexed.

    Records packets by kind, the SCET days touched per product, the IDB versions needed and the
    quarantined packets.
    """
    index = _index_and_record(context.partition_key, stix, stix.catalog())
    if not index.complete:
        context.log.warning(
            "tm file broke off, packets before the break kept file=%s", index.tm.name
        )
    context.log.info(
        "tm indexed file=%s packets=%d quarantined=%d",
        index.tm.name,
        len(index.batch),
        len(index.report.quarantined),
    )
    return tm_index_result(index)
