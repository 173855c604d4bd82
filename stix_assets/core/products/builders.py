"""The L0 builder registry: registry key -> family builder (one entry per family).

`stix_assets.core.products.l0` dispatches an LB file to ``BUILDERS[spec.key]``; a product key
without an entry is kept at LB only. Adding a family = writing its builder (a plain function
``LbInput -> list[L0Product]``) and adding one line here. Keys are those of
`stix_assets.core.products.registry`.
"""

from stix_assets.core.products import quicklook
from stix_assets.core.products.l0 import BuilderEntry

__all__ = ["BUILDERS"]

BUILDERS: dict[str, BuilderEntry] = {
    # quick-look families (quicklook.py)
    "ql_lightcurve": BuilderEntry(quicklook.build_lightcurve),
    "ql_background": BuilderEntry(quicklook.build_background),
    "ql_spectra": BuilderEntry(quicklook.build_spectra),
    "ql_variance": BuilderEntry(quicklook.build_variance),
    "ql_flareflag": BuilderEntry(quicklook.build_flareflag),
    "ql_tmstatusflarelist": BuilderEntry(quicklook.build_tmstatusflarelist),
    "cal_energy": BuilderEntry(quicklook.build_cal_energy),
    # housekeeping families (housekeeping.py, H9): "hk_mini", "hk_maxi"
    # generic services (generic.py, H9): "tc_verify", "events", "memory", ... (registry generic)
    # bulk science per request (science.py, H9), with BuilderEntry(..., per_packet_retry=False):
    # "xray_rpd", "xray_cpd", "xray_scpd", "xray_vis", "xray_spec", "aspect_burst"
}
