"""CSV (one row per box, image columns repeated) <-> the canonical annotation frame.

An image with no box is one row whose box columns are empty; ``tags`` is a JSON array string; the
dataset's ``include_timestamps`` adds an ``exported_at`` column. Reading and writing go through Arrow's
CSV engine (multi-threaded, no per-row Python); ``parse_csv``/``serialize_csv`` are the pure halves.

>>> frame = parse_csv(b"image_id,file_name,width,height,category,x,y,w,h\\n1,a.jpg,4,3,cat,0,1,2,2\\n"
...                   b"2,b.jpg,4,3,,,,,\\n")
>>> frame[["image_id", "category", "x"]].values.tolist()
[[1, 'cat', 0.0], [2, nan, nan]]
"""
from __future__ import annotations

import datetime as _dt
import io
import os
import re
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from aion_pandas.errors import FormatError
from aion_pandas.formats._distinct import parse_distinct
from aion_pandas.formats._memory import ARROW_POOL, small_pages
from aion_pandas.formats._source import Dest, Source, open_dest, read_source
from aion_pandas.formats.schema import (CORE_COLUMNS, EXTRA_COLUMNS, categorical, null_column,
                                        validate_frame, warn_unsupported)

#: the column order of our CSV exports (present extras only), then any other columns
COLUMN_ORDER: tuple[str, ...] = (
    "dataset_id", "image_id", "file_name", "width", "height", "image_url", "item_id", "item_status",
    "description", "tags", "category", "category_id", "x", "y", "w", "h", "score", "iscrowd", "area",
    "difficult", "truncated")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.large_string(), "int64": pa.int64(), "Int64": pa.int64(), "float64": pa.float64(),
    "category": pa.string(), "object": pa.string(), "boolean": pa.bool_(),
}
_PANDAS_TYPES = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow"),
                 pa.bool_(): pd.BooleanDtype()}
_DELIMITERS = (",", ";", "\t", "|")
_CONTRACT = {**CORE_COLUMNS, **EXTRA_COLUMNS}


