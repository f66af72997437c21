"""Where a frame's images' pixels are: local paths, or each ``image_url`` fetched with the client into a cache.

``fetch_images`` is what :func:`aion_pandas.to_fiftyone`, ``df.aion.show()`` and the panel use for
pixels; it needs no FiftyOne. An image that cannot be had is reported, never fatal.

>>> paths, missing = fetch_images(frame.drop_duplicates("image_id"))   # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pandas as pd

__all__ = ["fetch_images", "image_cache_dir", "MissingImagesWarning"]


class MissingImagesWarning(UserWarning):
    """Some images could not be fetched or found; the message names them (their samples are kept)."""


def image_cache_dir(client: Any = None) -> Path:
    """Where fetched images are cached: ``images/`` under the client's cache dir (``client.cache_dir``,
    else the configured one: ``$AION_PANDAS_CACHE_DIR`` or ``<data dir>/cache``).

    >>> image_cache_dir().name
    'images'
    """
    if client is not None and getattr(client, "cache_dir", None) is not None:
        return Path(client.cache_dir) / "images"
    from aion_pandas.config import cache_dir
    return cache_dir() / "images"


def _cache_path(cache_dir: Path, url: str, file_name: str) -> Path:
    key = hashlib.sha1(url.split("?", 1)[0].encode()).hexdigest()[:20]
    base = re.sub(r"[^\w.\-]+", "_", file_name.replace("\\", "/").rsplit("/", 1)[-1]) or "image"
    return cache_dir / key[:2] / key[2:] / base


def _fetch_one(client: Any, url: str, dest: Path) -> None:
    data = client.get_bytes(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise


def _short_reason(exc: BaseException) -> str:
    text = str(exc).split("\n", 1)[0]
    return (text[:80] + "...") if len(text) > 80 else (text or type(exc).__name__)


def fetch_images(images: pd.DataFrame, *, images_dir: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None, client: Any = None,
                 relative_to: str | os.PathLike | None = None, max_workers: int = 8,
                 progress: bool | None = None,
                 on_progress: Callable[[int, int], object] | None = None) -> tuple[list[str], dict[str, str]]:
    """Local paths for images (a frame with ``file_name`` and, optionally, ``image_url``), and the
    images that could not be had (``{file_name: reason}``).

    With ``images_dir`` the pixels are ``images_dir/file_name``. Otherwise an ``image_url`` is fetched
    with ``client`` (default: ``aion_pandas.client.default_client()``; it sends its key only to its
    own service) into ``cache_dir`` (default :func:`image_cache_dir`), in parallel, with a progress
    bar; a cached file is never fetched again. Without a URL, ``file_name`` is read relative to
    ``relative_to`` (the export's folder) or the working directory. ``on_progress(fetched, to_fetch)``
    is called after each image fetched; if it raises (a Cancel button), the images not yet started
    are dropped and the error goes on (each image is written whole or not at all).

    >>> paths, missing = fetch_images(frame.drop_duplicates("image_id"))   # doctest: +SKIP
    """
    names = images["file_name"].astype("string").fillna("").tolist()
    urls = images["image_url"].astype("string").tolist() if "image_url" in images else [None] * len(names)
    cache = Path(cache_dir) if cache_dir is not None else image_cache_dir(client)
    paths: list[str] = []
    todo: list[tuple[int, str, Path]] = []
    for i, (name, url) in enumerate(zip(names, urls)):
        if images_dir is not None:
            path = Path(images_dir) / name
        elif url is not None and url is not pd.NA and url:
            path = _cache_path(cache, url, name)
            if not path.exists():
                todo.append((i, url, path))
        else:
            path = Path(name) if os.path.isabs(name) else Path(relative_to or ".") / name
        paths.append(os.path.abspath(path))
    missing: dict[str, str] = {}
    if todo:
        missing.update(_download(todo, names, client, max_workers, progress, on_progress))
    fetched = {i for i, _, _ in todo}
    for i, path in enumerate(paths):
        if i not in fetched and names[i] not in missing and not os.path.exists(path):
            missing[names[i]] = "no such file"
    return paths, missing


def _download(todo: list[tuple[int, str, Path]], names: list[str], client: Any, max_workers: int,
              progress: bool | None, on_progress: Callable[[int, int], object] | None = None) -> dict[str, str]:
    from tqdm.auto import tqdm

    if client is None:
        from aion_pandas.client import default_client
        client = default_client()
    missing: dict[str, str] = {}

    def one(job: tuple[int, str, Path]) -> tuple[int, str | None]:
        i, url, path = job
        try:
            _fetch_one(client, url, path)
        except Exception as exc:  # noqa: BLE001 - one image failing never loses the others
            return i, _short_reason(exc)
        return i, None

    # progress: True shows the bar, False hides it, None lets tqdm decide (hidden when not a terminal)
    bar = tqdm(total=len(todo), desc="images", unit="img", disable=None if progress is None else not progress)
    pool = ThreadPoolExecutor(max_workers=max(1, max_workers))
    try:
        for done, (i, reason) in enumerate(pool.map(one, todo), start=1):
            bar.update(1)
            if reason is not None:
                missing[names[i]] = reason
            if on_progress is not None:
                on_progress(done, len(todo))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # the running fetches finish (whole files), no more start
        raise
    finally:
        pool.shutdown(wait=True)
        bar.close()
    return missing


def warn_missing(missing: dict[str, str]) -> None:
    shown = [f"{name} ({reason})" for name, reason in list(missing.items())[:20]]
    more = f", and {len(missing) - 20:,} more" if len(missing) > 20 else ""
    warnings.warn(f"{len(missing):,} image(s) could not be fetched or found; their samples are kept "
                  f"without pixels: " + ", ".join(shown) + more, MissingImagesWarning, stacklevel=3)
