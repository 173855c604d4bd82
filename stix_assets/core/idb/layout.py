"""Packet layouts compiled from the IDB, once per (version, SPID).

Fixed packets (``PID_TPSD == -1``) come from PLF: every parameter sits at the absolute bit
``PLF_OFFBY * 8 + PLF_OFFBI`` from the packet start (header included) and is ``PCF_WIDTH`` bits
wide; global words and their sub-fields overlap and are all read.

Variable packets come from VPD in ``VPD_POS`` order. Reading is sequential from bit 128 (after the
16 header bytes): before each parameter the cursor moves by ``VPD_OFFSET`` bits (negative values
re-read part of the previous global word), then ``PCF_WIDTH`` bits are read. A parameter with
``VPD_GRPSIZE = N > 0`` is a counter: the next N parameters in VPD_POS order, nested members
included, form its group, read as many times as the counter value (0 skips the group). The tree is
built with a stack of open counters, as STIXCore does (domain doc 1.9).

Types U, T and O are read as unsigned integers and I as two's complement signed integers of
``PCF_WIDTH`` bits; any other S2K type makes the layout fail with `PacketDecodeError`.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from stix_assets.core.errors import PacketDecodeError
from stix_assets.core.idb.rows import PacketType, ParameterDef

__all__ = [
    "HEADER_BITS",
    "Field",
    "Layout",
    "LayoutSource",
    "Node",
    "compile_layout",
    "leading_fields",
]

logger = logging.getLogger(__name__)

HEADER_BITS = 128
_INTEGER_TYPES = {"U": False, "T": False, "O": False, "I": True}


class LayoutSource(Protocol):
    """What compiling a layout reads from an IDB; `stix_assets.core.idb.model.Idb` is one.

    Layouts are compiled from this protocol rather than from the `Idb` class so that the IDB can
    offer `Idb.leading_fields` (built on `compile_layout`) without an import cycle.
    """

    version: str

    def packet_types(self) -> list[tuple[int, int, int | None, PacketType]]:
        """All PID rows as ``(type, subtype, pi1 value, PacketType)``."""
        ...

    def parameter(self, name: str) -> ParameterDef | None:
        """PCF definition of a parameter."""
        ...

    def plf_rows(self, spid: int) -> list[tuple[str, int, int]]:
        """``(name, OFFBY, OFFBI)`` of a fixed packet, by position."""
        ...

    def vpd_rows(self, tpsd: int) -> list[tuple[int, str, int, int]]:
        """``(POS, name, GRPSIZE, OFFSET)`` of a variable packet, by position."""
        ...

    def cached(self, key: int, build: Callable[[], object]) -> object:
        """Per-IDB cache of compiled layouts."""
        ...


@dataclass(frozen=True, slots=True)
class Field:
    """One parameter read: name, width in bits, signedness and position rule.

    ``offset`` is the absolute bit position for fixed layouts and the VPD cursor move for variable
    layouts.
    """

    name: str
    width: int
    signed: bool
    offset: int


@dataclass(frozen=True, slots=True)
class Node:
    """A VPD parameter; a counter when ``is_counter`` (its group is ``children``).

    ``group_bits`` is the size of one repetition of the group when it holds no nested counter
    (then all repetitions can be read at once), else ``None``. ``leaf_offsets`` are the bit
    positions of the group members relative to the repetition start in that case.
    """

    field: Field
    is_counter: bool = False
    children: tuple["Node", ...] = ()
    group_bits: int | None = None
    leaf_offsets: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Layout:
    """The compiled layout of one SPID: fixed ``fields`` or a variable tree of ``nodes``."""

    spid: int
    version: str
    variable: bool
    fields: tuple[Field, ...] = ()
    nodes: tuple[Node, ...] = ()

    def names(self) -> list[str]:
        """Every parameter name, in layout order, once."""
        out: dict[str, None] = {}
        if not self.variable:
            out.update((f.name, None) for f in self.fields)
        stack = list(reversed(self.nodes))
        while stack:
            node = stack.pop()
            out[node.field.name] = None
            stack.extend(reversed(node.children))
        return list(out)


def _field(idb: LayoutSource, spid: int, name: str, offset: int) -> Field:
    param = idb.parameter(name)
    if param is None:
        raise PacketDecodeError(f"parameter {name} not in PCF", spid=spid)
    if param.width is None or param.width <= 0:
        raise PacketDecodeError(f"parameter {name} has no PCF_WIDTH", spid=spid)
    if param.s2k_type not in _INTEGER_TYPES:
        raise PacketDecodeError(
            f"parameter {name} has S2K type {param.s2k_type!r} (PTC {param.ptc}, PFC "
            f"{param.pfc}); only U, I, T and O are supported",
            spid=spid,
        )
    return Field(name, int(param.width), _INTEGER_TYPES[param.s2k_type], int(offset))


class _Build:
    """Mutable node used while the VPD stack is processed."""

    def __init__(self, field: Field, grpsize: int) -> None:
        self.field = field
        self.grpsize = grpsize
        self.children: list[_Build] = []

    def freeze(self) -> Node:
        kids = tuple(c.freeze() for c in self.children)
        if self.grpsize <= 0:
            return Node(self.field)
        static = all(not k.is_counter for k in kids)
        offsets: list[int] = []
        bits = 0
        if static:
            for k in kids:
                bits += k.field.offset
                offsets.append(bits)
                bits += k.field.width
        return Node(
            self.field,
            is_counter=True,
            children=kids,
            group_bits=bits if static else None,
            leaf_offsets=tuple(offsets),
        )


def _vpd_tree(idb: LayoutSource, spid: int, tpsd: int) -> tuple[Node, ...]:
    rows = idb.vpd_rows(tpsd)
    if not rows:
        raise PacketDecodeError(f"no VPD rows for TPSD {tpsd}", spid=spid)
    root = _Build(Field("__root__", 0, False, 0), 1)
    stack: list[list] = [[root, float("inf")]]
    for _pos, name, grpsize, offset in rows:
        node = _Build(_field(idb, spid, name, offset), grpsize)
        for entry in stack[1:]:
            entry[1] -= 1
        while len(stack) > 1 and stack[-1][1] < 0:
            stack.pop()
        stack[-1][0].children.append(node)
        if grpsize > 0:
            stack.append([node, grpsize])
    return tuple(c.freeze() for c in root.children)


def _build(idb: LayoutSource, spid: int) -> Layout:
    ptype = next((p for _, _, _, p in idb.packet_types() if p.spid == spid), None)
    if ptype is None:
        raise PacketDecodeError(f"SPID {spid} not in PID", spid=spid)
    if ptype.is_variable:
        return Layout(spid, idb.version, True, nodes=_vpd_tree(idb, spid, ptype.tpsd))
    rows = idb.plf_rows(spid)
    fields = tuple(_field(idb, spid, n, by * 8 + bi) for n, by, bi in rows)
    return Layout(spid, idb.version, False, fields=fields)


def compile_layout(idb: LayoutSource, spid: int) -> Layout:
    """Compile the layout of a SPID (once per IDB; cached there).

    Raises
    ------
    PacketDecodeError
        If the SPID is unknown, has no layout rows, or uses an unsupported parameter type.
    """
    layout = idb.cached(spid, lambda: _build(idb, spid))
    if not isinstance(layout, Layout):  # pragma: no cover - cache holds only layouts
        raise TypeError(f"cached layout of SPID {spid} is {type(layout)}")
    return layout


def leading_fields(layout: Layout) -> dict[str, tuple[int, int]]:
    """``name -> (bit offset from packet start, width)`` of parameters at fixed positions.

    For fixed layouts every field; for variable layouts the fields up to and including the first counter, with
    the cursor arithmetic of the VPD (negative offsets re-read earlier bits).
    """
    if not layout.variable:
        return {f.name: (f.offset, f.width) for f in layout.fields}
    out: dict[str, tuple[int, int]] = {}
    cursor = HEADER_BITS
    for node in layout.nodes:
        cursor += node.field.offset
        out.setdefault(node.field.name, (cursor, node.field.width))
        if node.is_counter:  # the counter itself is fixed; its group is not
            break
        cursor += node.field.width
    return out
