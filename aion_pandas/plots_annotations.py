"""Figures of an annotation frame (matplotlib): what the boxes look like, and a grid of images with them.

:func:`plot_annotations` draws one Figure of four panels (:data:`PANELS`): boxes per class (sorted
horizontal bars), boxes per image (a histogram), box sizes relative to the image (a 2D histogram) and
box centres over the normalized image (a heatmap); ``by=`` a column compares its groups. The numbers
come from :mod:`aion_pandas.analysis`; this module only draws.

>>> fig = frame.aion.plot()                  # doctest: +SKIP
>>> fig = frame.aion.plot(by="split")        # doctest: +SKIP
>>> fig = frame.aion.show(n=9, category="person")   # doctest: +SKIP
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .analysis._frame import Columns, columns

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PANELS = ("boxes per class", "boxes per image", "box size (share of image)", "box centres (normalized image)")
#: at most this many groups for ``by=``
MAX_GROUPS = 6
#: bins per axis of the size and centre histograms (over [0, 1])
GRID_BINS = 20


def _figure(figsize: tuple[float, float]) -> "Figure":
    import matplotlib.pyplot as plt
    # made through pyplot so a notebook renders the returned Figure, then closed so it is not shown twice
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig


def _title(frame: pd.DataFrame, c: Columns) -> str:
    source = frame.attrs.get("source")
    counts = f"{c.n_images:,} images, {int(c.has_box.sum()):,} boxes"
    if not source:
        return counts
    name = str(source).split("?", 1)[0].rstrip("/")  # never a signed URL's query (its signature)
    return f"{os.path.basename(name) or name}: {counts}"


def _groups(frame: pd.DataFrame, by: str | None) -> tuple[np.ndarray, list[str]]:
    if by is None:
        return np.zeros(len(frame), dtype=np.int64), ["all"]
    if by not in frame.columns:
        raise ValueError(f"plot: by={by!r} is not a column of the frame; columns: {list(map(str, frame.columns))}")
    codes, uniques = pd.factorize(frame[by], use_na_sentinel=False, sort=True)
    if len(uniques) > MAX_GROUPS:
        raise ValueError(f"plot: by={by!r} has {len(uniques)} groups; at most {MAX_GROUPS} can be compared "
                         "(filter the frame first)")
    return codes.astype(np.int64), ["<NA>" if pd.isna(u) else str(u) for u in uniques]


def _class_panel(ax: Any, c: Columns, group: np.ndarray, names: list[str], max_classes: int) -> None:
    boxed = c.has_box & (c.category >= 0)
    n_cat, n_grp = max(len(c.categories), 1), len(names)
    counts = np.bincount(group[boxed] * n_cat + c.category[boxed], minlength=n_grp * n_cat).reshape(n_grp, n_cat)
    counts = counts[:, :len(c.categories)]
    order = np.argsort(-counts.sum(axis=0), kind="stable")
    labels = [c.categories[k] for k in order]
    counts = counts[:, order]
    if len(labels) > max_classes:  # the long tail past max_classes - 1 becomes one bar
        rest = counts[:, max_classes - 1:].sum(axis=1, keepdims=True)
        labels = labels[:max_classes - 1] + [f"({len(labels) - max_classes + 1} more classes)"]
        counts = np.hstack([counts[:, :max_classes - 1], rest])
    pos = np.arange(len(labels))
    if n_grp == 1:
        bars = ax.barh(pos, counts[0], color="#1f77b4", height=0.7)
        ax.bar_label(bars, labels=[f"{v:,}" for v in counts[0].tolist()], fontsize=6, padding=2)
        ax.set_xlabel("boxes", fontsize=8)
        nonzero = counts[0][counts[0] > 0]
        if len(nonzero) and nonzero.max() / nonzero.min() > 100:  # a long tail stays visible
            ax.set_xscale("log")
    else:
        totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
        share = 100 * counts / totals
        height = 0.8 / n_grp
        for k, name in enumerate(names):
            ax.barh(pos - 0.4 + height * (k + 0.5), share[k], height=height, label=name)
        ax.set_xlabel("share of the group's boxes (%)", fontsize=8)
        ax.legend(fontsize=6, frameon=False)
    ax.set_yticks(pos, labels, fontsize=max(5, 8 - len(labels) // 10))
    ax.set_ylim(len(labels) - 0.5, -0.5)  # the largest class on top


def _per_image_panel(ax: Any, c: Columns, group: np.ndarray, names: list[str]) -> None:
    per_image = np.bincount(c.image[c.has_box], minlength=c.n_images)
    image_group = group[c.first_row]
    top = int(per_image.max()) if len(per_image) else 0
    edges = np.arange(top + 2) - 0.5 if top <= 60 else np.linspace(-0.5, top + 0.5, 41)
    if len(names) == 1:
        counts, _ = np.histogram(per_image, edges)
        ax.bar((edges[:-1] + edges[1:]) / 2, counts, width=np.diff(edges) * 0.9, color="#ff7f0e")
        ax.set_ylabel("images", fontsize=8)
    else:
        for k, name in enumerate(names):
            mine = per_image[image_group == k]
            counts, _ = np.histogram(mine, edges)
            ax.stairs(counts / max(len(mine), 1), edges, label=name, linewidth=1.5)
        ax.set_ylabel("share of the group's images", fontsize=8)
        ax.legend(fontsize=6, frameon=False)
    ax.set_xlabel("boxes in the image", fontsize=8)


def _relative(c: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with a box of positive size in an image of known size; their width and height shares."""
    rows = np.flatnonzero(c.has_box & c.sized & (c.w > 0) & (c.h > 0))
    return rows, c.w[rows] / c.width[rows], c.h[rows] / c.height[rows]


