"""Documented differences from STIXCore's reference products that several reference tests share.

Spectrogram request ``0083036480-52373`` (docs/decisions.md, "Spectrogram time bins"): four
sub-structures of 17, 17, 33 and 33 samples (NIX00089) cover the same 660 s in two energy ranges
and two time resolutions (40 s, 20 s); every one starts at 0.1 s and has its last sample at
640.1 s (NIX00441) with a closing time offset of 20 s (NIX00269 = 200). STIXCore closed only the
last sub-structure, so the last bin of each of the first three ran from 640 s back to 0 s: centre
320 s, ``timedel`` -640 s, written as the uint32 4294903296 cs. We close each sub-structure with
its own offset: centre 650 s, ``timedel`` 20 s. All other rows are equal. The DATA columns are
relative to ``OBT_BEG`` (the request start + 0.1 s), in centiseconds.
"""

import numpy as np
from numpy.typing import NDArray

__all__ = ["OVERLAPPING_SPECTROGRAM", "SPECTROGRAM_BINS", "closed_time", "closed_timedel"]

OVERLAPPING_SPECTROGRAM = "0083036480-52373"
_SAMPLES = (17, 17, 33, 33)
_LAST_ROWS = np.cumsum(_SAMPLES)[:-1] - 1  # rows 16, 33, 66: the last bin of sub-structures 1-3
_LAST_START_CS = 64000  # 640 s after OBT_BEG
_CLOSING_CS = 2000  # 20 s


def closed_time(ref_time_cs: NDArray) -> NDArray:
    """Our DATA ``time`` (cs) from STIXCore's: the three wrong bin centres moved."""
    out = np.array(ref_time_cs)  # a copy in the reader's dtype (uint32, or float64 via Table)
    out[_LAST_ROWS] = _LAST_START_CS + _CLOSING_CS // 2
    return out


def closed_timedel(ref_timedel_cs: NDArray) -> NDArray:
    """Our DATA ``timedel`` (cs) from STIXCore's: the three wrapped durations replaced."""
    out = np.array(ref_timedel_cs)
    out[_LAST_ROWS] = _CLOSING_CS
    return out


SPECTROGRAM_BINS = {("DATA", "time"): closed_time, ("DATA", "timedel"): closed_timedel}
