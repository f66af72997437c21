"""CSV (one row per box, image columns repeated) <-> the canonical annotation frame.

An image with no box is one row with empty box columns; ``tags`` is a JSON array. Both halves go
through Arrow's CSV engine, whose errors become a FormatError naming the column and line.

>>> frame = parse_csv(b"image_id,file_name,width,height,category,x,y,w,h\\n1,a.jpg,4,3,cat,0,1,2,2\\n"
...                   b"2,b.jpg,4,3,,,,,\\n")
>>> frame[["image_id", "category", "x"]].values.tolist()
[[1, 'cat', 0.0], [2, nan, nan]]
"""
from __future__ import annotations

import datetime as _dt
import io
import re
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from aion_pandas.errors import FormatError
from aion_pandas.formats._source import Dest, Source, open_dest, read_source
from aion_pandas.formats.schema import (CORE_COLUMNS, EXTRA_COLUMNS, categorical, code_dtype, null_column,
                                        validate_frame, warn_unsupported)

#: the column order of our CSV exports (present extras only), then any other columns
COLUMN_ORDER: tuple[str, ...] = (
    "dataset_id", "image_id", "file_name", "width", "height", "image_url", "item_id", "item_status",
    "description", "tags", "category", "category_id", "x", "y", "w", "h", "score", "iscrowd", "area",
    "difficult", "truncated")

_DELIMITERS = (",", ";", "\t", "|")
_CONTRACT = {**CORE_COLUMNS, **EXTRA_COLUMNS}


def sniff_delimiter(data: bytes) -> str:
    """The delimiter of a CSV, guessed from its header line (``,`` ``;`` tab or ``|``).

    >>> sniff_delimiter(b"image_id;file_name;x\\n1;a;2\\n")
    ';'
    """
    header = data[:65536].split(b"\n", 1)[0]
    best = max(_DELIMITERS, key=lambda d: header.count(d.encode()))
    return best if best.encode() in header else ","


def parse_csv(data: bytes, *, delimiter: str | None = None, where: str | None = None) -> pd.DataFrame:
    """A CSV export (bytes) as a canonical frame; errors name the column and line.

    >>> parse_csv(b"file_name;category;x;y;w;h\\na.jpg;dog;1;2;3;4\\n", delimiter=";").loc[0, "w"]
    np.float64(3.0)
    """
    if not bytes(data[:4096]).strip() and not bytes(data).strip():
        raise FormatError("the CSV is empty (no header line)", path=where)
    delimiter = delimiter or sniff_delimiter(bytes(data[:65536]).lstrip(b"\xef\xbb\xbf"))
    table = _read_table(pa.py_buffer(data), delimiter, where)  # zero-copy (Arrow skips a BOM itself)
    frame = _to_frame(table, where)
    frame.index = pd.RangeIndex(2, 2 + len(frame))  # line numbers (the header is line 1)
    frame = validate_frame(frame, where=where, row_word="line")
    frame.index = pd.RangeIndex(len(frame))
    return frame


