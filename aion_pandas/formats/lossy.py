"""What a target format cannot carry: counted per column and reported as ONE warning."""
from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Mapping

import pandas as pd

#: columns that describe a box (a count of them is in boxes); the others describe an image
BOX_LEVEL: frozenset[str] = frozenset({"category", "category_id", "x", "y", "w", "h", "score",
                                       "iscrowd", "area", "difficult", "truncated"})


class LossyConversionWarning(UserWarning):
    """A writer's target format cannot carry some of the frame's data; the message lists it with counts."""


def unsupported_counts(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Per column, how many boxes or images have a value a format would lose.

    >>> from aion_pandas.formats.schema import validate_frame
    >>> f = validate_frame(pd.DataFrame({"file_name": ["a", "a"], "category": ["c", "c"],
    ...     "x": [0, 0], "y": [0, 0], "w": [1, 1], "h": [1, 1], "score": [0.5, None]}))
    >>> unsupported_counts(f, ["score", "tags"])
    {'score': (1, 'boxes')}
    """
    counts: dict[str, tuple[int, str]] = {}
    for name in [c for c in columns if c in frame.columns]:
        col = frame[name]
        if name == "area":  # an area other than w * h
            n = int((col.notna() & ((col - frame["w"] * frame["h"]).abs() > 1e-6)).sum())
        elif name in BOX_LEVEL:  # a flag that is set, another value that is there
            n = int(col.sum()) if str(col.dtype) in ("boolean", "bool") else int(col.notna().sum())
        else:  # images with a value
            if col.dtype == object:
                has = col.map(lambda v: bool(v) if isinstance(v, (list, tuple)) else v is not None
                              and v is not pd.NA and v == v, na_action=None).astype(bool)
            else:
                has = col.notna() & (col.astype("string") != "").fillna(False)
            n = int(frame.loc[has.to_numpy(), "image_id"].nunique())
        if n:
            counts[name] = (n, "boxes" if name in BOX_LEVEL else "images")
    return counts


def warn_unsupported(frame: pd.DataFrame, target_format: str,
                     counts: Mapping[str, tuple[int, str]] | Iterable[str]) -> dict[str, tuple[int, str]]:
    """Emit ONE :class:`LossyConversionWarning` listing what ``target_format`` cannot carry, and
    return the counts: of the columns it drops (counted here), or given as name -> ``(count, unit)``.
    Nothing is emitted when every count is zero.

    >>> from aion_pandas.formats.schema import validate_frame
    >>> f = validate_frame(pd.DataFrame({"file_name": ["a"], "category": ["c"], "x": [0],
    ...     "y": [0], "w": [1], "h": [1], "score": [0.9]}))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = warn_unsupported(f, "pascal_voc", ["score"])
    >>> print(caught[0].message)
    pascal_voc cannot carry: score (1 box)
    """
    found = {name: (int(n), unit) for name, (n, unit) in counts.items() if n} \
        if isinstance(counts, Mapping) else unsupported_counts(frame, counts)
    if found:
        parts = [f"{name} ({n:,} {_plural(unit, n)})" for name, (n, unit) in found.items()]
        warnings.warn(f"{target_format} cannot carry: " + ", ".join(parts), LossyConversionWarning,
                      stacklevel=_caller_level())
    return found


def _caller_level() -> int:
    """The stacklevel of the user's call (the first frame outside this package)."""
    level, frame = 1, sys._getframe(1)
    package = __name__.rsplit(".", 1)[0]
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _plural(unit: str, n: int) -> str:
    singular = {"boxes": "box", "images": "image", "categories": "category"}.get(unit, unit)
    return singular if n == 1 else unit


class UnplacedAnnotationWarning(UserWarning):
    """A dataset holds annotations the frame has no place for: counted and named, not read."""


class MissingImageSizeWarning(UserWarning):
    """Boxes or images without an image size (no manifest, no readable image)."""