def _heat(ax: Any, u: np.ndarray, v: np.ndarray, cmap: str) -> None:
    from matplotlib.colors import LogNorm
    edges = np.linspace(0, 1, GRID_BINS + 1)
    counts, _, _ = np.histogram2d(np.clip(u, 0, 1), np.clip(v, 0, 1), bins=[edges, edges])
    grid = np.ma.masked_equal(counts.T, 0)  # rows = v, columns = u; empty cells stay blank
    ax.pcolormesh(edges, edges, grid, cmap=cmap, norm=LogNorm(vmin=1, vmax=max(counts.max(), 1)))
    ax.set_xlim(0, 1)
    ax.set_aspect("equal")


def _size_panel(ax: Any, c: Columns, group: np.ndarray, names: list[str]) -> None:
    rows, rel_w, rel_h = _relative(c)
    if len(names) == 1:
        _heat(ax, rel_w, rel_h, "viridis")
        ax.set_ylim(0, 1)
    else:
        rng = np.random.default_rng(0)
        for k, name in enumerate(names):
            mine = np.flatnonzero(group[rows] == k)
            if len(mine) > 2000:  # a readable sample; the same every time
                mine = np.sort(rng.choice(mine, 2000, replace=False))
            ax.scatter(rel_w[mine], rel_h[mine], s=4, alpha=0.4, label=name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=6, frameon=False, markerscale=2)
    ax.set_xlabel("box width / image width", fontsize=8)
    ax.set_ylabel("box height / image height", fontsize=8)


def _centre_panel(ax: Any, c: Columns, group: np.ndarray, k: int | None) -> None:
    rows, rel_w, rel_h = _relative(c)
    if k is not None:
        keep = group[rows] == k
        rows, rel_w, rel_h = rows[keep], rel_w[keep], rel_h[keep]
    cx = c.x[rows] / c.width[rows] + rel_w / 2
    cy = c.y[rows] / c.height[rows] + rel_h / 2
    _heat(ax, cx, cy, "viridis")
    ax.set_ylim(1, 0)  # image coordinates: the top of the image on top
    ax.tick_params(labelsize=6)


