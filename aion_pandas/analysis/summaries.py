"""What a canonical annotation frame holds: images, boxes, classes, boxes per image, box sizes.

>>> frame = pd.DataFrame({"image_id": [1, 1, 2], "file_name": ["a.jpg", "a.jpg", "b.jpg"],
...                       "width": [100, 100, 50], "height": [100, 100, 50],
...                       "category": pd.Categorical(["cat", "dog", None], categories=["cat", "dog", "owl"]),
...                       "x": [0.0, 10.0, None], "y": [0.0, 10.0, None], "w": [20.0, 50.0, None],
...                       "h": [10.0, 50.0, None]})
>>> s = summary(frame)
>>> s
Summary(2 images, 2 boxes, 1 image without boxes, 3 classes; boxes per image: mean 1, median 1, max 2)
>>> s.classes["boxes"].tolist(), s.classes["share"].tolist()
([1, 1, 0], [0.5, 0.5, 0.0])
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._frame import Columns, columns

#: the quantiles ``Summary.sizes`` reports
QUANTILES: tuple[float, ...] = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
#: the measures ``Summary.sizes`` reports (rows): pixels, and relative to the image
MEASURES: tuple[str, ...] = ("area (px²)", "width (px)", "height (px)", "aspect (w/h)",
                             "area (share of image)", "width (share of image)", "height (share of image)")


@dataclass(frozen=True)
class Summary:
    """The numbers of :func:`summary`; ``to_frame()`` lays them all out in one frame."""

    images: int
    boxes: int
    images_without_boxes: int
    boxes_per_image: dict[str, float]   # mean, median, max (images without boxes count 0)
    classes: pd.DataFrame               # index category: boxes, share (of boxes), images (having one)
    sizes: pd.DataFrame                 # index MEASURES, columns the QUANTILES as "min", "5%", ...
    image_sizes: pd.DataFrame           # width, height, images: the sizes seen, most common first
    source: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """Every number as one frame: a (section, name) index and one ``value`` column.

        >>> summary(frame).to_frame().loc["totals"]["value"].tolist()   # doctest: +SKIP
        [2.0, 2.0, 1.0, 3.0]
        """
        parts: list[tuple[str, str, float]] = [
            ("totals", "images", self.images), ("totals", "boxes", self.boxes),
            ("totals", "images without boxes", self.images_without_boxes),
            ("totals", "classes", len(self.classes)),
        ]
        parts += [("boxes per image", k, v) for k, v in self.boxes_per_image.items()]
        parts += [("class boxes", str(k), v) for k, v in self.classes["boxes"].items()]
        parts += [("class share", str(k), v) for k, v in self.classes["share"].items()]
        parts += [(measure, q, v) for measure, row in self.sizes.iterrows() for q, v in row.items()]
        parts += [("image sizes", f"{_size(w)}x{_size(h)}", n) for w, h, n in
                  self.image_sizes.itertuples(index=False)]
        index = pd.MultiIndex.from_tuples([(a, b) for a, b, _ in parts], names=["section", "name"])
        return pd.DataFrame({"value": np.array([float(v) for *_, v in parts])}, index=index)

    def __repr__(self) -> str:
        b = self.boxes_per_image
        none = self.images_without_boxes
        return (f"Summary({self.images:,} images, {self.boxes:,} boxes, {none:,} image"
                f"{'' if none == 1 else 's'} without boxes, {len(self.classes):,} classes; boxes per image: "
                f"mean {b['mean']:.3g}, median {b['median']:.3g}, max {b['max']:.0f})")

    def _repr_html_(self) -> str:
        title = f"<b>{html.escape(self.source)}</b><br>" if self.source else ""
        b = self.boxes_per_image
        head = (f"{title}{self.images:,} images, {self.boxes:,} boxes, {self.images_without_boxes:,} "
                f"without boxes, {len(self.classes):,} classes. Boxes per image: mean {b['mean']:.3g}, "
                f"median {b['median']:.3g}, max {b['max']:.0f}.")
        classes = self.classes.assign(share=self.classes["share"].map("{:.1%}".format))
        sizes = self.sizes.map("{:.4g}".format)
        shown = self.image_sizes.head(10)
        more = (f"<br>... and {len(self.image_sizes) - 10:,} more sizes" if len(self.image_sizes) > 10 else "")
        cell = '<div style="display:inline-block; vertical-align:top; margin-right:1.5em">{}</div>'
        return (f"<div>{head}<br>"
                + cell.format("<i>classes</i>" + classes.to_html(max_rows=30))
                + cell.format("<i>box sizes (quantiles)</i>" + sizes.to_html())
                + cell.format("<i>image sizes</i>" + shown.to_html(index=False, na_rep="?") + more)
                + "</div>")


def _size(v: object) -> str:
    return "?" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else f"{int(v)}"


def _quantiles(values: np.ndarray) -> list[float]:
    return np.quantile(values, QUANTILES).tolist() if len(values) else [np.nan] * len(QUANTILES)


def summary_of(c: Columns, source: str | None = None) -> Summary:
    """The :class:`Summary` of a frame's arrays (see :func:`summary`)."""
    box = c.has_box
    per_image = np.bincount(c.image[box], minlength=c.n_images)
    boxed = box & (c.category >= 0)
    counts = np.bincount(c.category[boxed], minlength=len(c.categories))
    key = np.unique(c.image[boxed] * max(len(c.categories), 1) + c.category[boxed])
    images_per_class = np.bincount(key % max(len(c.categories), 1), minlength=len(c.categories))
    total = int(box.sum())
    classes = pd.DataFrame({"boxes": counts, "share": counts / total if total else np.zeros(len(counts)),
                            "images": images_per_class},
                           index=pd.CategoricalIndex(c.categories, categories=c.categories, name="category"))
    w, h = c.w[box], c.h[box]
    positive = (w > 0) & (h > 0)
    sized = positive & c.sized[box]
    rel_w, rel_h = w[sized] / c.width[box][sized], h[sized] / c.height[box][sized]
    rows = [_quantiles((w * h)[positive]), _quantiles(w[positive]), _quantiles(h[positive]),
            _quantiles(w[positive] / h[positive]), _quantiles(rel_w * rel_h), _quantiles(rel_w),
            _quantiles(rel_h)]
    names = [("min" if q == 0 else "max" if q == 1 else f"{q:.0%}") for q in QUANTILES]
    sizes = pd.DataFrame(rows, index=pd.Index(MEASURES, name="measure"), columns=names)
    first = c.first_row
    seen = pd.DataFrame({"width": pd.array(c.width[first], dtype="Float64").astype("Int64"),
                         "height": pd.array(c.height[first], dtype="Float64").astype("Int64")})
    image_sizes = (seen.value_counts(dropna=False).rename("images").reset_index()
                   .sort_values(["images", "width", "height"], ascending=[False, True, True],
                                ignore_index=True))
    return Summary(images=c.n_images, boxes=total, images_without_boxes=int((per_image == 0).sum()),
                   boxes_per_image={"mean": float(per_image.mean()) if c.n_images else 0.0,
                                    "median": float(np.median(per_image)) if c.n_images else 0.0,
                                    "max": float(per_image.max()) if c.n_images else 0.0},
                   classes=classes, sizes=sizes, image_sizes=image_sizes, source=source)


def summary(frame: pd.DataFrame) -> Summary:
    """Images, boxes, images without boxes, boxes per image (mean, median, max), classes with their
    boxes, share of boxes and images (classes without boxes too), box area, width, height and aspect
    quantiles in pixels and relative to the image (boxes of unknown-size images left out there), and
    the image sizes seen. An image is a ``(dataset_id, image_id)``.

    >>> aion.read_export("instances.json").aion.summary().classes   # doctest: +SKIP
    """
    source = frame.attrs.get("source") if isinstance(frame, pd.DataFrame) else None
    return summary_of(columns(frame, "summary"), None if source is None else str(source))
