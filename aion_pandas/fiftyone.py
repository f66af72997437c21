"""Annotation frames and export files -> FiftyOne datasets, and the FiftyOne App.

``to_fiftyone`` makes one sample per image (images without boxes included) with a ``ground_truth``
``fo.Detections`` field (relative boxes, ``confidence`` from ``score``, the category as label,
``iscrowd``/``difficult``/``truncated`` as attributes), the image size as ``fo.ImageMetadata`` and the
frame's per-image extras (``aion_dataset_id``, ``image_id``, ``description``, ``item_id``, ``item_status``,
``image_url``; ``tags`` as the sample tags) as fields. Pixels are fetched from each image's
``image_url`` with the client's key, in parallel, into a cache that later calls reuse; an image that
cannot be fetched is named in one :class:`MissingImagesWarning` and kept as a sample with its labels.

>>> import aion_pandas as aion
>>> frame = aion.read_export("instances.json")            # doctest: +SKIP
>>> dataset = aion.to_fiftyone(frame, name="safety")      # doctest: +SKIP
>>> session = aion.launch_app(dataset)                    # doctest: +SKIP
"""
from __future__ import annotations

import itertools
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aion_pandas.formats.schema import validate_frame
from aion_pandas.image_cache import (  # the three public names are kept importable from here
    MissingImagesWarning, fetch_images, image_cache_dir, warn_missing)

if TYPE_CHECKING:  # FiftyOne is an optional extra: imported on first use only
    import fiftyone as fo

__all__ = ["to_fiftyone", "launch_app", "fetch_images", "image_cache_dir", "MissingImagesWarning"]

#: per-image columns of the canonical frame that become sample fields (name -> FiftyOne field type);
#: ``dataset_id`` is stored as ``aion_dataset_id`` (FiftyOne's samples have their own ``dataset_id``)
_SAMPLE_FIELDS: dict[str, str] = {"dataset_id": "StringField", "image_id": "IntField",
                                  "description": "StringField", "item_id": "StringField",
                                  "item_status": "StringField", "image_url": "StringField"}
#: per-box flags of the canonical frame that become detection attributes
_BOX_FLAGS: tuple[str, ...] = ("iscrowd", "difficult", "truncated")


# --------------------------------------------------------------------------------------------
# frame -> FiftyOne


def _as_frame(source: Any, client: Any = None) -> tuple[pd.DataFrame, str | None]:
    """The canonical frame of ``source`` and the folder its relative image paths are under."""
    if isinstance(source, pd.DataFrame):
        return validate_frame(source, where="frame given to to_fiftyone"), None
    from aion_pandas.reading import read_export
    frame = read_export(source, client=client)
    folder = frame.attrs.get("root")  # a layout's root, which file names are relative to
    if folder is None and isinstance(source, (str, os.PathLike)) and not str(source).lower().startswith(
            ("http://", "https://")):
        path = os.path.abspath(source)
        folder = path if os.path.isdir(path) else os.path.dirname(path)
    return frame, folder


def _image_codes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the image it belongs to (0..n-1 in order of first appearance), and each image's first row."""
    codes = frame.groupby(["dataset_id", "image_id"], sort=False, dropna=False).ngroup().to_numpy()
    _, first = np.unique(codes, return_index=True)
    return codes, first


def _column(images: pd.DataFrame, name: str) -> list[Any]:
    col = images[name]
    if name == "tags":
        return [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [] for v in col]
    return col.astype(object).where(col.notna(), None).tolist()


