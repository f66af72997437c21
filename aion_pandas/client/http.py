"""HTTP for the client: a requests session per thread, bearer auth, retries, streaming resumable downloads.

Retries (exponential backoff with jitter, ``Retry-After`` honoured up to a minute):

- GET (and other idempotent methods): connect errors, read timeouts, 429, 500, 502, 503, 504;
- POST: only when the service cannot have acted on it: connect errors, 429, 503.

A ``Retry-After`` longer than a minute is not waited for: the error is raised at once (it carries
``retry_after``) so the caller decides.

The key is sent only to the base URL's origin (a signed download URL on another host never sees it),
and it never appears in a repr, log line or error.

>>> t = Transport("http://127.0.0.1:8765/api/v2", Secret("aion_0123456789abcdefWXYZ"))
>>> t
Transport(base_url='http://127.0.0.1:8765/api/v2', api_key='aion_…WXYZ')
"""
from __future__ import annotations

import logging
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3.exceptions

from .. import __version__
from ..config import Secret
from ..errors import (AionError, APIError, ConnectionError, TimeoutError, error_from_response,
                      parse_retry_after)

log = logging.getLogger("aion_pandas.client")

RETRY_STATUS_GET = frozenset({429, 500, 502, 503, 504})
RETRY_STATUS_POST = frozenset({429, 503})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
MAX_RETRY_AFTER = 60.0
CHUNK = 1 << 20
POOL_SIZE = 16  # connections kept per host (the accessor exports with a few threads)


def should_retry(method: str, status: int | None = None, *, connect_failed: bool = False,
                 read_failed: bool = False) -> bool:
    """Whether a failed attempt may be repeated without risk of doing the work twice.

    >>> should_retry("GET", 502), should_retry("POST", 502), should_retry("POST", 503)
    (True, False, True)
    >>> should_retry("POST", connect_failed=True), should_retry("POST", read_failed=True)
    (True, False)
    """
    method = method.upper()
    if connect_failed:
        return True
    if read_failed:
        return method in IDEMPOTENT
    if status is None:
        return False
    return status in (RETRY_STATUS_GET if method in IDEMPOTENT else RETRY_STATUS_POST)


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 8.0, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): ``Retry-After`` when given (<= 60 s),
    else ``base * 2**attempt`` capped at ``cap``, with jitter (50-100 %).

    >>> backoff_delay(0, retry_after=2.0)
    2.0
    >>> 0.25 <= backoff_delay(0) <= 0.5 and 2.0 <= backoff_delay(3) <= 4.0
    True
    """
    if retry_after is not None and 0 <= retry_after <= MAX_RETRY_AFTER:
        return float(retry_after)
    delay = min(cap, base * (2 ** attempt))
    return delay * (rng or random).uniform(0.5, 1.0)


def _is_connect_failure(exc: BaseException) -> bool:
    """True when the request never reached the service (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)):
            return True
        todo.extend([getattr(cur, "reason", None), cur.__cause__, cur.__context__,
                     *[a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]])
    return False


