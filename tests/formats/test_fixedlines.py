"""The fixed-layout YOLO line decoder against a regular expression and Python's own parse."""
from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest

from aion_pandas.errors import FormatError
from aion_pandas.formats import _fixedlines
from aion_pandas.formats._fixedlines import decode_fixed, fixed_fields
from aion_pandas.formats._yololines import parse_lines
from aion_pandas.formats.yolo import read_yolo, write_yolo

from .helpers import write_quietly, zip_bytes

_LAYOUT = re.compile(rb"[0-9]{1,8}( [0-9]\.[0-9]{6}){4,5}")


def _expected(text: bytes) -> list[list[float]] | None:
    """What the decoder must give: each line split and parsed by Python, or ``None`` when a
    line is not in the layout or the lines differ in field count."""
    lines = text.split(b"\n")[:-1]
    if not all(_LAYOUT.fullmatch(line) for line in lines):
        return None
    fields = [line.split(b" ") for line in lines]
    if len({len(f) for f in fields}) > 1:
        return None
    return [[float(v) for v in column] for column in zip(*fields)] if fields else None


def _decoded(text: bytes, n_fields: int, threads: int = 2) -> list[list[float]] | None:
    newlines = np.flatnonzero(np.frombuffer(text, np.uint8) == 10)
    values = decode_fixed(memoryview(text), newlines, n_fields, threads=threads)
    return None if values is None else [v.tolist() for v in values]


def _line(rng: np.random.Generator, n_fields: int) -> bytes:
    digits = int(rng.integers(1, 9))
    cls = str(int(rng.integers(10 ** (digits - 1) if digits > 1 else 0, 10 ** digits)))
    fields = [f"{int(rng.integers(0, 10))}.{int(rng.integers(0, 10**6)):06d}"
              for _ in range(n_fields - 1)]
    return " ".join([cls, *fields]).encode() + b"\n"


@pytest.mark.parametrize("n_fields", [5, 6])
@pytest.mark.parametrize("threads", [1, 2])
def test_lines_in_the_layout_decode_to_pythons_parse(n_fields, threads, monkeypatch):
    monkeypatch.setattr(_fixedlines, "_BLOCK", 64)  # many blocks, each thread several
    rng = np.random.default_rng(n_fields)
    text = b"".join(_line(rng, n_fields) for _ in range(1000))
    text += b"0 0.000000 9.999999 1.000000 0.000001" + b" 0.500000" * (n_fields - 5) + b"\n"
    text += b"99999999 " + b" ".join([b"9.999999"] * (n_fields - 1)) + b"\n"
    assert _decoded(text, n_fields, threads) == _expected(text)


def test_one_short_line_decodes_though_its_record_starts_before_the_text():
    assert _decoded(b"7 0.100000 0.200000 0.300000 0.400000\n", 5) == [[7.0], [0.1], [0.2],
                                                                      [0.3], [0.4]]


_GOOD = b"12 0.512345 0.250000 0.125000 1.000000 0.900000\n"


@pytest.mark.parametrize("at", range(len(_GOOD) - 1))
def test_any_byte_out_of_the_layout_is_refused_not_guessed(at):
    # every position of a line, changed to bytes next to what belongs there and to separators
    rng = np.random.default_rng(at)
    before = b"".join(_line(rng, 6) for _ in range(40))
    after = b"".join(_line(rng, 6) for _ in range(40))
    for byte in b" .\t\r-+/:0e9\x00\xb0":
        line = _GOOD[:at] + bytes([byte]) + _GOOD[at + 1:]
        text = before + line + after
        assert _decoded(text, 6) == _expected(text), (at, bytes([byte]), line)


