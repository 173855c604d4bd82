"""Column dtypes shared by the L0 builders and the stacking of L0 products."""

import numpy as np
from numpy.typing import NDArray

__all__ = ["min_uint"]


def min_uint(values: NDArray | int) -> type[np.unsignedinteger]:
    """Smallest unsigned dtype holding ``values`` (STIXCore's ``get_min_uint``)."""
    top = int(np.max(values)) if np.size(values) else 0
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if top <= np.iinfo(dtype).max:
            return dtype
    return np.uint64
