"""What the sync and async clients share: settings, request building, the retry loop, error mapping,
paging and polling, written once as *plans*.

A plan is a generator that yields steps (:class:`Send`, :class:`Read`, :class:`Drain`, :class:`Close`,
:class:`Sleep`) and returns the result. :class:`~aion_pandas.client.Client` performs the steps with
``httpx.Client`` and ``time.sleep``, :class:`~aion_pandas.client.AsyncClient` with ``httpx.AsyncClient``
and ``asyncio.sleep``; that is all that differs between them. Transport errors of a step are thrown
back into the plan, which decides whether to retry.

>>> plan = iter([Sleep(0.0)])
>>> next(plan)
Sleep(seconds=0.0)
"""
from __future__ import annotations

import json as _json
import logging
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generator
from urllib.parse import urlsplit

import httpx

from .. import __version__
from ..config import Secret, Settings
from ..errors import AionError, APIError, ConnectionError, TimeoutError, error_from_response, parse_retry_after
from .retries import MAX_RETRY_AFTER, RateGate, backoff_delay, should_retry

log = logging.getLogger("aion_pandas.client")

_registry: "weakref.WeakValueDictionary[str, BaseClient]" = weakref.WeakValueDictionary()


# ---------------------------------------------------------------- steps a driver performs
@dataclass
class Send:
    """Send ``request``; the driver answers with the (streamed, still open) ``httpx.Response``."""
    request: httpx.Request


@dataclass
class Read:
    """Read ``response``'s whole body; the driver answers with the bytes (the response is then closed)."""
    response: httpx.Response


@dataclass
class Drain:
    """Pass each raw chunk of ``response``'s body to ``sink`` as it arrives (bytes before a cut are kept)."""
    response: httpx.Response
    sink: Callable[[bytes], Any]


@dataclass
class Close:
    response: httpx.Response


@dataclass
class Sleep:
    seconds: float


Plan = Generator[Any, Any, Any]


@dataclass
class Call:
    """One API call: what to send and how to read the answer (``parse`` takes the decoded JSON)."""
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    parse: Callable[[Any], Any] | None = None
    raw: bool = False               # the body's bytes instead of JSON
    timeout: float | None = None    # seconds; the client's timeout when None
    follow_redirects: bool = False


def new_request_id() -> str:
    """An ``X-Request-ID`` for one call (kept across its retries).

    >>> new_request_id().startswith("req_")
    True
    """
    return "req_" + uuid.uuid4().hex


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)


def _scrub(exc: BaseException) -> None:
    """Drop the Authorization header from the request an httpx exception keeps (it stays in __context__)."""
    try:
        request = exc.request  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return
    request.headers.pop("Authorization", None)


