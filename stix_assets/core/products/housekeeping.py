"""Housekeeping L0 products: mini (3/25 SID 1) and maxi (3/25 SID 2) reports (domain doc 4.3).

Both are fixed-layout (PLF) packets. CONTROL has one row per packet (``scet_coarse``,
``scet_fine``, ``integration_time`` 0, ``index``); DATA one row per packet: ``time`` = packet
SCET, ``timedel`` 0, one column per parameter except the global words (``NIXG*``) and the SID
(NIX00020), then ``control_index``. Values stay raw at L0; each column's metadata keeps the
parameter name (``NIXS``) and its calibration id (``PCF_CURTX``) so L1 can calibrate.

Column order follows STIXCore: PLF byte offset, then parameter name (STIXCore's packet
dictionary order; e.g. ``cpu_load``, ``archive_memory_usage``, ``autonomous_asw_boot_stat``),
checked against the reference files in
``stix_assets_tests/realdata/test_l0_reference_hk_generic_bsd.py``. Index columns are int64 as in
STIXCore's HK files.
"""

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.idb import Idb, ParameterTable
from stix_assets.core.products.generic import (
    ProductColumns,
    lb_idbs,
    packet_columns,
    split_versions,
    to_l0_product,
    with_packet_time,
)
from stix_assets.core.products.model import L0Product, LbInput

__all__ = ["HK_SKIPPED", "build_hk_l0", "build_housekeeping"]

logger = logging.getLogger(__name__)

HK_SKIPPED = frozenset({"NIX00020"})  # the SID; NIXG* global words are skipped by prefix
_GLOBAL_PREFIX = ("NIXG",)


def build_housekeeping(
    tables: Sequence[ParameterTable],
    idbs: Mapping[str, Idb],
    scet_coarse: NDArray[np.integer],
    scet_fine: NDArray[np.integer],
) -> ProductColumns:
    """Build an HK mini or maxi L0 product from one day's packets.

    Parameters
    ----------
    tables : decoded parameters of the packets (one per IDB version; ``rows`` index the packets)
    idbs : IDB by version label
    scet_coarse, scet_fine : header SCET of every packet, in time order

    Returns
    -------
    ProductColumns
    """
    params, notes = packet_columns(
        tables,
        idbs,
        len(scet_coarse),
        skip=HK_SKIPPED,
        skip_prefixes=_GLOBAL_PREFIX,
        fixed_order=True,
    )
    logger.debug("hk built packets=%d columns=%d", len(scet_coarse), len(params))
    return with_packet_time(params, scet_coarse, scet_fine, notes, index_dtype=np.dtype(np.int64))


def build_hk_l0(inp: "LbInput") -> list["L0Product"]:
    """L0 builder of ``hk_mini`` and ``hk_maxi`` (registered in ``products.builders``)."""
    params = inp.params
    if len(params) == 0:
        return []
    idbs = lb_idbs(inp)
    rows = params.rows
    h = inp.batch.headers
    table = split_versions(params)
    first = table.version
    built = build_housekeeping(
        [table], {**idbs, first: idbs[first]}, h["scet_coarse"][rows], h["scet_fine"][rows]
    )
    return [to_l0_product(inp, inp.spec, built, rows)]
