"""Which parameters are S/K/M compressed, with which scheme, and trigger unscaling (domain doc 5).

Source: STIX-TN-0117-FHNW (compression), STIXCore's packet schemas (which NIX parameter carries
the S, K and M of which value group, 5.2), the overrides of 5.3 (STIX-FSW #953: BSD triggers of
ssid 21 sent with the count scheme before IDB 2.26.35; STIX-FSW PR #970: visibility flux with
(S-1, K+1, M)) and the trigger scaling of 5.4 (compression mode (0, 0, 7)).

Everything works on a whole `ParameterTable` at once: the scheme of each packet is read from the
packet, repeated over the packet's values and each distinct scheme decompressed in one call.
No known difference from STIXCore.
"""

import logging

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.compression import CompressionError, decompress
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import ParameterTable

__all__ = [
    "QL_TRIGGER_FACTOR",
    "SKM_GROUPS",
    "SSID_PARAMETERS",
    "TRIGGER_GROUPS",
    "active_trigger_groups",
    "decompress_parameter",
    "packet_skm",
    "skm_sources",
    "unscale_triggers",
]

logger = logging.getLogger(__name__)

# group -> (S, K, M) source parameters
SKM_GROUPS: dict[str, tuple[str, str, str]] = {
    "EACC": ("NIXD0007", "NIXD0008", "NIXD0009"),
    "ETRIG": ("NIXD0010", "NIXD0011", "NIXD0012"),
    "LC": ("NIXD0101", "NIXD0102", "NIXD0103"),
    "TriggerSSID30": ("NIXD0104", "NIXD0105", "NIXD0106"),
    "BKG": ("NIXD0108", "NIXD0109", "NIXD0110"),
    "TRIG": ("NIXD0112", "NIXD0113", "NIXD0114"),
    "SPEC": ("NIXD0115", "NIXD0116", "NIXD0117"),
    "VAR": ("NIXD0118", "NIXD0119", "NIXD0120"),
    "CALI": ("NIXD0126", "NIXD0127", "NIXD0128"),
}

_BSD_TRIGGERS = {f"NIX00{i}": "ETRIG" for i in range(242, 258)}

# ssid -> parameter -> group (5.2); "EACC_FLUX" is EACC modified to (S-1, K+1, M) (5.3)
SSID_PARAMETERS: dict[int, dict[str, str]] = {
    21: {"NIX00260": "EACC", **_BSD_TRIGGERS},
    22: {"NIX00260": "EACC", **_BSD_TRIGGERS},
    23: {"NIX00263": "EACC", "NIX00264": "EACC", "NIX00261": "EACC_FLUX", **_BSD_TRIGGERS},
    24: {"NIX00268": "EACC", "NIX00267": "ETRIG"},
    30: {"NIX00272": "LC", "NIX00274": "TriggerSSID30"},
    31: {"NIX00278": "BKG", "NIX00274": "TRIG"},
    32: {**{f"NIX00{i}": "SPEC" for i in range(452, 484)}, "NIX00484": "TRIG"},
    33: {"NIX00281": "VAR"},
    41: {"NIX00158": "CALI"},
}

# 16 trigger accumulator groups, pairs of detectors (1-based), domain doc 5.4
TRIGGER_GROUPS: tuple[tuple[int, int], ...] = (
    (1, 2), (6, 7), (5, 11), (12, 13), (14, 15), (10, 16), (8, 9), (3, 4),
    (31, 32), (26, 27), (22, 28), (20, 21), (18, 19), (17, 23), (24, 25), (29, 30),
)  # fmt: skip
QL_TRIGGER_FACTOR = 30
TRIGGER_SCALED_SKM = (0, 0, 7)


def _version_tuple(version: str) -> tuple[int, ...]:
    head = version.split("_", 1)[0]
    return tuple(int(p) for p in head.split(".") if p.isdigit())


def skm_sources(ssid: int, name: str, idb_version: str | None = None) -> str:
    """The S/K/M group of a compressed parameter (``"EACC"``, ``"EACC_FLUX"``, ``"LC"``, ...).

    Raises
    ------
    KeyError
        If ``name`` is not compressed in ``ssid``.

    Examples
    --------
    >>> skm_sources(21, "NIX00242", "2.26.34")
    'EACC'
    >>> skm_sources(21, "NIX00242", "2.26.35")
    'ETRIG'
    """
    group = SSID_PARAMETERS[ssid][name]
    if (
        ssid == 21
        and group == "ETRIG"
        and idb_version is not None
        and _version_tuple(idb_version) < (2, 26, 35)
    ):
        return "EACC"  # STIX-FSW #953
    return group


def packet_skm(params: ParameterTable, group: str) -> NDArray[np.int64]:
    """Return the (S, K, M) of each packet of ``params`` for a group, shape (n, 3)."""
    base = "EACC" if group == "EACC_FLUX" else group
    skm = np.stack([params.first(p).astype(np.int64) for p in SKM_GROUPS[base]], axis=1)
    if group == "EACC_FLUX":
        # (S-1, K+1, M) turns the signed visibility scheme into an unsigned one with one more
        # exponent bit; when the counts were sent unsigned (S = 0) there is no sign bit to give
        # up, so S stays 0 (real packet 0087031811; docs/decisions.md)
        skm = skm + np.array([-1, 1, 0])
        skm[:, 0] = np.maximum(skm[:, 0], 0)
    return skm


