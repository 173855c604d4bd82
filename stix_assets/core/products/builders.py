"""The L0 builder registry: registry key -> family builder (one entry per family).

`stix_assets.core.products.l0_build` dispatches an LB file to ``BUILDERS[spec.key]``; a product key
without an entry is kept at LB only (``hk_heartbeat``, ``sci_auto``: STIXCore has no L0 class for
them). Adding a family = writing its builder (a plain function ``LbInput -> list[L0Product]``, or
an object with ``products`` and ``waiting`` for BSD) and adding one line here. Keys are those of
`stix_assets.core.products.registry`.
"""

from stix_assets.core.products import quicklook
from stix_assets.core.products.generic import build_generic_l0
from stix_assets.core.products.housekeeping import build_hk_l0
from stix_assets.core.products.model import BuilderEntry
from stix_assets.core.products.registry import PRODUCTS
from stix_assets.core.products.science import build_science_l0

__all__ = ["BUILDERS"]

_LB_ONLY = {"hk_heartbeat", "sci_auto"}

BUILDERS: dict[str, BuilderEntry] = {
    # quick-look families (quicklook.py)
    "ql_lightcurve": BuilderEntry(quicklook.build_lightcurve),
    "ql_background": BuilderEntry(quicklook.build_background),
    "ql_spectra": BuilderEntry(quicklook.build_spectra),
    "ql_variance": BuilderEntry(quicklook.build_variance),
    "ql_flareflag": BuilderEntry(quicklook.build_flareflag),
    "ql_tmstatusflarelist": BuilderEntry(quicklook.build_tmstatusflarelist),
    "cal_energy": BuilderEntry(quicklook.build_cal_energy),
    # housekeeping (housekeeping.py)
    "hk_mini": BuilderEntry(build_hk_l0),
    "hk_maxi": BuilderEntry(build_hk_l0),
    # bulk science per request (science.py): products span packet sequences, no per-packet retry
    **{
        key: BuilderEntry(build_science_l0, per_packet_retry=False)
        for key in ("xray_rpd", "xray_cpd", "xray_scpd", "xray_vis", "xray_spec", "aspect_burst")
    },
    # every other parseable service (generic.py, STIXCore's DefaultProduct)
    **{
        spec.key: BuilderEntry(build_generic_l0)
        for spec in PRODUCTS
        if spec.generic and spec.key not in _LB_ONLY
    },
}
