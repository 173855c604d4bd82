"""Data-quality computations over product files and tables: what the asset checks verify.

Every check is a pure function over arrays (``count_sequence_gaps``, ``find_time_gaps``, ...) plus a
``check_*`` function that reads the files of one partition and returns a `QualityResult`. The
Dagster layer (`stix_assets.checks`) only picks the files and wraps the result; the CLI can call the
same functions. STIXCore has no equivalent (its pipeline only logs).

Statements verified, and their severity when they fail:

===========================================  =======  =============================================
statement                                    sev.     computed from
===========================================  =======  =============================================
no packets lost (sequence-count gaps)        WARN     LB CONTROL, per APID over all files of a day
no duplicated packets (repeated count)       WARN     same
BSD sequences complete after N days          WARN     LB CONTROL of per-request files
no time gaps longer than a threshold         WARN     DATA ``time``/``timedel`` (L0 and later)
times strictly increasing                    ERROR    DATA ``time``
no decompression overflow                    WARN     DATA ``<x>`` vs CONTROL ``compression_scheme_<x>_skm``
flown (not predicted) orbit kernels          WARN     primary ``SPICE_MK`` (L1 and later)
product newer than each of its inputs        WARN     catalog ``written_at`` vs input times
no packet of a TM file quarantined           WARN     catalog ``quarantine`` (gates and levels)
===========================================  =======  =============================================

Sequence counts are 14-bit and per APID (domain doc 1.2); several products share one APID (all
QL families are APID 1500 on the demo and in flight, HK mini and maxi share 1444), so loss and
duplication are counted over every LB file of the day, in SCET order, and reported for the APIDs
a product uses. A step of the count (modulo 16384) of 1 is normal, 0 is a duplicate, ``d > 1``
means ``d - 1`` lost packets; a step of half the range or more is a backward jump (re-ordering or
an on-board counter reset) and is counted apart, not as a loss. Packets with the same SCET are
kept in sequence-count order (LB order), which is wrong only at a roll-over inside one tick.
"""

from stix_assets.core.quality.base import ERROR, WARN, QualityResult
from stix_assets.core.quality.kernels import check_orbit_kernels, orbit_kind
from stix_assets.core.quality.overflow import (
    check_decompression_overflow,
    saturated_mask,
    skm_max_value,
)
from stix_assets.core.quality.packets import (
    SEQUENCE_COUNT_MODULO,
    ApidStats,
    LbPackets,
    check_no_duplicate_packets,
    check_no_lost_packets,
    check_sequences_complete,
    count_sequence_gaps,
    day_sequence_stats,
    duplicate_packets_result,
    lost_packets_result,
    product_apids,
    read_lb_packets,
    summarise_sequences,
)
from stix_assets.core.quality.quarantine import quarantine_category, quarantine_result
from stix_assets.core.quality.staleness import (
    ProductTimes,
    check_no_stale_products,
    find_stale_products,
    partition_files,
    product_times,
    touched_products,
)
from stix_assets.core.quality.times import (
    TimeGaps,
    check_time_gaps,
    check_times_increasing,
    find_time_gaps,
    non_monotonic_times,
)

__all__ = [
    "ERROR",
    "SEQUENCE_COUNT_MODULO",
    "WARN",
    "ApidStats",
    "LbPackets",
    "ProductTimes",
    "QualityResult",
    "TimeGaps",
    "check_decompression_overflow",
    "check_no_duplicate_packets",
    "check_no_lost_packets",
    "check_no_stale_products",
    "check_orbit_kernels",
    "check_sequences_complete",
    "check_time_gaps",
    "check_times_increasing",
    "count_sequence_gaps",
    "day_sequence_stats",
    "duplicate_packets_result",
    "find_stale_products",
    "find_time_gaps",
    "lost_packets_result",
    "non_monotonic_times",
    "orbit_kind",
    "partition_files",
    "product_apids",
    "product_times",
    "quarantine_category",
    "quarantine_result",
    "read_lb_packets",
    "saturated_mask",
    "skm_max_value",
    "summarise_sequences",
    "touched_products",
]
