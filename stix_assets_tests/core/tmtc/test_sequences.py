import numpy as np

from stix_assets.core.tmtc import split_sequences
from stix_assets.core.tmtc.sequences import FIRST, LAST, MIDDLE, STANDALONE


def _split(flags, counts):
    return [(list(s.rows), s.complete) for s in split_sequences(np.array(flags), np.array(counts))]


def test_complete_and_standalone():
    assert _split([STANDALONE, FIRST, MIDDLE, LAST], [5, 6, 7, 8]) == [
        ([0], True),
        ([1, 2, 3], True),
    ]


def test_roll_over_of_the_14_bit_count():
    assert _split([FIRST, MIDDLE, LAST], [16383, 0, 1]) == [([0, 1, 2], True)]


def test_missing_middle_packet_is_incomplete():
    # STIXCore would accept this (span >= n - 1); we wait for the lost packet (decisions.md)
    assert _split([FIRST, MIDDLE, LAST], [10, 11, 13]) == [([0, 1, 2], False)]


def test_fragments_are_incomplete():
    assert _split([LAST], [4]) == [([0], False)]
    assert _split([FIRST, MIDDLE], [1, 2]) == [([0, 1], False)]
    assert _split([MIDDLE, LAST, FIRST], [1, 2, 3]) == [([0, 1], False), ([2], False)]