def decompress_parameter(
    params: ParameterTable,
    name: str,
    ssid: int,
    *,
    versions: NDArray[np.object_] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Decompress every value of ``name`` with the scheme sent in its own packet.

    Parameters
    ----------
    params : decoded packets of one SSID
    name : compressed parameter (``NIX00272``)
    ssid : the packets' SSID
    versions : IDB version of each packet of ``params`` (for the 5.3 overrides)

    Returns
    -------
    values : int64, flat like ``params.values[name]``
    variance : float64, same shape
    skm : int64 (n_packets, 3), the scheme of each packet

    Raises
    ------
    ProductBuildError
        If a packet's scheme is invalid or a byte does not fit it.
    """
    n = len(params)
    if versions is None:
        groups = np.full(n, skm_sources(ssid, name), dtype=object)
    else:
        groups = np.array([skm_sources(ssid, name, str(v)) for v in versions], dtype=object)
    skm = np.zeros((n, 3), dtype=np.int64)
    for group in set(groups.tolist()):
        sel = groups == group
        skm[sel] = packet_skm(params, group)[sel]
    raw = np.asarray(params.values[name], dtype=np.int64)
    counts = np.asarray(params.counts[name])
    values = np.zeros(raw.shape, dtype=np.int64)
    variance = np.zeros(raw.shape, dtype=np.float64)
    # the schemes of the packets that hold values (few), then each value by its packet's scheme
    schemes = np.unique(skm[counts > 0], axis=0) if len(raw) else np.zeros((0, 3), np.int64)
    for s, k, m in schemes.tolist():
        sel = np.repeat(np.all(skm == (s, k, m), axis=1), counts)
        try:
            values[sel], variance[sel] = decompress(raw[sel], s=s, k=k, m=m)
        except CompressionError as err:
            raise ProductBuildError(
                f"{name}: cannot decompress with S={s} K={k} M={m}: {err}"
            ) from err
    return values, variance, skm


def active_trigger_groups(detector_mask: NDArray) -> NDArray[np.bool_]:
    """Active trigger groups (n, 16) from detector masks (n, 32) of 0/1 (index 0 = detector 1)."""
    mask = np.asarray(detector_mask).astype(bool).reshape(-1, 32)
    pairs = np.array(TRIGGER_GROUPS) - 1
    return mask[:, pairs[:, 0]] | mask[:, pairs[:, 1]]


def unscale_triggers(
    triggers: NDArray,
    variance: NDArray,
    *,
    scaled: NDArray[np.bool_],
    detector_mask: NDArray,
    int_time: NDArray,
    ssid: int,
    factor: float | NDArray = QL_TRIGGER_FACTOR,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Undo the on-board trigger scaling of packets sent with scheme (0, 0, 7) (domain doc 5.4).

    Parameters
    ----------
    triggers, variance : per packet (n,) for ssid 24/30-32, or (n, 16) for ssid 21-23
    scaled : (n,) True where the packet's trigger scheme is (0, 0, 7)
    detector_mask : (n, 32) detector masks (a fixed mask for background and spectra)
    int_time : (n,) integration time in units of 0.1 s
    ssid : product SSID
    factor : scaling factor (QL 30; BSD from the request-id table)

    Returns
    -------
    triggers, variance (float64); unchanged where ``scaled`` is False

    Raises
    ------
    ProductBuildError
        For an SSID without scaled triggers.

    Examples
    --------
    >>> t, v = unscale_triggers(np.array([2]), np.array([0.0]), scaled=np.array([True]),
    ...     detector_mask=np.ones((1, 32)), int_time=np.array([10]), ssid=30)
    >>> float(t[0]), float(v[0])
    (12000.0, 5760000.0)
    """
    trig = np.asarray(triggers, dtype=np.float64).copy()
    var = np.asarray(variance, dtype=np.float64).copy()
    groups = active_trigger_groups(detector_mask)
    if ssid in (24, 30, 31, 32):
        n_groups = groups.sum(axis=1).astype(np.float64)
        shape = (-1,) + (1,) * (trig.ndim - 1)
        n_groups = n_groups.reshape(shape)
    elif ssid in (21, 22, 23):
        n_groups = groups.astype(np.float64)
    else:
        raise ProductBuildError(f"no trigger scaling defined for ssid {ssid}")
    scale = (
        n_groups
        * np.asarray(int_time, dtype=np.float64).reshape((-1,) + (1,) * (trig.ndim - 1))
        * np.asarray(factor, dtype=np.float64).reshape((-1,) + (1,) * (trig.ndim - 1))
    )
    half = 0.5 * scale
    sel = np.asarray(scaled, dtype=bool).reshape((-1,) + (1,) * (trig.ndim - 1))
    sel = np.broadcast_to(sel, trig.shape)
    new_t = trig * scale + half
    new_v = half**2
    trig[sel] = np.broadcast_to(new_t, trig.shape)[sel]
    var[sel] = np.broadcast_to(new_v, trig.shape)[sel]
    return trig, var