def plot_annotations(frame: pd.DataFrame, by: str | None = None, *, max_classes: int = 25,
                     figsize: tuple[float, float] = (6.5, 6.0)) -> "Figure":
    """One Figure of an annotation frame in :data:`PANELS` order (``fig.axes[i].get_title()``):

    1. boxes per class: horizontal bars, most boxes on top, a count on each (a log axis when the
       largest class has over 100x the smallest); past ``max_classes`` the tail is one bar;
    2. boxes per image: a histogram over images (images without boxes count 0);
    3. box width and height as a share of the image: a 2D histogram (``GRID_BINS`` per axis);
    4. box centres over the normalized image (top-left origin): a heatmap.

    Titled with ``frame.attrs["source"]`` (a URL without its query) and the counts. ``by="split"`` or
    ``by="dataset_id"`` (any column, at most :data:`MAX_GROUPS` groups) overlays the groups: shares of
    each group's boxes per class, of its images per box count, a scatter of sizes, and one centre
    heatmap per group. A frame without boxes gives a figure that says "no boxes".

    >>> fig = plot_annotations(aion.read_export("instances.json"), by="split")   # doctest: +SKIP
    """
    c = columns(frame, "plot")
    group, names = _groups(frame, by)
    fig = _figure(figsize)
    fig.suptitle(_title(frame, c) + ("" if by is None else f", by {by}"), fontsize=10)
    if not c.has_box.any():
        fig.text(0.5, 0.5, "no boxes", ha="center", va="center", fontsize=14, color="#555555")
        return fig
    grid = fig.add_gridspec(2, 2)
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, 0])]
    _class_panel(axes[0], c, group, names, max_classes)
    _per_image_panel(axes[1], c, group, names)
    _size_panel(axes[2], c, group, names)
    if len(names) == 1:
        centre_axes = [fig.add_subplot(grid[1, 1])]
        _centre_panel(centre_axes[0], c, group, None)
        centre_axes[0].set_title(PANELS[3], fontsize=9)
    else:
        sub = grid[1, 1].subgridspec(1 if len(names) <= 3 else 2, min(len(names), 3))
        centre_axes = [fig.add_subplot(sub[k // 3, k % 3]) for k in range(len(names))]
        for k, (ax, name) in enumerate(zip(centre_axes, names)):
            _centre_panel(ax, c, group, k)
            ax.set_title(f"centres: {name}", fontsize=7)
    for ax, title in zip(axes, PANELS):
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def show_images(frame: pd.DataFrame, n: int = 9, category: str | None = None, *,
                images_dir: str | os.PathLike | None = None, client: Any = None, seed: int | None = 0,
                ncols: int = 3, progress: bool | None = None) -> "Figure":
    """A grid of ``n`` images with their boxes, a colour per class; only images with a box of
    ``category`` when given. Images are a sample fixed by ``seed`` (``None``: the first ``n``). Pixels
    come from ``images_dir/file_name``, else each ``image_url`` is fetched with ``client`` into the
    image cache (:func:`aion_pandas.image_cache.fetch_images`); a missing image is drawn as a grey frame
    saying so, with its boxes.

    >>> fig = show_images(frame, n=4, images_dir="images/")   # doctest: +SKIP
    """
    from matplotlib.patches import Rectangle
    from PIL import Image

    from .image_cache import fetch_images

    c = columns(frame, "show")
    candidates = np.arange(c.n_images)
    if category is not None:
        if category not in c.categories:
            raise ValueError(f"show: category {category!r} is not a class of the frame; classes: {c.categories}")
        k = c.categories.index(category)
        candidates = np.unique(c.image[c.has_box & (c.category == k)])
    count = min(n, len(candidates))
    if seed is None:
        picked = candidates[:count]
    else:
        picked = np.sort(np.random.default_rng(seed).choice(candidates, count, replace=False))
    images = frame.iloc[c.first_row[picked]]
    paths, missing = fetch_images(images, images_dir=images_dir, client=client, progress=progress)
    ncols = max(1, min(ncols, count))
    nrows = max(1, -(-count // ncols))
    fig = _figure((2.2 * ncols, 2.0 * nrows + 0.4))
    fig.suptitle(f"{count} of {len(candidates):,} images" + (f" with {category!r}" if category else ""),
                 fontsize=9)
    if count == 0:
        fig.text(0.5, 0.5, "no images", ha="center", va="center", fontsize=14, color="#555555")
        return fig
    import matplotlib
    colours = matplotlib.colormaps["tab10" if len(c.categories) <= 10 else "tab20"]
    names = images["file_name"].astype("string").fillna("").tolist()
    shown: set[int] = set()
    for slot, (image, path, name) in enumerate(zip(picked.tolist(), paths, names)):
        ax = fig.add_subplot(nrows, ncols, slot + 1)
        ax.set_axis_off()
        ax.set_title(name.rsplit("/", 1)[-1][:28], fontsize=6)
        width, height = c.width[c.first_row[image]], c.height[c.first_row[image]]
        if name in missing:
            size = (int(width) if width > 0 else 100, int(height) if height > 0 else 100)
            ax.imshow(np.full((size[1], size[0], 3), 0.85))
            ax.text(size[0] / 2, size[1] / 2, "image not found", ha="center", va="center", fontsize=6)
        else:
            with Image.open(path) as img:
                ax.imshow(np.asarray(img.convert("RGB")))
        rows = np.flatnonzero((c.image == image) & c.has_box)
        for row in rows.tolist():
            colour = colours(c.category[row] % colours.N)
            ax.add_patch(Rectangle((c.x[row], c.y[row]), c.w[row], c.h[row], fill=False, edgecolor=colour,
                                   linewidth=1.8 if category is not None and c.categories[c.category[row]]
                                   == category else 1.0))
            shown.add(int(c.category[row]))
        if len(rows):  # a box past an edge is drawn whole, beyond the pixels
            (x0, x1), (y1, y0) = ax.get_xlim(), ax.get_ylim()
            ax.set_xlim(min(x0, c.x[rows].min()), max(x1, (c.x[rows] + c.w[rows]).max()))
            ax.set_ylim(max(y1, (c.y[rows] + c.h[rows]).max()), min(y0, c.y[rows].min()))
    handles = [Rectangle((0, 0), 1, 1, fill=False, edgecolor=colours(k % colours.N), label=c.categories[k])
               for k in sorted(shown)]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), fontsize=6,
                   frameon=False)
    return fig