class BaseClient:
    """Settings, request building, retries, errors and paging of both clients (see the module doc)."""

    _page_class: type = None  # type: ignore[assignment]  # Page or AsyncPage

    def __init__(self, api_key: str | Secret | None = None, base_url: str | None = None, *,
                 timeout: float | None = None, max_retries: int | None = None,
                 cache_dir: str | Path | None = None, backoff: float = 0.5, polling_interval: float | None = None,
                 polling_timeout: float | None = None) -> None:
        settings = Settings.resolve(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
                                    cache=cache_dir, polling_interval=polling_interval,
                                    polling_timeout=polling_timeout)
        if settings.api_key is None:
            raise AionError("no API key: pass api_key=... or set AIONVISION_API_KEY "
                            "(aion.connect() without one uses the local service)")
        assert settings.base_url is not None
        self.settings = settings
        self.backoff, self.backoff_cap = float(backoff), 8.0
        self._gate = RateGate()
        from .batches import Batches
        from .datasets import Datasets
        self.datasets = Datasets(self)
        self.batches = Batches(self)
        self.token = f"{settings.base_url}#{settings.api_key.fingerprint()}#{id(self):x}"
        _registry[self.token] = self

    @classmethod
    def from_env(cls, **overrides: Any):
        """A client configured by ``AIONVISION_API_KEY``, ``AIONVISION_BASE_URL``, ``AIONVISION_TIMEOUT``,
        ``AIONVISION_MAX_RETRIES``, ``AIONVISION_POLLING_INTERVAL``, ``AIONVISION_POLLING_TIMEOUT``
        (keywords override them).

        >>> client = Client.from_env()   # doctest: +SKIP
        """
        return cls(**overrides)

    # ------------------------------------------------------------------ identity
    @property
    def base_url(self) -> str:
        return self.settings.base_url or ""

    @property
    def cache_dir(self) -> Path:
        """Where downloads are kept (``<data dir>/cache`` unless configured)."""
        return self.settings.cache_dir

    @property
    def key_fingerprint(self) -> str:
        """A one-way id of the key (cache keys use it; it reveals nothing about the key)."""
        assert self.settings.api_key is not None
        return self.settings.api_key.fingerprint()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={str(self.settings.api_key)!r})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a client holds an API key and is not picklable; connect() again where needed")

    def __deepcopy__(self, memo: dict):
        return self

    def url(self, path: str) -> str:
        """An absolute URL: ``path`` under the base URL, or ``path`` itself when already absolute."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    # ------------------------------------------------------------------ requests
    def build_request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                      headers: dict[str, str] | None = None, timeout: float | None = None,
                      request_id: str | None = None) -> httpx.Request:
        """The request of one attempt; the key goes only to the base URL's own origin.

        >>> from aion_pandas.client import Client
        >>> c = Client(api_key="aion_0123456789abcdefWXYZ", base_url="https://api.aionvision.tech/api/v2")
        >>> r = c.build_request("GET", "datasets", params={"status": None, "limit": 5}, request_id="req_1")
        >>> str(r.url), r.headers["X-Request-ID"], "authorization" in r.headers
        ('https://api.aionvision.tech/api/v2/datasets?limit=5', 'req_1', True)
        >>> "authorization" in c.build_request("GET", "https://elsewhere.example/x.json").headers
        False
        """
        url = self.url(path)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        sent = {"User-Agent": f"aion-pandas/{__version__}", "Accept": "application/json",
                "X-Request-ID": request_id or new_request_id(), **(headers or {})}
        if same_origin(url, self.base_url):
            assert self.settings.api_key is not None
            sent["Authorization"] = f"Bearer {self.settings.api_key.reveal()}"
        seconds = timeout or self.settings.timeout
        return httpx.Request(method.upper(), url, params=query or None, json=json, headers=sent,
                             extensions={"timeout": httpx.Timeout(seconds).as_dict()})

    def _send_plan(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                   headers: dict[str, str] | None = None, timeout: float | None = None, read: bool = True,
                   follow_redirects: bool = False, ok: Callable[[int], bool] = lambda s: s < 400) -> Plan:
        """Send with retries; returns ``(response, body)`` (``read``) or the open streamed response.

        With ``follow_redirects`` the plan follows up to 5 redirects itself, so a 429 or a cut on the
        target (a signed URL) retries that hop only, not the request that led there.
        """
        method = method.upper()
        url = self.url(path)
        request_id = new_request_id()
        attempt = hops = 0
        while True:
            pause = self._gate.wait_time()  # a 429 told the whole client to hold back
            if pause > 0:
                yield Sleep(pause)
            request = self.build_request(method, url, params=params, json=json, headers=headers, timeout=timeout,
                                         request_id=request_id)
            try:
                response = yield Send(request)
                if follow_redirects and response.is_redirect and hops < 5:
                    yield Close(response)
                    url, method, params, json = str(response.url.join(response.headers["Location"])), "GET", None, None
                    hops, attempt = hops + 1, 0
                    continue
                if not ok(response.status_code):
                    body = yield Read(response)
                elif read:
                    return response, (yield Read(response))
                else:
                    return response
            except httpx.RequestError as exc:
                _scrub(exc)
                connect = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                if attempt < self.settings.max_retries and should_retry(method, connect_failed=connect,
                                                                        read_failed=not connect):
                    yield Sleep(self._delay(attempt, None, method, url, type(exc).__name__))
                    attempt += 1
                    continue
                raise self._connection_error(exc, method, url, connect, attempt) from None
            error = self._api_error(response, body, method, request_id)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))  # 429, and 503 often
            patient = retry_after is None or retry_after <= MAX_RETRY_AFTER  # else: let the caller decide
            if response.status_code == 429 and patient:
                self._gate.close_for(retry_after if retry_after is not None
                                     else backoff_delay(attempt, base=self.backoff, cap=self.backoff_cap))
            if attempt < self.settings.max_retries and should_retry(method, response.status_code) and patient:
                yield Sleep(self._delay(attempt, retry_after, method, url, str(response.status_code)))
                attempt += 1
                continue
            raise error

    def _call_plan(self, call: Call) -> Plan:
        """A :class:`Call` with retries; returns the parsed answer."""
        response, body = yield from self._send_plan(call.method, call.path, params=call.params, json=call.json,
                                                    timeout=call.timeout, follow_redirects=call.follow_redirects)
        if call.raw:
            return body
        if not body.strip():  # 204 No Content (DELETE)
            return call.parse(None) if call.parse else None
        try:
            data = _json.loads(body)
        except ValueError:
            raise APIError(f"the service answered {response.status_code} with a body that is not JSON",
                           status=response.status_code, request_id=response.headers.get("X-Request-ID"),
                           method=call.method.upper(), url=str(response.url)) from None
        return call.parse(data) if call.parse else data

    def _page_plan(self, call: Call, key: str, item: Callable[[Any], Any], fetch: Callable[[int], Any],
                   limit: int, offset: int) -> Plan:
        """A list call as a page of records (either paging shape, see :func:`aion_pandas.records.paging`)."""
        from ..records import paging
        data = yield from self._call_plan(call)
        items = [item(x) for x in (data.get(key) or [])]
        total, limit, offset, more = paging(data, len(items), limit, offset)
        return self._page_class(items=items, total_count=total, limit=limit, offset=offset, has_more=more,
                                fetch=fetch)

    def _poll_plan(self, call: Call, done: Callable[[Any], bool], what: str, timeout: float | None,
                   interval: float | None, on_progress: Callable[[Any], Any] | None) -> Plan:
        """Repeat ``call`` until ``done(record)``: waits start at 0.25 s and double up to the polling
        interval; ``TimeoutError`` after ``timeout`` (default: the polling timeout)."""
        timeout = self.settings.polling_timeout if timeout is None else float(timeout)
        cap = self.settings.polling_interval if interval is None else float(interval)
        deadline = time.monotonic() + timeout
        wait = min(0.25, cap)
        while True:
            record = yield from self._call_plan(call)
            if on_progress is not None:
                on_progress(record)
            if done(record):
                return record
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{what} still {getattr(record, 'status', '?')!r} after {timeout:g} s",
                                   method=call.method, url=self.url(call.path))
            yield Sleep(min(wait, left))
            wait = min(cap, wait * 2)

    # ------------------------------------------------------------------ errors and logs
    def _delay(self, attempt: int, retry_after: float | None, method: str, url: str, why: str) -> float:
        delay = backoff_delay(attempt, base=self.backoff, cap=self.backoff_cap, retry_after=retry_after)
        log.info("retrying %s %s after %s in %.2fs (retry %d of %d)", method, urlsplit(url).path, why, delay,
                 attempt + 1, self.settings.max_retries)
        return delay

    def _api_error(self, response: httpx.Response, body: bytes, method: str, request_id: str) -> APIError:
        try:
            decoded: Any = _json.loads(body) if body.strip() else None
        except ValueError:
            decoded = body[:300].decode("utf-8", "replace")
        url = str(response.request.url) if response.request is not None else None
        error = error_from_response(response.status_code, decoded, headers=response.headers, method=method,
                                    url=url, request_id=request_id)
        if response.status_code == 401 and url and same_origin(url, self.base_url):
            assert self.settings.api_key is not None
            error.args = (f"{error.args[0]}; the key used was {self.settings.api_key.masked} "
                          "(check api_key= or AIONVISION_API_KEY)",)
        return error

    def _connection_error(self, exc: BaseException, method: str, url: str, connect: bool,
                          attempt: int) -> ConnectionError:
        tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.PoolTimeout):
            seconds = self.settings.timeout
            timeout = exc.request.extensions.get("timeout", {}) if _has_request(exc) else {}
            seconds = timeout.get("read") or seconds
            return TimeoutError(f"no answer within {seconds:g} s ({tries}); raise `timeout` or try later",
                                method=method, url=url)
        what = "could not connect to the service" if connect else "the connection failed"
        return ConnectionError(f"{what} ({tries}, {type(exc).__name__}); is it running at {self.base_url}?",
                               method=method, url=url)


def _has_request(exc: BaseException) -> bool:
    try:
        return exc.request is not None  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return False


def resolve_registered(token: str) -> "BaseClient | None":
    """The live client a frame's ``attrs`` token names, if any."""
    return _registry.get(token)