def read_csv(source: Source, *, delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV export (path, bytes or binary file) into a canonical frame; ``delimiter`` is
    sniffed from the header when not given.

    >>> frame = read_csv("export.csv")  # doctest: +SKIP
    """
    data, name = read_source(source)
    frame = parse_csv(data, delimiter=delimiter, where=name)
    frame.attrs.update({"format": "csv", "source": name})
    return frame


def serialize_csv(frame: pd.DataFrame, *, delimiter: str = ",", include_timestamps: bool = False,
                  exported_at: str | None = None) -> bytes:
    """The CSV export of a canonical frame, as bytes (what :func:`write_csv` writes).

    >>> frame = parse_csv(b"file_name,category,x,y,w,h\\na.jpg,dog,1,2,3,4\\n")
    >>> print(serialize_csv(frame).decode().splitlines()[1])
    ,1,"a.jpg",,,"dog",,1,2,3,4,
    """
    buf = io.BytesIO()
    write_csv(frame, buf, delimiter=delimiter, include_timestamps=include_timestamps, exported_at=exported_at)
    return buf.getvalue()


def write_csv(frame: pd.DataFrame, dest: Dest, *, delimiter: str = ",", include_timestamps: bool = False,
              exported_at: str | None = None) -> None:
    """Write a canonical frame as CSV to a path (atomically) or a binary file.

    ``include_timestamps`` adds an ``exported_at`` column (``exported_at`` or now, ISO 8601 UTC).

    >>> write_csv(frame, "export.csv", delimiter=";")  # doctest: +SKIP
    """
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise FormatError(f"the CSV delimiter must be one character other than a quote or newline, "
                          f"got {delimiter!r}")
    frame = validate_frame(frame, where="frame given to write_csv")
    unused = len(frame["category"].cat.categories) - frame["category"].nunique()
    warn_unsupported(frame, "csv", {"categories without boxes": (unused, "categories")})
    columns = [c for c in COLUMN_ORDER if c in frame.columns]
    columns += [c for c in frame.columns if c not in columns]
    arrays = {name: _arrow_column(frame, name) for name in columns}
    if include_timestamps:
        stamp = exported_at or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        arrays["exported_at"] = pa.array(np.full(len(frame), stamp, dtype=object), type=pa.string())
    with open_dest(dest) as out:
        pa_csv.write_csv(pa.table(arrays), out, pa_csv.WriteOptions(
            delimiter=delimiter, quoting_style="needed", batch_size=65536))


def _arrow_column(frame: pd.DataFrame, name: str) -> pa.Array:
    col = frame[name]
    if name == "tags":  # each image's tags encoded once
        first = ~frame["image_id"].duplicated().to_numpy()
        per_image = [msgspec.json.encode(t).decode() for t in col.to_numpy()[first]]  # lists (validate_frame)
        return pa.array(per_image, type=pa.string()).take(pa.array(pd.factorize(frame["image_id"])[0]))
    if isinstance(col.dtype, pd.CategoricalDtype):
        return pa.array(col.astype("string").array, type=pa.string())
    if col.dtype == object:
        return pa.array([None if v is None or v is pd.NA else v if isinstance(v, str)
                         else msgspec.json.encode(v).decode() for v in col], type=pa.string())
    return pa.array(col, from_pandas=True)


def _read_table(data: pa.Buffer, delimiter: str, where: str | None) -> pa.Table:
    """Arrow's CSV reader with its threads: text columns as strings, the rest inferred (a column with
    a value that fits no number becomes text, whose first bad value validate_frame names by line)."""
    convert = pa_csv.ConvertOptions(
        column_types=_READ_TYPES, strings_can_be_null=True, quoted_strings_can_be_null=False,
        null_values=[""], true_values=["true", "True", "TRUE"], false_values=["false", "False", "FALSE"])
    bad_rows: list[str] = []  # threaded errors carry no row number: the row's text finds its line

    def note_bad_row(row: Any) -> str:  # noted, then Arrow raises
        bad_rows.append(row.text)
        return "error"

    try:
        table = pa_csv.read_csv(pa.BufferReader(data), convert_options=convert, memory_pool=_POOL,
                                parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                                                  invalid_row_handler=note_bad_row))
    except pa.ArrowInvalid as exc:
        raise _format_error(str(exc), bytes(data), bad_rows, where) from None
    if pa.binary() in table.schema.types:  # an inferred column of text that is not UTF-8: refused as
        raise _format_error("invalid UTF8", bytes(data), [], where)  # Arrow refuses a typed one
    return table


# malloc, not Arrow's default mimalloc, for the parser's columns: fewer page faults on a first read
_POOL = pa.system_memory_pool()
_STRINGS = ("dataset_id", "file_name", "description", "tags", "image_url", "item_id", "item_status")
_READ_TYPES: dict[str, pa.DataType] = {name: pa.large_string() for name in _STRINGS} | {
    "category": pa.dictionary(pa.int32(), pa.string())}  # categorical straight from the parser


def _format_error(message: str, data: bytes, bad_rows: list[str], where: str | None) -> FormatError:
    """Arrow's error as a FormatError naming the line when found (the header is line 1): the first line
    that is the bad row's text, whole (a row not split into the header's columns), or the file's first
    non-UTF-8 byte's."""
    reason = message.split(": ", 1)[-1] if message.startswith("CSV parse error") else message
    at = None
    if bad_rows:
        found = re.search(rb"(?m)^" + re.escape(bad_rows[0].encode()) + rb"\r?$", data)
        at = found.start() if found else None
    elif "invalid UTF8" in message:
        try:
            data.decode()
        except UnicodeDecodeError as exc:
            at = exc.start
            reason = f"{data[exc.start:exc.start + 1]!r} at byte {exc.start} is not UTF-8"
    line = None if at is None else data.count(b"\n", 0, at) + 1
    return FormatError(f"malformed CSV: {reason}", path=where, line=line)


