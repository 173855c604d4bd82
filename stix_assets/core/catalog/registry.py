"""The op handlers of the catalog, assembled in one place from each store's explicit list.

No module adds to this mapping; it is built once here and is read-only. A store's ops are
applied only if its list is named in `_STORES`.
"""

from collections.abc import Mapping
from types import MappingProxyType

from stix_assets.core.catalog import kernels, products, publish, quarantine, tm_files
from stix_assets.core.catalog.base import OpHandler

__all__ = ["OP_HANDLERS", "build_op_handlers"]

_STORES: tuple[tuple[tuple[str, OpHandler], ...], ...] = (
    tm_files.HANDLERS,
    quarantine.HANDLERS,
    products.HANDLERS,
    publish.HANDLERS,
    kernels.HANDLERS,
)


def build_op_handlers(
    stores: tuple[tuple[tuple[str, OpHandler], ...], ...],
) -> Mapping[str, OpHandler]:
    """Return a read-only ``{op name: handler}`` mapping of the stores' handler lists.

    Raises
    ------
    ValueError
        If two stores name the same op.
    """
    out: dict[str, OpHandler] = {}
    for handlers in stores:
        for name, handler in handlers:
            if name in out:
                raise ValueError(f"catalog op {name!r} has two handlers")
            out[name] = handler
    return MappingProxyType(out)


OP_HANDLERS: Mapping[str, OpHandler] = build_op_handlers(_STORES)
"""Every catalog op by name; `stix_assets.core.catalog.Catalog` applies ops through it."""
