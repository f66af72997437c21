"""Text columns read with Arrow, for the readers: numbers cast and JSON tags parsed (each distinct
text once), the first refused text handed to the caller's ``fail(position, reason)``, which raises
naming the file, member and line.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def float_column(texts: pa.Array, fail: Callable[[int, str], Any]) -> np.ndarray:
    """``texts`` as float64 (nulls: NaN); the first text Arrow refuses goes to ``fail(position,
    reason)``, which raises.

    >>> def fail(at, reason):
    ...     raise ValueError(f"value {at}: {reason}")
    >>> float_column(pa.array(["1", None, "2.5"]), fail).tolist()
    [1.0, nan, 2.5]
    >>> float_column(pa.array(["1", "one"]), fail)
    Traceback (most recent call last):
    ...
    ValueError: value 1: 'one' is not a number
    """
    try:
        return pc.cast(texts, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid as exc:
        found = re.search(r"Failed to parse string: '(.*)' as a scalar", str(exc), re.DOTALL)
        at = max(pc.index(texts, found.group(1)).as_py() if found else 0, 0)
        fail(at, f"{texts[at].as_py()!r} is not a number")
        raise  # pragma: no cover - fail raised


def tags_from_json(texts: pa.Array | pa.ChunkedArray, fail: Callable[[int, str], Any]) -> np.ndarray:
    """The ``tags`` column from JSON texts: each array's items as str (null or ``""``: no tags), each
    distinct text parsed once (equal texts share one list); the first text that is not a JSON array
    goes to ``fail(position, reason)``, which raises.

    >>> tags_from_json(pa.array(['["a", 1]', None, '["a", 1]']), print).tolist()
    [['a', '1'], [], ['a', '1']]
    >>> _ = tags_from_json(pa.array(['[]', "x"]), print)
    1 tags must be a JSON array, got 'x'
    """
    chunked = pa.chunked_array([texts]) if isinstance(texts, pa.Array) else texts
    encoded = pc.dictionary_encode(chunked.cast(pa.string())).combine_chunks()
    distinct = encoded.dictionary.to_pylist()
    values = np.empty(len(distinct) + 1, dtype=object)
    for k, text in enumerate(distinct):
        values[k] = tags_of(text)
    values[-1] = []
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    bad = [k for k in range(len(distinct)) if values[k] is None]
    if bad:  # codes number the texts in order of first appearance: the first bad one comes first
        fail(int(np.argmax(codes == bad[0])), f"tags must be a JSON array, got {distinct[bad[0]][:60]!r}")
    return values[codes]


def tags_of(text: str) -> list[str] | None:
    """A JSON array's items as str (``""``: no tags); None for any other text.

    >>> tags_of('["a", 2]'), tags_of(""), tags_of("x")
    (['a', '2'], [], None)
    """
    if text == "":
        return []
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: arrays nested past Python's limit
        return None
    return [str(v) for v in value] if isinstance(value, list) else None
