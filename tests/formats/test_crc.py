"""The CRC-32 of joined members from their own CRCs, against zlib's over the joined bytes."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from aion_pandas.formats._crc import joined_crc


@pytest.mark.parametrize("sizes", [[], [0], [5], [0, 0, 3], [1, 70_000, 0, 17, 300_000],
                                   list(range(0, 4000, 37))])
def test_joined_crc_is_the_crc_of_the_members_joined(sizes):
    rng = np.random.default_rng(len(sizes))
    parts = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes]
    crcs = np.array([zlib.crc32(p) for p in parts], dtype=np.int64)
    assert joined_crc(crcs, np.array(sizes, dtype=np.int64)) == zlib.crc32(b"".join(parts))
