"""The ingest group: ``tm/raw``, one partition per TM file, plus the external IDB asset."""

import hashlib
from pathlib import Path

import dagster as dg

from stix_assets.assets._results import (
    CATALOG_POOL,
    TM_CODE_VERSION,
    TM_RAW_KEY,
    tm_index_result,
)
from stix_assets.core.catalog import Catalog
from stix_assets.core.errors import StixError
from stix_assets.core.ingest import TmIndex, index_tm_file
from stix_assets.core.tmtc import TMFile
from stix_assets.partitions import tm_files
from stix_assets.resources import StixSettings

__all__ = ["IDB_VERSIONS_KEY", "idb_versions", "tm_raw"]

IDB_VERSIONS_KEY = dg.AssetKey(["idb", "versions"])

idb_versions = dg.AssetSpec(
    IDB_VERSIONS_KEY,
    group_name="external",
    kinds={"sqlite"},
    owners=["team:stix"],
    description="Installed IDB versions and the version history that says which applies when.",
)


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
    deps=[idb_versions],
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
