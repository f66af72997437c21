"""Two annotation frames side by side: boxes and share of boxes per class, the difference, and what
only one side has.

>>> def frame(cats):
...     return pd.DataFrame({"image_id": range(len(cats)), "file_name": [f"{i}.jpg" for i in range(len(cats))],
...                          "width": 10, "height": 10, "category": pd.Categorical(cats),
...                          "x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0})
>>> compare(frame(["cat", "cat", "dog"]), frame(["cat", "owl"]), names=("train", "val"))
          boxes_train  boxes_val  share_train  share_val  share_diff   only
category                                                                   
cat                 2          1     0.666667        0.5   -0.166667   <NA>
dog                 1          0     0.333333        0.0   -0.333333  train
owl                 0          1     0.000000        0.5    0.500000    val
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._frame import columns


def _side(frame: pd.DataFrame, what: str) -> tuple[pd.Series, int]:
    """Boxes per class (every declared class) and the number of images of one frame."""
    c = columns(frame, what)
    boxed = c.has_box & (c.category >= 0)
    return pd.Series(np.bincount(c.category[boxed], minlength=len(c.categories)), index=c.categories), c.n_images


def compare(a: pd.DataFrame, b: pd.DataFrame, *, names: tuple[str, str] = ("a", "b")) -> pd.DataFrame:
    """Per class (every class either side declares, ``a``'s order first): ``boxes_<name>``,
    ``share_<name>`` (of that side's boxes), ``share_diff`` (second minus first) and ``only``: the
    side that has boxes of the class when the other has none (``<NA>`` when both or neither do).
    ``frame.attrs`` carries each side's ``images`` and ``boxes`` and ``shared_file_names``: file names
    found on both sides (an image in train and in val).

    >>> compare(train, val, names=("train", "val")).query("only.notna()")   # doctest: +SKIP
    """
    first, second = names
    if first == second:
        raise ValueError(f"compare: names must differ, got {names!r}")
    (ca, images_a), (cb, images_b) = _side(a, "compare (first frame)"), _side(b, "compare (second frame)")
    classes = list(dict.fromkeys([*ca.index, *cb.index]))
    na, nb = ca.reindex(classes, fill_value=0), cb.reindex(classes, fill_value=0)
    ta, tb = int(na.sum()), int(nb.sum())
    sa = na / ta if ta else na * 0.0
    sb = nb / tb if tb else nb * 0.0
    only = np.where((na > 0) & (nb == 0), first, np.where((nb > 0) & (na == 0), second, None))
    out = pd.DataFrame({f"boxes_{first}": na.to_numpy(), f"boxes_{second}": nb.to_numpy(),
                        f"share_{first}": sa.to_numpy(dtype=float), f"share_{second}": sb.to_numpy(dtype=float),
                        "share_diff": (sb - sa).to_numpy(dtype=float),
                        "only": pd.array(only, dtype="string")},
                       index=pd.CategoricalIndex(classes, categories=classes, name="category"))
    names_a = pd.Index(a["file_name"].dropna().unique())
    shared = names_a.intersection(pd.Index(b["file_name"].dropna().unique()))
    out.attrs = {"images": {first: images_a, second: images_b},
                 "boxes": {first: ta, second: tb}, "shared_file_names": [str(s) for s in shared]}
    return out
