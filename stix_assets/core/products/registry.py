"""The product registry: the one place that knows which (service, subtype, SSID) is which product.

Every level asset (``lb/<key>``, ``l0/<key>``, ...) is generated from these entries, and no other
module branches on literal (service, subtype, ssid) tuples. Adding a product means adding one
entry here and its builder.
"""

from dataclasses import dataclass

__all__ = [
    "BASE_PROCESSING_VERSION",
    "PRODUCTS",
    "ProductSpec",
    "is_bsd",
    "product_by_key",
    "product_for",
]

BASE_PROCESSING_VERSION = 2


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """One product family.

    Attributes
    ----------
    key : asset-key name, lower snake case (``ql_lightcurve``)
    name : name in file names after ``stix-`` (``ql-lightcurve``); generic products add
        ``-<subtype>[-<pi1>]``
    type : product type (``ql``, ``hk``, ``sci``, ``cal`` or the service name of generic products)
    service, subtypes, ssids : what packets belong to it (empty tuple = any)
    per_request : BSD: one file per request (tc sequence control, request id), not per day
    processing_version : ``V<NN>`` of L0/L1 files (LB always uses the base version)
    daily : daily file (``U`` status suffix until published)
    description : one line for the asset catalogue
    """

    key: str
    name: str
    type: str
    service: int | None
    subtypes: tuple[int, ...] = ()
    ssids: tuple[int, ...] = ()
    per_request: bool = False
    processing_version: int = BASE_PROCESSING_VERSION
    daily: bool = True
    generic: bool = False
    description: str = ""

    def matches(self, service: int, subtype: int, pi1: int | None) -> bool:
        """True if a packet of (service, subtype, pi1) belongs to this product."""
        if self.service is not None and service != self.service:
            return False
        if self.subtypes and subtype not in self.subtypes:
            return False
        return not (self.ssids and pi1 not in self.ssids)


def _ql(key: str, ssid: int, what: str, version: int = BASE_PROCESSING_VERSION) -> ProductSpec:
    return ProductSpec(
        key,
        key.replace("_", "-"),
        key.split("_", 1)[0],
        21,
        (6,),
        (ssid,),
        processing_version=version,
        description=what,
    )


def _sci(key: str, ssid: int, what: str, version: int = BASE_PROCESSING_VERSION) -> ProductSpec:
    return ProductSpec(
        key,
        "sci-" + key.replace("_", "-"),
        "sci",
        21,
        (6,),
        (ssid,),
        per_request=True,
        processing_version=version,
        daily=False,
        description=what,
    )


def _generic(key: str, service: int, what: str) -> ProductSpec:
    return ProductSpec(
        key,
        key.replace("_", "-"),
        key.replace("_", "-"),
        service,
        daily=False,
        generic=True,
        description=what,
    )


PRODUCTS: tuple[ProductSpec, ...] = (
    _ql("ql_lightcurve", 30, "QL summed light curves in 5 energy bands"),
    _ql("ql_background", 31, "QL background monitor"),
    _ql("ql_spectra", 32, "QL detector-specific spectra"),
    _ql("ql_variance", 33, "QL variance"),
    _ql("ql_flareflag", 34, "QL flare flag and location"),
    _ql("cal_energy", 41, "background spectra for energy calibration", version=3),
    _ql("ql_tmstatusflarelist", 43, "TM management status and flare list"),
    ProductSpec("hk_mini", "hk-mini", "hk", 3, (25,), (1,), description="HK mini report (SID 1)"),
    ProductSpec("hk_maxi", "hk-maxi", "hk", 3, (25,), (2,), description="HK maxi report (SID 2)"),
    ProductSpec(
        "hk_heartbeat",
        "hk-heartbeat",
        "hk",
        3,
        (25,),
        (4,),
        generic=True,
        description="HK heartbeat (SID 4); kept at LB, STIXCore has no L0 class",
    ),
    _sci("xray_rpd", 20, "X-ray raw pixel data (bulk science)"),
    _sci("xray_cpd", 21, "X-ray compressed pixel data (bulk science)"),
    _sci("xray_scpd", 22, "X-ray summed pixel data (bulk science)"),
    _sci("xray_vis", 23, "X-ray visibilities (bulk science)"),
    _sci("xray_spec", 24, "X-ray spectrogram (bulk science)", version=4),
    _sci("aspect_burst", 42, "aspect burst (bulk science)"),
    ProductSpec(
        "sci_auto",
        "sci-auto",
        "sci",
        21,
        (6,),
        (10, 11, 12, 13, 14),
        generic=True,
        description="on-board automatic X-ray/spectrogram data (SSID 10-14); LB only",
    ),
    _generic("tc_verify", 1, "TC verification reports (service 1)"),
    _generic("events", 5, "event reports (service 5)"),
    _generic("memory", 6, "memory dump/check reports (service 6)"),
    _generic("time", 9, "time management (service 9)"),
    _generic("conn_test", 17, "connection test reports (service 17)"),
    _generic("info_dist", 20, "information distribution (service 20)"),
    _generic("context", 22, "context reports (service 22)"),
    _generic("config", 236, "subsystem configuration reports (service 236)"),
    _generic("params", 237, "parameter reports (service 237)"),
    _generic("archive", 238, "archive memory management (service 238)"),
    _generic("diagnostics", 239, "diagnostic reports (service 239)"),
    _generic("low_latency", 300, "low-latency reports (service 300)"),
    ProductSpec(
        "other",
        "other",
        "other",
        None,
        daily=False,
        generic=True,
        description="any packet kind no other product claims (kept at LB)",
    ),
)

_BY_KEY = {p.key: p for p in PRODUCTS}


def product_by_key(key: str) -> ProductSpec:
    """The registry entry with asset-key name ``key``."""
    return _BY_KEY[key]


def product_for(service: int, subtype: int, pi1: int | None) -> ProductSpec:
    """The product a packet kind belongs to (``other`` when no entry claims it)."""
    for spec in PRODUCTS:
        if spec.matches(service, subtype, pi1):
            return spec
    raise AssertionError("the 'other' entry matches every packet")


def is_bsd(service: int, subtype: int, pi1: int | None) -> bool:
    """True for bulk-science kinds stored per request (LB file per tc seq control + request id)."""
    return product_for(service, subtype, pi1).per_request
