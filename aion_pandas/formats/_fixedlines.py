"""Decode YOLO label lines of the fixed layout writers use (``%d`` class, ``%.6f`` fields) with
no text parser: our writer's and FiftyOne's lines, read at about a third of the CPU of Arrow's CSV
parser.

A line in the layout is ``C D.DDDDDD D.DDDDDD D.DDDDDD D.DDDDDD[ D.DDDDDD]\\n``: a class of 1-8
digits, then 4 or 5 fields of one digit, a dot and six digits, single spaces between. Since the
fields have a fixed width, a line's end says where each field is; each field's eight bytes are
one 64-bit word, turned into its number by a few whole-array multiplies (SWAR). Every byte of
every line is checked against the layout first; one line out of it and the decoder returns
``None`` (the caller parses the text the general way), so it never guesses.

>>> decode_fixed(memoryview(b"3 0.500000 0.250000 0.125000 1.000000\\n"), np.array([37]), 5)
[array([3.]), array([0.5]), array([0.25]), array([0.125]), array([1.])]
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from aion_pandas.formats._memory import small_pages

FIELD = 9  # " D.DDDDDD"
CLASS = 8  # the class's digits are read as one right-aligned 64-bit word
_BLOCK = 1 << 15  # lines per step: the step's temporaries stay in the CPU's cache

_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_LOW_NIBBLES = np.uint64(0x0F0F_0F0F_0F0F_0F0F)
_FIELD_DIGITS = np.uint64(0x0F0F_0F0F_0F0F_000F)  # drops the dot (byte 1) too
# three multiplies join 8 digits (byte 0 the most significant) pairwise into one number
_JOIN = ((np.uint64(10 << 8 | 1), np.uint64(8), np.uint64(0x00FF_00FF_00FF_00FF)),
         (np.uint64(100 << 16 | 1), np.uint64(16), np.uint64(0x0000_FFFF_0000_FFFF)),
         (np.uint64(10_000 << 32 | 1), np.uint64(32), None))


def fixed_fields(line: bytes) -> int | None:
    """How many fields (5 or 6) ``line`` has when it is in the layout; ``None`` when it is not.

    >>> fixed_fields(b"12 0.500000 0.250000 0.125000 1.000000"), fixed_fields(b"1 .5 .5 .1 .1")
    (5, None)
    """
    parts = line.split(b" ")
    fields = parts[1:]
    if len(parts) not in (5, 6) or not 1 <= len(parts[0]) <= CLASS or not parts[0].isdigit():
        return None
    if all(len(f) == FIELD - 1 and f[1:2] == b"." and (f[:1] + f[2:]).isdigit() for f in fields):
        return len(parts)
    return None


def decode_fixed(blob: memoryview, newlines: np.ndarray, n_fields: int, *,
                 threads: int = 2) -> list[np.ndarray] | None:
    """The lines ending at ``newlines`` (every line of ``blob``) as ``n_fields`` float64 arrays
    (class first), or ``None`` when a line is not in the layout.

    The values equal a correct decimal parse (an integer over 10**6 is rounded once). The
    lines are split between ``threads`` threads; numpy works without the GIL.

    >>> decode_fixed(memoryview(b"1 0.5 0.5 0.1 0.1\\n"), np.array([17]), 5) is None
    True
    """
    n = len(newlines)
    out = [small_pages(n, np.float64) for _ in range(n_fields)]  # 4 KB pages, filled by the threads
    if not n:
        return out
    tail = FIELD * (n_fields - 1)
    parts = np.linspace(0, n, min(threads, max(1, n // _BLOCK)) + 1).astype(np.int64)
    spans = list(zip(parts[:-1].tolist(), parts[1:].tolist()))
    if len(spans) == 1:
        done = [_decode(blob, newlines, tail, out, *spans[0])]
    else:
        with ThreadPoolExecutor(len(spans)) as pool:
            done = list(pool.map(lambda span: _decode(blob, newlines, tail, out, *span), spans))
    return out if all(done) else None


def _decode(blob: memoryview, newlines: np.ndarray, tail: int, out: list[np.ndarray],
            first: int, last: int) -> bool:
    """Lines ``first:last`` into ``out``, a block at a time; ``False`` at the first bad line."""
    width = CLASS + tail  # a record: 8 bytes ending with the class, then the fields
    block = _Block(tail // FIELD, min(_BLOCK, last - first))
    for lo in range(first, last, _BLOCK):
        hi = min(lo + _BLOCK, last)
        end = newlines[lo:hi]
        begin = np.empty_like(end)
        begin[0] = newlines[lo - 1] + 1 if lo else 0
        begin[1:] = end[:-1] + 1
        digits = end - tail - begin  # the class's width
        if digits.min() < 1 or digits.max() > CLASS:
            return False
        at = end - width
        base = blob
        if at[0] < 0:  # the blob's first line: its record starts before the blob
            base = memoryview(b"\n" * CLASS + bytes(blob[:int(end[-1]) + 1]))
            at = at + CLASS
        view = np.ndarray((len(base) - width + 1,), dtype=f"V{width}", buffer=base, strides=(1,))
        records = np.frombuffer(view[at], dtype=np.uint8).reshape(-1, width)
        if not block.decode(records, digits, [column[lo:hi] for column in out]):
            return False
    return True


_SPACE = np.uint8(ord(" "))
_HIGH_NIBBLES = np.uint64(0xF0F0_F0F0_F0F0_F0F0)
_ZEROS = np.uint64(0x3030_3030_3030_3030)  # "00000000"
_SIXES = np.uint64(0x0606_0606_0606_0606)  # a digit plus 6 keeps its high nibble 3
# what _digits compares: "DDDDDDDD" (a class, filled with "0" on the left) and "D.DDDDDD" (a
# field: the same, with the dot, byte 1, compared whole)
_CLASS_SHAPE = (_HIGH_NIBBLES, _ZEROS, _SIXES, _HIGH_NIBBLES, _ZEROS)
_FIELD_SHAPE = (np.uint64(0xF0F0_F0F0_F0F0_FFF0), np.uint64(0x3030_3030_3030_2E30),
                np.uint64(0x0606_0606_0606_0006), np.uint64(0xF0F0_F0F0_F0F0_00F0),
                np.uint64(0x3030_3030_3030_0030))


class _Block:
    """Scratch space for one thread's blocks of records, and their checks and decoding.

    A record's words: the class's (its 8 bytes ending with the class), then each field's
    (``CLASS + 1 == FIELD``: field ``j`` starts at byte ``9 * j``); the spaces sit between."""

    def __init__(self, fields: int, lines: int) -> None:
        self.fields = fields
        self.words = np.empty((1 + fields, lines), np.uint64)  # one row per word: contiguous
        self.spaces = np.empty((fields, lines), np.uint8)

    def decode(self, records: np.ndarray, digits: np.ndarray, out: list[np.ndarray]) -> bool:
        """Check each record against the layout, then its numbers into ``out``; ``False``
        (``out`` half written) when a record is out of the layout."""
        n, width = records.shape
        spaces = self.spaces[:, :n]
        np.copyto(spaces, records[:, CLASS::FIELD].T)
        if not (spaces == _SPACE).all():
            return False
        words = self.words[:, :n]
        np.copyto(words, np.ndarray((n, 1 + self.fields), dtype="<u8", buffer=records,
                                    strides=(width, FIELD)).T)
        cls, fields = words[0], words[1:]
        keep = _ONES << ((CLASS - digits.astype(np.uint64)) * np.uint64(8))  # the class's bytes
        cls &= keep
        cls |= ~keep & _ZEROS  # the bytes before the class (another line's) become "0"
        if not (_digits(cls, *_CLASS_SHAPE) and _digits(fields, *_FIELD_SHAPE)):
            return False
        cls &= _LOW_NIBBLES
        np.copyto(out[0], _joined(cls))
        fields &= _FIELD_DIGITS  # "D.DDDDDD" as the 8 digits D 0 D D D D D D
        whole = fields & np.uint64(0x0F)
        number = _joined(fields)
        whole *= np.uint64(9_000_000)
        number -= whole  # D * 10**7 -> D * 10**6
        for j in range(self.fields):
            np.divide(number[j], 1e6, out=out[1 + j])
        return True


def _digits(words: np.ndarray, high_mask: np.uint64, high: np.uint64, six: np.uint64,
            digit_mask: np.uint64, digit_high: np.uint64) -> bool:
    """Whether every word's bytes match ``high`` on ``high_mask`` and stay so after adding
    ``six`` (a byte 0x30-0x39 plus 6 is at most 0x3F; 0x3A-0x3F overflow to 0x4_)."""
    if not (np.bitwise_and(words, high_mask) == high).all():
        return False
    return bool((np.bitwise_and(words + six, digit_mask) == digit_high).all())


def _joined(words: np.ndarray) -> np.ndarray:
    """Words of 8 digit bytes (byte 0 the most significant) as their numbers, in place."""
    for factor, shift, mask in _JOIN:
        words *= factor
        words >>= shift
        if mask is not None:
            words &= mask
    return words
