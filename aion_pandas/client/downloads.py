"""Streaming, resumable downloads as a plan both clients run (see :mod:`aion_pandas.client.core`).

The file is written to a ``.part`` file named after the URL's path and renamed only when complete, so
an interrupted transfer resumes (HTTP ``Range``, or a clean restart when the server ignores it) only
with bytes of the same file.

>>> part_path(Path("/tmp/a.json"), "https://h/exports/e1/a.json?signature=1").name
'a.json.e70df3101d.part'
"""
from __future__ import annotations

import glob
import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import unquote, urlsplit

import httpx

from ..errors import AionError, ConnectionError
from ..records import safe_segment
from .core import Drain, Plan, Sleep

if TYPE_CHECKING:
    from .core import BaseClient

log = logging.getLogger("aion_pandas.client")

#: ``on_progress(bytes_so_far, total_or_None)`` of a download; raising in it stops the download
ProgressHook = Callable[[int, "int | None"], object]


def part_path(dest: Path, url: str) -> Path:
    """The partial file of a download: ``<dest>.<hash of the URL's path>.part`` (the query, e.g. a
    signature that changes with each link, is left out)."""
    key = hashlib.sha256(urlsplit(url).path.encode()).hexdigest()[:10]
    return dest.with_name(f"{dest.name}.{key}.part")


def cache_path_for_url(cache_dir: Path, url: str) -> Path:
    """Where :meth:`Client.download_url` keeps ``url``: ``<cache>/downloads/<hash of the path>/<file name>``.

    >>> p = cache_path_for_url(Path("/c"), "https://h/exports/e1/data.zip?signature=x")
    >>> p.parent.parent.as_posix(), p.name
    ('/c/downloads', 'data.zip')
    """
    path = urlsplit(url).path
    name = safe_segment(unquote(path).replace("\\", "/").rsplit("/", 1)[-1], fallback="download")
    return cache_dir / "downloads" / hashlib.sha256(path.encode()).hexdigest()[:16] / name


def _range_start(resp: httpx.Response) -> int | None:
    value = resp.headers.get("Content-Range", "")  # "bytes 100-199/200"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _progress_bar(enabled: bool, total: int | None, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=False)


def download_plan(client: "BaseClient", url: str, dest: str | Path, *, expected_size: int | None = None,
                  progress: bool = True, desc: str | None = None, skip_if_complete: bool = False,
                  on_progress: ProgressHook | None = None) -> Plan:
    """Stream ``url`` to ``dest``; returns ``dest``. With ``skip_if_complete`` (cache paths, unique per
    export), a ``dest`` already of ``expected_size`` bytes is not fetched again.

    ``on_progress(bytes_so_far, total_or_None)`` is called after each chunk; if it raises (e.g.
    :class:`~aion_pandas.errors.CancelledError` for a Cancel button), the download stops there and
    its partial file is removed: a stopped download leaves no half file."""
    dest = Path(dest)
    if skip_if_complete and expected_size is not None and dest.is_file() and dest.stat().st_size == expected_size:
        log.debug("download: %s already complete (%d bytes)", dest, expected_size)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest, url)
    for stale in dest.parent.glob(f"{glob.escape(dest.name)}.*.part"):
        if stale != part:  # the partial bytes of another export under the same name
            stale.unlink(missing_ok=True)
    retries = client.settings.max_retries
    failures = 0
    bar = _progress_bar(progress, expected_size, desc or dest.name)
    stopped = False
    try:
        while True:
            have = part.stat().st_size if part.exists() else 0
            if expected_size is not None and have > expected_size:
                part.unlink()
                have = 0
            if expected_size is not None and have == expected_size and have > 0:
                break
            headers = {"Accept-Encoding": "identity"}  # byte offsets of the file itself, for Range
            if have:
                headers["Range"] = f"bytes={have}-"
            resp = yield from client._send_plan("GET", url, headers=headers, read=False, follow_redirects=True,
                                                ok=lambda s, have=have: s < 400 or (s == 416 and have > 0))
            if resp.status_code == 416:  # our partial file is no prefix of theirs: restart
                from .core import Close
                yield Close(resp)
                part.unlink(missing_ok=True)
                failures += 1
                continue
            resumed = have > 0 and resp.status_code == 206 and _range_start(resp) == have
            if not resumed:
                have = 0
            if expected_size is None:
                length = resp.headers.get("Content-Length")
                expected_size = have + int(length) if length and length.isdigit() else None
            if bar is not None:
                bar.reset(total=expected_size)
                bar.update(have)
            with open(part, "ab" if resumed else "wb") as fh:
                def sink(chunk: bytes) -> None:
                    nonlocal stopped
                    fh.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                    if on_progress is not None:
                        try:
                            on_progress(fh.tell(), expected_size)
                        except BaseException:
                            stopped = True
                            raise
                try:
                    yield Drain(resp, sink)
                except httpx.RequestError as exc:
                    cut: Exception | None = exc
                else:
                    cut = None
            if cut is not None:
                failures += 1
                got = part.stat().st_size if part.exists() else 0
                if failures > retries:
                    raise ConnectionError(f"download interrupted after {got} of {expected_size} bytes "
                                          f"({failures} attempts, {type(cut).__name__}); call again to resume",
                                          method="GET", url=url) from None
                yield Sleep(client._delay(failures - 1, None, "GET", url, f"cut off at {got} bytes"))
                continue
            size = part.stat().st_size
            if expected_size is None or size == expected_size:
                break
            if size > expected_size:
                part.unlink()
                raise AionError(f"download of {dest.name} gave {size} bytes, expected {expected_size}; "
                                "the export may have changed: export again")
            failures += 1  # the server closed early without an error: resume
            if failures > retries:
                raise ConnectionError(f"download stopped at {size} of {expected_size} bytes; "
                                      "call again to resume", method="GET", url=url)
            yield Sleep(client._delay(failures - 1, None, "GET", url, f"stopped at {size} bytes"))
    finally:
        if bar is not None:
            bar.close()
        if stopped:  # stopped on request (not cut off): nothing to resume, nothing half left
            part.unlink(missing_ok=True)
    os.replace(part, dest)
    return dest
