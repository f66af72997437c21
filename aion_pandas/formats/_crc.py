"""The CRC-32 of many members joined, from the members' own CRCs: what zlib's ``crc32_combine``
does for two, for all of them at once with numpy.

A zip stores each member's CRC-32. Checking 100,000 small members one ``zlib.crc32`` call at a
time costs ~50 ms of calls that hold the GIL; instead, one ``zlib.crc32`` of the joined bytes
(without the GIL) is compared with the CRC the stored ones add up to. CRC-32 is linear:
``crc(A + B) = shift(crc(A), len(B)) ^ crc(B)``, where ``shift(c, n)`` multiplies ``c`` by
``x**(8 * n)`` modulo the CRC's polynomial. So the joined CRC is the XOR of every member's CRC
shifted by the bytes that follow it, and a shift by ``n`` is one table-driven step per hex
digit of ``n`` (four lookups, one per byte of the CRC), done for all members together.

>>> import zlib
>>> parts = [b"cat", b"", b"dog and bird"]
>>> crcs, sizes = [zlib.crc32(p) for p in parts], [len(p) for p in parts]
>>> joined_crc(np.array(crcs), np.array(sizes)) == zlib.crc32(b"".join(parts))
True
"""
from __future__ import annotations

import functools

import numpy as np

_POLY = 0xEDB88320  # CRC-32 (zip, zlib), bits reflected: bit 31 is x**0
_ONE = 1 << 31


def _times_x(p: int) -> int:
    """``p * x`` modulo the polynomial."""
    return (p >> 1) ^ _POLY if p & 1 else p >> 1


_DIGIT = 4  # a shift's byte count is taken 4 bits at a time: 16 tables per digit


@functools.cache
def _shift_tables(k: int) -> np.ndarray:
    """``(16 * 4 * 256,)`` tables: entry ``(d * 4 + j) * 256 + b`` is byte ``j`` of a CRC,
    valued ``b``, shifted by ``d * 16**k`` bytes (a shifted CRC is the XOR of its four bytes')."""
    columns = np.empty((16, 32), np.uint32)  # the shift of each single bit: bit 31 - m is x**m
    factor, step = _ONE, _power(8 << (_DIGIT * k))  # x**(8 * d * 16**k), from d = 0 up
    for d in range(16):
        p = factor
        for m in range(32):
            columns[d, 31 - m] = p
            p = _times_x(p)
        factor = _product(factor, step)
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1  # (256, 8): each byte value's bits
    per_bit = columns.reshape(16, 4, 1, 8) * bits.astype(np.uint32)  # (16, 4, 256, 8)
    return np.bitwise_xor.reduce(per_bit, axis=-1).reshape(-1)


def _power(n: int) -> int:
    """``x**n`` modulo the polynomial, by squaring."""
    result, square = _ONE, _times_x(_ONE)
    while n:
        if n & 1:
            result = _product(result, square)
        square = _product(square, square)
        n >>= 1
    return result


def _product(a: int, b: int) -> int:
    """``a * b`` modulo the polynomial."""
    p = 0
    for m in range(32):
        if a & (_ONE >> m):
            p ^= b
        b = _times_x(b)
    return p


def joined_crc(crcs: np.ndarray, sizes: np.ndarray) -> int:
    """The CRC-32 of the members joined in order, from each one's CRC-32 and size in bytes."""
    crc = np.asarray(crcs).astype(np.uint32)
    if not len(crc):
        return 0
    following = np.cumsum(np.asarray(sizes, dtype=np.int64)[::-1])[::-1]  # bytes from each on
    following[:-1] = following[1:].copy()
    following[-1] = 0
    index = np.empty(len(crc), np.int64)
    part, moved = np.empty_like(crc), np.empty_like(crc)
    for k in range(-(-int(following.max()).bit_length() // _DIGIT)):
        tables = _shift_tables(k)
        digit = ((following >> (_DIGIT * k)) & 15) * 1024  # its tables' offset
        for j in range(4):
            np.right_shift(crc, 8 * j, out=index, casting="unsafe")
            np.bitwise_and(index, 255, out=index)
            index += digit
            index += 256 * j
            if j == 0:
                np.take(tables, index, out=moved)
            else:
                moved ^= np.take(tables, index, out=part)
        crc, moved = moved, crc
    return int(np.bitwise_xor.reduce(crc))