def _sizes(images: pd.DataFrame, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Image widths and heights (float, NaN when unknown); a size the frame lacks is read from the file."""
    width = images["width"].to_numpy(dtype="float64", na_value=np.nan)
    height = images["height"].to_numpy(dtype="float64", na_value=np.nan)
    unknown = np.flatnonzero(np.isnan(width) | np.isnan(height))
    if len(unknown):
        from PIL import Image
        for i in unknown:
            try:
                with Image.open(paths[i]) as im:
                    width[i], height[i] = im.size
            except OSError:
                pass
    return width, height


def _detection_docs(frame: pd.DataFrame, codes: np.ndarray, n_images: int, width: np.ndarray,
                    height: np.ndarray) -> tuple[list[list[dict[str, Any]]], int]:
    """Per image, its boxes as plain dicts (label, relative bounding_box, confidence, flags), and the
    number of boxes left out because their image's size is unknown."""
    xywh = frame[["x", "y", "w", "h"]].to_numpy(dtype="float64", na_value=np.nan)
    rows = np.flatnonzero(~np.isnan(xywh[:, 0]))
    rows = rows[np.argsort(codes[rows], kind="stable")]
    img = codes[rows]
    w, h = width[img], height[img]
    rel = np.column_stack([xywh[rows, 0] / w, xywh[rows, 1] / h, xywh[rows, 2] / w, xywh[rows, 3] / h])
    sized = ~np.isnan(rel).any(axis=1)
    labels = frame["category"].astype(object).to_numpy()[rows].tolist()
    score = frame["score"].to_numpy(dtype="float64", na_value=np.nan)[rows]
    conf = np.where(np.isnan(score), None, score.astype(object)).tolist()
    flags = {name: _column(frame.iloc[rows], name) for name in _BOX_FLAGS if name in frame.columns}
    boxes, ok = rel.tolist(), sized.tolist()
    per_image: list[list[dict[str, Any]]] = [[] for _ in range(n_images)]
    for k, image in enumerate(img.tolist()):
        if not ok[k]:
            continue
        det = {"label": str(labels[k]), "bounding_box": boxes[k], "confidence": conf[k]}
        for name, values in flags.items():
            if values[k] is not None:
                det[name] = bool(values[k])
        per_image[image].append(det)
    return per_image, int((~sized).sum())


def _new_dataset(name: str | None, overwrite: bool, frame: pd.DataFrame) -> fo.Dataset:
    import fiftyone as fo

    if name is None:
        ids = frame["dataset_id"].dropna().unique()
        source = str(frame.attrs.get("source") or "")
        stem = f"aion-{ids[0]}" if len(ids) == 1 else \
            (Path(source.split("?", 1)[0]).stem if source else "aion-frame")
        return fo.Dataset(fo.make_unique_dataset_name(stem or "aion-frame"))
    if fo.dataset_exists(name) and not overwrite:
        raise ValueError(f"a FiftyOne dataset named {name!r} exists: pass overwrite=True to replace "
                         f"it, or another name")
    return fo.Dataset(name, overwrite=overwrite)


def _field_name(column: str) -> str:
    return "aion_dataset_id" if column == "dataset_id" else column


def _declare_fields(dataset: fo.Dataset, columns: pd.Index, label_field: str, flags: list[str]) -> None:
    import fiftyone as fo

    for field, kind in _SAMPLE_FIELDS.items():
        if field in columns:
            dataset.add_sample_field(_field_name(field), getattr(fo, kind))
    dataset.add_sample_field(label_field, fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)
    for flag in flags:
        dataset.add_sample_field(f"{label_field}.detections.{flag}", fo.BooleanField)


def _base_samples(paths: list[str], images: pd.DataFrame, width: np.ndarray,
                  height: np.ndarray) -> list[fo.Sample]:
    import fiftyone as fo

    fields = {_field_name(name): _column(images, name) for name in _SAMPLE_FIELDS if name in images.columns}
    tags = _column(images, "tags") if "tags" in images.columns else [[] for _ in paths]
    sizes = zip(np.where(np.isnan(width), None, width.astype(object)).tolist(),
                np.where(np.isnan(height), None, height.astype(object)).tolist())
    samples = []
    for i, (path, (w, h)) in enumerate(zip(paths, sizes)):
        meta = fo.ImageMetadata(width=int(w), height=int(h)) if w is not None and h is not None else None
        samples.append(fo.Sample(filepath=path, tags=tags[i], metadata=meta,
                                 **{name: values[i] for name, values in fields.items()}))
    return samples


def _add_bulk(dataset: fo.Dataset, samples: list[fo.Sample], per_image: list[list[dict[str, Any]]],
              label_field: str, progress: bool | None) -> None:
    """Samples through ``add_samples``, then every image's detections in one ``set_values`` bulk
    write of their stored form (FiftyOne's own layout: ``fo.Detection(...).to_mongo()``)."""
    from bson import ObjectId
    import fiftyone as fo

    ids = dataset.add_samples(samples, progress=bool(progress))
    samples.clear()  # FiftyOne reloads in-memory samples after a bulk write: drop ours first
    stored = dict(fo.Detection(label="", bounding_box=[0, 0, 0, 0]).to_mongo())
    kind, kinds = stored["_cls"], fo.Detections().to_mongo()["_cls"]
    docs = {}
    for sample_id, dets in zip(ids, per_image):
        docs[sample_id] = {"_cls": kinds, "detections": [
            {"_id": ObjectId(), "_cls": kind, "attributes": {}, "tags": [], **det} for det in dets]}
    dataset.set_values(label_field, docs, key_field="id", validate=False, expand_schema=False,
                       progress=bool(progress))


def _add_objects(dataset: fo.Dataset, samples: list[fo.Sample], per_image: list[list[dict[str, Any]]],
                 label_field: str, progress: bool | None) -> None:
    """Samples carrying ``fo.Detections`` objects, through ``add_samples`` (FiftyOne validates each)."""
    import fiftyone as fo

    for sample, dets in zip(samples, per_image):
        sample[label_field] = fo.Detections(detections=[fo.Detection(**det) for det in dets])
    dataset.add_samples(samples, progress=bool(progress))
    samples.clear()


def to_fiftyone(source: pd.DataFrame | str | os.PathLike | bytes | Any, name: str | None = None,
                overwrite: bool = False, persistent: bool = False, client: Any = None, *,
                images_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                label_field: str = "ground_truth", method: str = "bulk", max_workers: int = 8,
                progress: bool | None = None, dask_client: Any = None) -> fo.Dataset:
    """A FiftyOne dataset from a canonical annotation frame or an export (path, bytes, file, URL).

    One sample per image (images without boxes too, with an empty ``Detections``); boxes are
    relative ``[x, y, w, h]`` in ``label_field``; image size in ``metadata``; the frame's per-image
    extras as fields and ``tags`` as sample tags. Pixels: ``images_dir/file_name`` when given, else
    fetched from ``image_url`` into the cache (see :func:`fetch_images`). ``method="bulk"`` writes
    detections in one bulk update (fast); ``"objects"`` builds ``fo.Detection`` objects (slower).
    ``name`` defaults to one made from the dataset id or file name; an existing name needs
    ``overwrite=True``. A Dask frame is computed one partition at a time (on ``dask_client`` or
    the active one), each partition's samples added before the next is computed.

    >>> dataset = to_fiftyone(aion.read_export("instances.json"), name="safety")  # doctest: +SKIP
    >>> dataset.count("ground_truth.detections")                                 # doctest: +SKIP
    1523
    """
    if method not in ("bulk", "objects"):
        raise ValueError(f"method must be 'bulk' or 'objects', got {method!r}")
    if _is_dask(source):  # one partition computed at a time, its samples added, then the next
        frames, folder = _computed_partitions(source, dask_client), None
        first = next(frames)
        first.attrs.setdefault("source", "dask frame")
    else:
        first, folder = _as_frame(source, client)
        frames = iter(())
    dataset = _new_dataset(name, overwrite, first if not _is_dask(source) else first.iloc[:0])
    missing: dict[str, str] = {}
    unsized, classes = 0, {}
    try:
        flags = [f for f in _BOX_FLAGS if f in first.columns]
        _declare_fields(dataset, first.columns, label_field, flags)
        for frame in itertools.chain([first], frames):
            if len(frame):
                unsized += _add_frame(dataset, frame, folder, missing, images_dir=images_dir,
                                      cache_dir=cache_dir, client=client, label_field=label_field,
                                      method=method, max_workers=max_workers, progress=progress)
            classes.update(dict.fromkeys(str(c) for c in frame["category"].cat.categories))
        dataset.default_classes = list(classes)
        dataset.info = {"source": str(first.attrs.get("source") or "frame"),
                        "format": first.attrs.get("format"), "missing_images": sorted(missing)}
        dataset.persistent = persistent
        dataset.save()
    except BaseException:
        dataset.delete()
        raise
    if missing:
        warn_missing(missing)
    if unsized:
        warnings.warn(f"{unsized:,} box(es) left out: their image's width/height is unknown and the "
                      f"image could not be read", MissingImagesWarning, stacklevel=2)
    return dataset


def _add_frame(dataset: fo.Dataset, frame: pd.DataFrame, folder: str | None, missing: dict[str, str], *,
               images_dir: Any, cache_dir: Any, client: Any, label_field: str, method: str,
               max_workers: int, progress: bool | None) -> int:
    """Add one frame's images as samples (their boxes as detections); returns the boxes left out."""
    codes, first = _image_codes(frame)
    images = frame.iloc[first]
    paths, lost = fetch_images(images, images_dir=images_dir, cache_dir=cache_dir, client=client,
                               relative_to=folder, max_workers=max_workers, progress=progress)
    missing.update(lost)
    width, height = _sizes(images, paths)
    per_image, unsized = _detection_docs(frame, codes, len(first), width, height)
    samples = _base_samples(paths, images, width, height)
    (_add_bulk if method == "bulk" else _add_objects)(dataset, samples, per_image, label_field, progress)
    return unsized


def _is_dask(source: Any) -> bool:
    return type(source).__module__.startswith(("dask.", "dask_expr")) and hasattr(source, "npartitions")


def _computed_partitions(ddf: Any, dask_client: Any) -> Any:
    """Each partition of a Dask frame computed in turn (on the given or active distributed client,
    else the default scheduler), as a canonical frame: never the whole frame at once."""
    from aion_pandas.dask_compute import compute_options
    options = compute_options(dask_client)
    for k in range(ddf.npartitions):
        part = ddf.partitions[k].compute(**options)
        yield validate_frame(part.reset_index(drop=True), where=f"partition {k} of the Dask frame")


def launch_app(dataset: fo.Dataset | Any, **kw: Any) -> fo.Session:
    """Open the FiftyOne App on ``dataset`` (or a view): ``fo.launch_app`` with its keywords, served
    on ``address="127.0.0.1"`` unless another is given (a session on ``localhost`` may fail to
    connect where ``localhost`` also names ``::1``).

    In a notebook the App shows in the output cell; ``auto=False`` starts it without showing it (as a
    headless run should; ``session.show()`` shows it later). Returns once the session is connected
    to the App (``connect_timeout`` seconds at most). ``remote=True, port=P`` serves it for a
    browser elsewhere (forward the port).

    >>> session = launch_app(dataset, auto=False)   # doctest: +SKIP
    >>> session.url                                 # doctest: +SKIP
    'http://127.0.0.1:5151/'
    """
    import fiftyone as fo

    if not isinstance(dataset, fo.core.collections.SampleCollection):
        raise TypeError(f"launch_app needs a FiftyOne dataset or view, got {type(dataset).__name__}")
    kw.setdefault("address", "127.0.0.1")
    connect_timeout = float(kw.pop("connect_timeout", 90.0))
    if isinstance(dataset, fo.Dataset):
        session = fo.launch_app(dataset, **kw)
    else:
        session = fo.launch_app(view=dataset, **kw)
    _wait_connected(session, connect_timeout)
    return session


def _wait_connected(session: Any, timeout: float) -> None:
    """In a notebook ``fo.launch_app`` returns before its client reaches the App server, and setting
    ``session.view`` (or closing) before then raises "Client is not connected": wait for it."""
    import time

    client = getattr(session, "_client", None)
    if client is None or not hasattr(client, "_connected"):
        return
    deadline = time.monotonic() + timeout
    while not client._connected and time.monotonic() < deadline:
        time.sleep(0.25)
    if not client._connected:
        warnings.warn(f"the FiftyOne App at {session.url} did not answer within {timeout:.0f} s",
                      RuntimeWarning, stacklevel=3)
