"""The IDB rows the pipeline reads as values: a PID row (`PacketType`) and a PCF row (`ParameterDef`).

A leaf module: `stix_assets.core.idb.model` builds them when it loads an IDB, and
`stix_assets.core.idb.layout` reads them through its `LayoutSource` protocol without importing
the IDB class.
"""

from dataclasses import dataclass

__all__ = ["PacketType", "ParameterDef"]


@dataclass(frozen=True, slots=True)
class PacketType:
    """A row of PID: the SPID of a packet kind and where its layout is defined.

    ``tpsd == -1`` means a fixed layout in PLF; otherwise the VPD rows with ``VPD_TPSD == tpsd``.
    """

    spid: int
    description: str
    tpsd: int

    @property
    def is_variable(self) -> bool:
        """True when the layout is in VPD."""
        return self.tpsd != -1


@dataclass(frozen=True, slots=True)
class ParameterDef:
    """The PCF row of one parameter, with its S2K type resolved."""

    name: str
    description: str
    width: int | None
    ptc: int
    pfc: int
    s2k_type: str | None
    categ: str | None
    curtx: str | None
    unit: str | None