class _BearerAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer KEY`` to requests for one origin only."""

    def __init__(self, key: Secret, origin: tuple[str, str]) -> None:
        self._key, self._origin = key, origin

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url or "")
        if (parts.scheme, parts.netloc) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._key.reveal()}"
        return request

    def __repr__(self) -> str:
        return f"_BearerAuth({self._key!r})"


class Transport:
    """Sends requests to one service; safe to share between threads."""

    def __init__(self, base_url: str, api_key: Secret, *, timeout: float = 30.0, max_retries: int = 3,
                 backoff: float = 0.5, backoff_cap: float = 8.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.timeout, self.max_retries = float(timeout), int(max_retries)
        self.backoff, self.backoff_cap = backoff, backoff_cap
        parts = urlsplit(self.base_url)
        self._auth = _BearerAuth(api_key, (parts.scheme, parts.netloc))
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, api_key={self._key.masked!r})"

    # ------------------------------------------------------------------ sessions
    @property
    def session(self) -> requests.Session:
        """One session shared by all threads (urllib3's pool is thread-safe; no cookies are used)."""
        with self._lock:
            if self._session is None:
                session = requests.Session()
                session.headers["User-Agent"] = f"aion-pandas/{__version__}"
                session.auth = self._auth
                adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session = session
            return self._session

    def close(self) -> None:
        """Close the session's connections (a later request opens a new session)."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def url(self, path: str) -> str:
        """An absolute URL: ``path`` under the base URL, or ``path`` itself when already absolute."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    # ------------------------------------------------------------------ requests
    def send(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
             headers: dict[str, str] | None = None, stream: bool = False,
             ok_status: Callable[[int], bool] = lambda s: s < 400) -> requests.Response:
        """One request with retries; a non-2xx answer raises the typed :class:`APIError`."""
        method = method.upper()
        url = self.url(path)
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        attempt = 0
        while True:
            try:
                resp = self.session.request(method, url, params=params, json=json, headers=headers,
                                            stream=stream, timeout=(self.timeout, self.timeout))
            except requests.exceptions.RequestException as exc:
                _scrub(exc)
                connect = _is_connect_failure(exc)
                timed_out = isinstance(exc, requests.exceptions.Timeout)
                if attempt < self.max_retries and should_retry(method, connect_failed=connect,
                                                               read_failed=not connect):
                    self._sleep(attempt, None, method, url, type(exc).__name__)
                    attempt += 1
                    continue
                raise self._connection_error(exc, method, url, connect, timed_out, attempt) from None
            if ok_status(resp.status_code):
                return resp
            error = self._api_error(resp, method, url)
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))  # 429, and 503 often
            patient = retry_after is None or retry_after <= MAX_RETRY_AFTER  # else: let the caller decide
            if attempt < self.max_retries and should_retry(method, resp.status_code) and patient:
                resp.close()
                self._sleep(attempt, retry_after, method, url, str(resp.status_code))
                attempt += 1
                continue
            resp.close()
            raise error

    def request_json(self, method: str, path: str, **kw: Any) -> Any:
        """``send`` and decode the JSON body."""
        resp = self.send(method, path, **kw)
        try:
            return resp.json()
        except ValueError:
            raise APIError(f"the service answered {resp.status_code} with a body that is not JSON",
                           status=resp.status_code, request_id=resp.headers.get("X-Request-ID"),
                           method=method.upper(), url=resp.url) from None

    def get_bytes(self, url: str) -> bytes:
        """The body of ``GET url`` (an image URL of the API or a signed export URL), with retries."""
        attempt = 0
        while True:
            resp = self.send("GET", url, stream=True)
            try:
                return resp.content
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
                if attempt >= self.max_retries:
                    raise ConnectionError(f"the response was cut off after {self.max_retries + 1} attempts: "
                                          f"{type(exc).__name__}", method="GET", url=url) from None
                self._sleep(attempt, None, "GET", url, "cut off")
                attempt += 1
            finally:
                resp.close()

    # ------------------------------------------------------------------ downloads
    def download(self, url: str, dest: str | Path, *, expected_size: int | None = None,
                 progress: bool = True, desc: str | None = None, skip_if_complete: bool = False) -> Path:
        """Stream ``url`` to ``dest``: written to a ``.part`` file, renamed only when complete.

        The part file is named after the URL's path, so an interrupted transfer resumes (HTTP Range,
        or a clean restart when the server ignores it) only with bytes of the same file. With
        ``skip_if_complete`` (cache paths, which are unique per export), a ``dest`` already of
        ``expected_size`` bytes is not fetched again.
        """
        dest = Path(dest)
        if skip_if_complete and expected_size is not None and dest.is_file() \
                and dest.stat().st_size == expected_size:
            log.debug("download: %s already complete (%d bytes)", dest, expected_size)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = part_path(dest, url)
        for stale in dest.parent.glob(f"{glob_escape(dest.name)}.*.part"):
            if stale != part:  # the partial bytes of another export under the same name
                stale.unlink(missing_ok=True)
        failures = 0
        bar = _progress_bar(progress, expected_size, desc or dest.name)
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
                resp = self.send("GET", url, stream=True, headers=headers,
                                 ok_status=lambda s: s < 400 or (s == 416 and have > 0))
                with resp:
                    if resp.status_code == 416:  # our partial file is no prefix of theirs: restart
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
                    try:
                        with open(part, "ab" if resumed else "wb") as fh:
                            # read1: whatever arrived, so bytes before a cut are kept for the resume
                            while chunk := resp.raw.read1(CHUNK, decode_content=True):
                                fh.write(chunk)
                                if bar is not None:
                                    bar.update(len(chunk))
                    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                        failures += 1
                        got = part.stat().st_size if part.exists() else 0
                        if failures > self.max_retries:
                            raise ConnectionError(
                                f"download interrupted after {got} of {expected_size} bytes "
                                f"({failures} attempts, {type(exc).__name__}); call again to resume",
                                method="GET", url=url) from None
                        self._sleep(failures - 1, None, "GET", url, f"cut off at {got} bytes")
                        continue
                size = part.stat().st_size
                if expected_size is None or size == expected_size:
                    break
                if size > expected_size:
                    part.unlink()
                    raise AionError(f"download of {dest.name} gave {size} bytes, expected {expected_size}; "
                                    "the export may have changed: export again")
                failures += 1  # the server closed early without an error: resume
                if failures > self.max_retries:
                    raise ConnectionError(f"download stopped at {size} of {expected_size} bytes; "
                                          "call again to resume", method="GET", url=url)
                self._sleep(failures - 1, None, "GET", url, f"stopped at {size} bytes")
        finally:
            if bar is not None:
                bar.close()
        os.replace(part, dest)
        return dest

    # ------------------------------------------------------------------ helpers
    def _sleep(self, attempt: int, retry_after: float | None, method: str, url: str, why: str) -> None:
        delay = backoff_delay(attempt, base=self.backoff, cap=self.backoff_cap, retry_after=retry_after)
        log.info("retrying %s %s after %s in %.2fs (retry %d of %d)", method, _path(url), why, delay,
                 attempt + 1, self.max_retries)
        time.sleep(delay)

    def _api_error(self, resp: requests.Response, method: str, url: str) -> APIError:
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text[:300]
        error = error_from_response(resp.status_code, body, headers=resp.headers, method=method, url=url)
        if resp.status_code == 401 and _same_origin(url, self.base_url):
            error.args = (f"{error.args[0]}; the key used was {self._key.masked} "
                          "(check api_key= or AIONVISION_API_KEY)",)
        return error

    def _connection_error(self, exc: BaseException, method: str, url: str, connect: bool, timed_out: bool,
                          attempt: int) -> ConnectionError:
        tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
        if timed_out:
            return TimeoutError(f"no answer within {self.timeout:g} s ({tries}); raise `timeout` or try later",
                                method=method, url=url)
        what = "could not connect to the service" if connect else "the connection failed"
        return ConnectionError(f"{what} ({tries}, {type(exc).__name__}); is it running at {self.base_url}?",
                               method=method, url=url)


def part_path(dest: Path, url: str) -> Path:
    """The partial file of a download: ``<dest>.<hash of the URL's path>.part`` (the query, e.g. a
    signature that changes with each link, is left out).

    >>> part_path(Path("/tmp/a.json"), "https://h/exports/e1/a.json?signature=1").name
    'a.json.e70df3101d.part'
    """
    import hashlib
    key = hashlib.sha256(urlsplit(url).path.encode()).hexdigest()[:10]
    return dest.with_name(f"{dest.name}.{key}.part")


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    import glob
    return glob.escape(name)


def _scrub(exc: BaseException) -> None:
    """Drop the Authorization header from the request a requests exception keeps (it stays in __context__)."""
    for holder in (exc, getattr(exc, "response", None)):
        request = getattr(holder, "request", None)
        headers = getattr(request, "headers", None)
        if headers is not None:
            headers.pop("Authorization", None)


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)


def _path(url: str) -> str:
    return urlsplit(url).path


def _range_start(resp: requests.Response) -> int | None:
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
