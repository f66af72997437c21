"""Text columns read with Arrow: each distinct value parsed once, numbers cast with the refused
text found.

>>> import pyarrow as pa
>>> values, codes = parse_distinct(pa.array(['["a"]', None, '["a"]']), lambda t: t.upper())
>>> values[codes].tolist()
['["A"]', [], '["A"]']
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def parse_distinct(texts: pa.Array | pa.ChunkedArray,
                   parse: Callable[[str], Any]) -> tuple[np.ndarray, np.ndarray]:
    """``parse(text)`` of each distinct text (the last slot: ``[]``, for nulls) and each row's index
    into them: ``values[codes]`` is the parsed column, equal texts sharing one object.
    """
    chunked = pa.chunked_array([texts]) if isinstance(texts, pa.Array) else texts
    encoded = pc.dictionary_encode(chunked.cast(pa.string())).combine_chunks()
    values = np.empty(len(encoded.dictionary) + 1, dtype=object)
    for i, text in enumerate(encoded.dictionary.to_pylist()):
        values[i] = parse(text)
    values[-1] = []
    return values, encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)


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