@pytest.mark.parametrize("line", [
    b"1 0.500000 0.500000 0.500000\n",                    # a field fewer
    b"1 0.500000 0.500000 0.500000 0.500000 0.5 0.5\n",   # more
    b"1 0.50000 0.500000 0.500000 0.5000000\n",           # same length, fields shifted
    b"123456789 0.500000 0.500000 0.500000 0.500000\n",   # a class of 9 digits
    b" 0.500000 0.500000 0.500000 0.500000\n",            # no class
    b"\n",                                                # a blank line
    b"1 0.500000 0.500000 0.500000 0.500000 0.900000\n",  # a score on one line only
])
def test_lines_of_another_shape_are_refused(line):
    text = b"3 0.100000 0.100000 0.100000 0.100000\n" * 5 + line
    assert _decoded(text, 5) is None


def test_no_lines_decode_to_empty_columns():
    assert _decoded(b"", 5) == [[], [], [], [], []]


@pytest.mark.parametrize("line, fields", [
    (b"0 0.500000 0.500000 0.200000 0.400000", 5),
    (b"17 0.500000 0.500000 0.200000 0.400000 0.950000", 6),
    (b"0 0.5 0.5 0.2 0.4", None),
    (b"0 0.500000 0.500000 0.200000", None),
    (b"0 0.500000 0.500000 0.200000 0.400000 ", None),
    (b"-1 0.500000 0.500000 0.200000 0.400000", None),
    (b"0 0,500000 0.500000 0.200000 0.400000", None),
])
def test_fixed_fields_reads_the_first_line(line, fields):
    assert fixed_fields(line) == fields


def test_a_class_past_the_limit_in_the_layout_is_named():
    text = "0 0.500000 0.500000 0.200000 0.400000\n99999999 0.500000 0.500000 0.200000 0.400000\n"
    with pytest.raises(FormatError, match=r"labels/a.txt: line 2: the class index is past"):
        read_yolo(zip_bytes({"labels/a.txt": text}))


def test_files_mixing_layouts_read_like_python_parses_them():
    fixed = "0 0.500000 0.500000 0.200000 0.400000\n"
    members = {f"labels/{i}.txt": fixed * 3 for i in range(50)}
    members["labels/30.txt"] = "1 0.25 0.5 0.1 0.2\n"  # %g, as Ultralytics writes
    members["classes.txt"] = "p\nq\n"
    members["manifest.csv"] = "image_id,file_name,label_file,width,height\n" + "".join(
        f"{i},{i}.jpg,labels/{i}.txt,200,100\n" for i in range(50))
    frame = read_yolo(zip_bytes(members, zipfile.ZIP_STORED))
    assert len(frame) == 49 * 3 + 1
    odd = frame[frame["file_name"] == "30.jpg"]
    assert odd["category"].tolist() == ["q"]
    assert odd[["x", "y", "w", "h"]].iloc[0].tolist() == pytest.approx([40.0, 40.0, 20.0, 20.0])
    assert frame.loc[frame["file_name"] != "30.jpg", "w"].eq(40.0).all()


def test_our_exports_take_the_fixed_layout(sample_frame):
    with zipfile.ZipFile(io.BytesIO(write_quietly(write_yolo, sample_frame))) as archive:
        texts = [archive.read(n) for n in archive.namelist() if n.startswith("labels/")]
    lines = b"".join(texts).splitlines()
    assert lines and all(_LAYOUT.fullmatch(line) for line in lines)


def test_parse_lines_takes_the_decoder_for_the_layout_and_arrow_for_the_rest():
    # seen from outside: the decoder gives one chunk, Arrow one per 1 MB block of text
    fixed = b"3 0.500000 0.250000 0.125000 1.000000\n" * 60_000  # 2.3 MB
    short = b"3 0.5 0.25 0.125 1\n" * 120_000                      # 2.3 MB, the same boxes
    decoded, parsed = (parse_lines(text, [len(text)], ["labels/a.txt"], "x.zip")
                       for text in (fixed, short))
    assert len(decoded.chunks) == 1 and len(parsed.chunks) > 1
    assert decoded.chunks[0][1][:3].tolist() == parsed.chunks[0][1][:3].tolist() == [0.5] * 3