def _to_frame(table: pa.Table, where: str | None) -> pd.DataFrame:
    """One pandas array per column from Arrow's, text without a copy (validate_frame coerces the dtypes)."""
    try:
        names = table.column_names
    except UnicodeDecodeError:  # Arrow keeps a header name's bytes as they are
        raise FormatError("the header is not UTF-8 text", path=where, line=1) from None
    if padded := [name for name in names if name != name.strip() and name.strip() in _CONTRACT]:  # "x, y"
        raise FormatError(f"the header's {padded[0]!r} has blanks around a column's name", path=where, line=1)
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise FormatError(f"the header names the column {twice!r} more than once", path=where, line=1)
    arrays: dict[str, Any] = {}
    for name, column in zip(names, table.columns):
        if pa.types.is_null(column.type) and name in _CONTRACT:
            arrays[name] = null_column(_CONTRACT[name], len(column))  # a column without a value
        elif pa.types.is_floating(column.type):
            arrays[name] = np.require(column.to_numpy(), requirements="W")  # a copy if Arrow's is read-only
        else:  # (the category column is built once the class ids are known)
            arrays[name] = column if name == "category" else column.to_pandas(types_mapper=_PANDAS_TYPES.get)
    if "category" in arrays:
        arrays["category"] = _categorical(table.column("category"), arrays.get("category_id"))
    return pd.DataFrame(arrays, copy=False)


_PANDAS_TYPES: dict[pa.DataType, Any] = {
    pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow"),
    pa.null(): pd.StringDtype("pyarrow"), pa.bool_(): pd.BooleanDtype(), pa.int64(): pd.Int64Dtype()}


def _categorical(column: pa.ChunkedArray, class_ids: Any) -> pd.Categorical:
    """The ``category`` column (read as a dictionary), its categories ordered by class id when the
    file has ids (a name's first one), else by name, as the other readers order them; ids that are
    not numbers are left for validate_frame to name."""
    encoded = column.unify_dictionaries()
    cats = encoded.chunks[0].dictionary.to_pylist() if encoded.num_chunks else []
    codes = pc.fill_null(pa.chunked_array([c.indices for c in encoded.chunks], pa.int32()), -1).to_numpy()
    ids = np.full(len(cats), np.inf)  # inf: no id
    try:
        values = None if class_ids is None else \
            pd.Series(class_ids, copy=False).to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError):
        values = None
    if values is not None:
        rows = np.flatnonzero((codes >= 0) & ~np.isnan(values))
        first = np.full(len(cats), len(codes))
        np.minimum.at(first, codes[rows], rows)  # each name's first row with an id
        found = first < len(codes)
        ids[found] = values[first[found]]
    order = sorted(range(len(cats)), key=lambda i: (ids[i], cats[i]))
    lookup = np.append(np.argsort(order), -1).astype(code_dtype(len(cats)))  # a code of -1 (no box) stays -1
    return categorical(lookup.take(codes), [cats[i] for i in order])
