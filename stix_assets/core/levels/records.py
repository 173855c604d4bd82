"""Catalog rows of written product files, one function for every level.

The writers of each level return their own result objects (`LbFileResult`, `L0FileResult`,
`L1FileResult`, `L2FileResult`); they share path, product key, sha256, row count and inputs and
differ only in the day attribute (SCET day for LB/L0, UTC day for L1 and later) and in how the
BSD request is spelled. This module turns any of them into `ProductFileRecord` rows.
"""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from stix_assets.core.catalog import ProductFileRecord
from stix_assets.core.products.registry import product_by_key

__all__ = ["file_records"]


def _request_id(value: Any) -> int | None:
    # (tc seq control, request id) at LB/L0, "<rid>-<tcc>" or "<rid>" at L1
    if value is None:
        return None
    if isinstance(value, str):
        return int(value.split("-")[0])
    return int(value[1])


def _day(result: Any) -> date | None:
    return getattr(result, "scet_day", None) or getattr(result, "utc_day", None)


def file_records(
    results: Sequence[Any],
    *,
    level: str,
    written_at: datetime,
    run_id: str | None = None,
    version: int | None = None,
) -> list[ProductFileRecord]:
    """Catalog rows of written files.

    Parameters
    ----------
    results : file results of one level's writer
    level : ``LB``, ``L0``, ``L1``, ``CAL`` ...
    written_at, run_id : when and by which run
    version : processing version of every file; default: the product's registry version
    """
    return [
        ProductFileRecord(
            path=r.path,
            level=level,
            product=r.product_key,
            partition_day=_day(r),
            version=version or product_by_key(r.product_key).processing_version,
            sha256=r.sha256,
            written_at=written_at,
            size=r.path.stat().st_size,
            n_rows=getattr(r, "n_rows", None) or getattr(r, "n_packets", 0),
            inputs=tuple(getattr(r, "inputs", None) or getattr(r, "raw_files", ())),
            request_id=_request_id(r.request_id),
            run_id=run_id,
            needs_reprocessing=bool(getattr(r, "needs_reprocessing", False)),
        )
        for r in results
    ]