def sniff_delimiter(data: bytes) -> str:
    """The delimiter of a CSV, guessed from its header line (``,`` ``;`` tab or ``|``).

    >>> sniff_delimiter(b"image_id;file_name;x\\n1;a;2\\n")
    ';'
    """
    header = data[:data.find(b"\n")] if b"\n" in data[:65536] else data[:65536]
    counts = {d: header.count(d.encode()) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_csv(data: bytes, *, delimiter: str | None = None, where: str | None = None) -> pd.DataFrame:
    """A CSV export (bytes) as a canonical frame; errors name the column and line.

    >>> parse_csv(b"file_name;category;x;y;w;h\\na.jpg;dog;1;2;3;4\\n", delimiter=";").loc[0, "w"]
    np.float64(3.0)
    """
    buffer = pa.py_buffer(data)  # zero-copy: Arrow reads the bytes in C++, no Python file calls
    if bytes(data[:3]) == b"\xef\xbb\xbf":
        buffer = buffer.slice(3)
    if not bytes(data[:4096]).strip() and not bytes(data).strip():
        raise FormatError("the CSV is empty (no header line)", path=where)
    delimiter = delimiter or sniff_delimiter(bytes(data[:65536]).lstrip(b"\xef\xbb\xbf"))
    table = _read_table(buffer, delimiter, where, typed=True)
    frame = _to_frame(table, where)
    frame.index = pd.RangeIndex(2, 2 + len(frame))  # line numbers (the header is line 1)
    frame = validate_frame(frame, where=where, row_word="line")
    frame.index = pd.RangeIndex(len(frame))
    return frame


def read_csv(source: Source, *, delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV export (path, bytes or binary file) into a canonical frame.

    ``delimiter`` is sniffed from the header when not given.

    >>> frame = read_csv("export.csv")  # doctest: +SKIP
    """
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        data, name = pa.memory_map(os.fspath(source)).read_buffer(), os.fspath(source)  # no copy
    else:
        data, name = read_source(source)
    frame = parse_csv(data, delimiter=delimiter, where=name)
    frame.attrs.update({"format": "csv", "source": name})
    return frame


def serialize_csv(frame: pd.DataFrame, *, delimiter: str = ",", include_timestamps: bool = False,
                  exported_at: str | None = None) -> bytes:
    """The CSV export of a canonical frame, as bytes.

    >>> frame = parse_csv(b"file_name,category,x,y,w,h\\na.jpg,dog,1,2,3,4\\n")
    >>> print(serialize_csv(frame).decode().splitlines()[1])
    ,1,"a.jpg",,,"dog",,1,2,3,4,
    """
    buf = io.BytesIO()
    _write(frame, buf, delimiter=delimiter, include_timestamps=include_timestamps,
           exported_at=exported_at, warn=False)
    return buf.getvalue()


def write_csv(frame: pd.DataFrame, dest: Dest, *, delimiter: str = ",", include_timestamps: bool = False,
              exported_at: str | None = None) -> None:
    """Write a canonical frame as CSV to a path (atomically) or a binary file.

    ``include_timestamps`` adds an ``exported_at`` column (``exported_at`` or now, ISO 8601 UTC).

    >>> write_csv(frame, "export.csv", delimiter=";")  # doctest: +SKIP
    """
    with open_dest(dest) as out:
        _write(frame, out, delimiter=delimiter, include_timestamps=include_timestamps,
               exported_at=exported_at, warn=True)


def _write(frame: pd.DataFrame, out: Any, *, delimiter: str, include_timestamps: bool,
           exported_at: str | None, warn: bool) -> None:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise FormatError(f"the CSV delimiter must be one character other than a quote or newline, "
                          f"got {delimiter!r}")
    frame = validate_frame(frame, where="frame given to write_csv")
    if warn:
        unused = len(frame["category"].cat.categories) - frame["category"].nunique()
        warn_unsupported(frame, "csv", {"categories without boxes": (unused, "categories")})
    columns = [c for c in COLUMN_ORDER if c in frame.columns]
    columns += [c for c in frame.columns if c not in columns]
    arrays: dict[str, pa.Array] = {}
    for name in columns:
        arrays[name] = _arrow_column(frame, name)
    if include_timestamps:
        stamp = exported_at or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        arrays["exported_at"] = pa.array(np.full(len(frame), stamp, dtype=object), type=pa.string())
    table = pa.table(arrays)
    pa_csv.write_csv(table, out, pa_csv.WriteOptions(delimiter=delimiter, quoting_style="needed",
                                                     batch_size=65536))


def _arrow_column(frame: pd.DataFrame, name: str) -> pa.Array:
    col = frame[name]
    if name == "tags":
        return _tags_json(frame)
    if isinstance(col.dtype, pd.CategoricalDtype):
        return pa.array(col.astype("string").array, type=pa.string())
    if col.dtype == object:
        encode = msgspec.json.encode
        return pa.array([None if v is None or v is pd.NA else v if isinstance(v, str)
                         else encode(v).decode() for v in col], type=pa.string())
    return pa.array(col.array if hasattr(col.array, "__arrow_array__") else col.to_numpy(),
                    from_pandas=True)


def _tags_json(frame: pd.DataFrame) -> pa.Array:
    first = ~frame["image_id"].duplicated().to_numpy()
    encode = msgspec.json.encode
    per_image = [encode(t if isinstance(t, list) else []).decode() for t in frame["tags"].to_numpy()[first]]
    codes = pd.factorize(frame["image_id"])[0]
    return pa.array(per_image, type=pa.string()).take(pa.array(codes))


def _read_table(data: pa.Buffer, delimiter: str, where: str | None, *, typed: bool) -> pa.Table:
    """Arrow's CSV reader with the contract's types. First the fast parallel chunker, which assumes
    no newline inside a quoted value; Arrow notices when that is wrong ("out of sync") and raises,
    and then the file is read again allowing such newlines, where real errors are reported."""
    types = {name: _ARROW_TYPES[dtype] for name, dtype in {**CORE_COLUMNS, **EXTRA_COLUMNS}.items()}
    types["category"] = pa.dictionary(pa.int32(), pa.string())  # categorical straight from the parser
    convert = pa_csv.ConvertOptions(
        column_types=types if typed else {}, strings_can_be_null=True, quoted_strings_can_be_null=False,
        null_values=[""], true_values=["true", "True", "1"], false_values=["false", "False", "0"],
        auto_dict_encode=False)
    try:
        return pa_csv.read_csv(pa.BufferReader(data), convert_options=convert,
                               parse_options=pa_csv.ParseOptions(delimiter=delimiter),
                               memory_pool=ARROW_POOL)
    except pa.ArrowInvalid:
        pass
    try:
        return pa_csv.read_csv(pa.BufferReader(data), convert_options=convert,
                               read_options=pa_csv.ReadOptions(use_threads=False),
                               parse_options=pa_csv.ParseOptions(delimiter=delimiter,
                                                                 newlines_in_values=True),
                               memory_pool=ARROW_POOL)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if typed and "conversion error" in message:
            return _read_table(data, delimiter, where, typed=False)  # validate names the row
        line = _line_of(message)
        raise FormatError(f"malformed CSV: {message.split(':', 1)[-1].strip()}", path=where,
                          line=line) from None


def _line_of(message: str) -> int | None:
    """The file's line from Arrow's parse error ("Row #3: Expected 2 columns", counting the
    header as row 1)."""
    found = re.search(r"\bRow #(\d+)", message)
    return int(found.group(1)) if found else None


def _to_frame(table: pa.Table, where: str | None) -> pd.DataFrame:
    """One pandas array per column straight from Arrow's buffers, put together without a copy (no
    2-D block of the floats, no copy of an array set into a frame)."""
    names = table.column_names
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise FormatError(f"the header names the column {twice!r} more than once", path=where, line=1)
    arrays: dict[str, Any] = {name: _convert(name, column) for name, column in zip(names, table.columns)}
    rest = [name for name in names if arrays[name] is None]
    if rest:  # anything else (timestamps, an image_id with gaps, ...) as Arrow converts it
        other = table.select(rest).to_pandas(types_mapper=_pandas_type, self_destruct=False)
        arrays.update({name: other[name] for name in rest})
    if "category" in arrays:
        arrays["category"] = _categorical(table.column("category"), arrays.get("category_id"))
    return pd.DataFrame(arrays, copy=False)


def _convert(name: str, column: pa.ChunkedArray) -> Any:
    """The pandas array of a column, or None to leave it to Arrow's own conversion."""
    kind = column.type
    if name == "category":
        return column  # built once the class ids are known
    if name == "tags":
        return _parse_tags(column)
    if pa.types.is_float64(kind):
        return _floats(column)
    if pa.types.is_null(kind) and _CONTRACT.get(name) in ("float64", "Int64", "boolean"):
        return null_column(_CONTRACT[name], len(column))  # an empty column of an untyped read
    if pa.types.is_integer(kind):
        if name != "image_id":
            return _nullable_int(column)
        return _writable(column.to_numpy()) if pa.types.is_int64(kind) and not column.null_count else None
    dtype = _pandas_type(kind)
    return dtype.__from_arrow__(column) if dtype is not None else None


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """A float64 column (nulls NaN) copied once into 4 KB pages."""
    return _paged(column, np.float64, lambda chunk: chunk.to_numpy(zero_copy_only=False))


def _paged(column: pa.ChunkedArray, dtype: Any, values_of: Any) -> np.ndarray:
    """``values_of(chunk)`` of every chunk copied once, in order, into one array of 4 KB pages
    (see formats/_memory.py)."""
    values, start = small_pages(len(column), dtype), 0
    for chunk in column.chunks:
        if len(chunk):
            values[start:start + len(chunk)] = values_of(chunk)
            start += len(chunk)
    return values


def _writable(values: np.ndarray) -> np.ndarray:
    """``values`` as an array the frame's user can assign into: Arrow lends a single chunk without
    nulls read-only (several chunks are copied into a new array anyway)."""
    return values if values.flags.writeable else values.copy()


def _pandas_type(kind: pa.DataType) -> Any:
    return pd.StringDtype("pyarrow") if pa.types.is_null(kind) else _PANDAS_TYPES.get(kind)


def _nullable_int(column: pa.ChunkedArray) -> pd.arrays.IntegerArray:
    """Nullable ints from Arrow's values and validity, the values copied once."""
    if not pa.types.is_int64(column.type):
        column = column.cast(pa.int64())
    values = _paged(column, np.int64, lambda chunk: np.frombuffer(
        chunk.buffers()[1], np.int64, len(chunk), chunk.offset * 8))  # nulls hold anything: zeroed below
    mask = column.is_null().to_numpy()
    values[mask] = 0
    return pd.arrays.IntegerArray(values, mask)


def _categorical(column: pa.ChunkedArray, class_ids: Any) -> pd.Categorical:
    """The categorical, its categories ordered as the other readers order them: by class id when
    the file has ids (the id of a name's first row that has one), else by name."""
    encoded = column.unify_dictionaries() if pa.types.is_dictionary(column.type) else \
        pc.dictionary_encode(column.cast(pa.string()))
    cats = (encoded.chunks[0].dictionary if encoded.num_chunks else pa.array([], pa.string()))
    cats = cats.cast(pa.string()).to_pylist()
    codes = pc.fill_null(pa.chunked_array([c.indices for c in encoded.chunks], pa.int32()), -1).to_numpy()
    ids = np.full(len(cats), np.inf)
    if class_ids is not None and len(cats):
        _first_class_ids(codes, pd.Series(class_ids, copy=False), ids)
    order = sorted(range(len(cats)), key=lambda i: (ids[i], cats[i]))
    lookup = np.empty(len(cats) + 1, dtype=np.int8 if len(cats) < 127 else np.int32)
    lookup[order] = np.arange(len(cats))
    lookup[-1] = -1  # a code of -1 (no box) stays -1
    return categorical(lookup.take(codes), [cats[i] for i in order])


def _first_class_ids(codes: np.ndarray, class_ids: pd.Series, ids: np.ndarray) -> None:
    """Fill ``ids[code]`` with the class id of the code's first row that has one. Looked for in
    growing blocks of rows: every name usually shows up in the first ones. Ids that are not numbers
    are left alone (validate_frame names their line)."""
    pending = np.ones(len(ids), dtype=bool)
    start, step = 0, 4096
    while start < len(codes) and pending.any():
        block = codes[start:start + step]
        try:
            values = class_ids.iloc[start:start + step].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):
            return
        known = (block >= 0) & ~np.isnan(values)
        found, first = np.unique(block[known], return_index=True)
        new = pending[found]
        ids[found[new]] = values[known][first[new]]
        pending[found] = False
        start, step = start + step, step * 2


def _parse_tags(chunked: pa.ChunkedArray) -> np.ndarray:
    values, codes = parse_distinct(chunked, _tags_value)
    return values[codes]


def _tags_value(text: str) -> Any:
    """A JSON array's items as str; any other text stays as it is (validate_frame names the row)."""
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text
    return [str(v) for v in value] if isinstance(value, list) else value
