"""The client of the Datasets API: ``connect()`` and the resources hung on it.

Settings come from the arguments, then ``AIONVISION_API_KEY`` / ``AIONVISION_BASE_URL``; with
nothing configured ``connect()`` starts (or reuses) the embedded local service with demo data.

>>> import aion_pandas as aion
>>> client = aion.connect()                  # doctest: +SKIP
aion-pandas: no API key configured; using the local service at http://127.0.0.1:41234/api/v2 ...
>>> client                                   # doctest: +SKIP
Client(base_url='http://127.0.0.1:41234/api/v2', api_key='aion_…x7Qa')
>>> client.datasets.list(status="ready").total_count  # doctest: +SKIP
3
"""
from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path
from typing import Any

from ..config import Secret, Settings
from ..errors import AionError
from .batches import Batches
from .datasets import Datasets
from .http import Transport

__all__ = ["Client", "connect", "default_client", "set_default_client"]

log = logging.getLogger("aion_pandas.client")
_default: "Client | None" = None
_default_lock = threading.Lock()
_registry: "weakref.WeakValueDictionary[str, Client]" = weakref.WeakValueDictionary()


class Client:
    """A connection to one Datasets API service (hosted or local) with one key.

    ``client.datasets`` and ``client.batches`` are the resources; ``get_bytes(url)`` fetches an
    image (``image_url`` of an export) or any URL of the service. Use as a context manager to close
    its connections.

    >>> Client(api_key="aion_0123456789abcdefWXYZ", base_url="https://api.aionvision.tech/api/v2")
    Client(base_url='https://api.aionvision.tech/api/v2', api_key='aion_…WXYZ')
    """

    def __init__(self, api_key: str | Secret, base_url: str, *, timeout: float = 30.0, max_retries: int = 3,
                 cache_dir: str | Path | None = None, backoff: float = 0.5) -> None:
        settings = Settings.resolve(api_key=api_key, base_url=base_url, timeout=timeout,
                                    max_retries=max_retries, cache=cache_dir)
        assert settings.api_key is not None and settings.base_url is not None
        self.settings = settings
        self._http = Transport(settings.base_url, settings.api_key, timeout=settings.timeout,
                               max_retries=settings.max_retries, backoff=backoff)
        self.datasets = Datasets(self)
        self.batches = Batches(self)
        self.token = f"{settings.base_url}#{settings.api_key.fingerprint()}#{id(self):x}"
        _registry[self.token] = self

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
        return f"Client(base_url={self.base_url!r}, api_key={str(self.settings.api_key)!r})"

    __str__ = __repr__

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self):
        raise TypeError("a Client holds an API key and is not picklable; connect() again where needed")

    def __deepcopy__(self, memo: dict) -> "Client":
        return self

    def close(self) -> None:
        """Close the HTTP connections (the client can still be used: they reopen on demand)."""
        self._http.close()

    def get_bytes(self, url: str) -> bytes:
        """The bytes at ``url``: an image URL of the service (sent with the key) or a signed export URL.

        >>> client.get_bytes(frame["image_url"].iloc[0])[:4]  # doctest: +SKIP
        b'\\x89PNG'
        """
        return self._http.get_bytes(url)

    def download_file(self, url: str, dest: str | Path, expected_size: int | None = None,
                      progress: bool = True, skip_if_complete: bool = False) -> Path:
        """Stream ``url`` to ``dest`` (temp name, renamed when complete; resumes with HTTP Range)."""
        return self._http.download(url, dest, expected_size=expected_size, progress=progress,
                                   skip_if_complete=skip_if_complete)


def connect(api_key: str | None = None, base_url: str | None = None, timeout: float = 30,
            max_retries: int = 3, *, cache_dir: str | Path | None = None) -> Client:
    """Connect to the Datasets API and make this the default client of ``aion.datasets()`` and ``df.aion``.

    ``api_key``/``base_url`` default to ``AIONVISION_API_KEY``/``AIONVISION_BASE_URL``; a key alone
    means the hosted API; neither means the embedded local service (started if needed).

    >>> client = connect(api_key="aion_...", base_url="https://api.aionvision.tech/api/v2")  # doctest: +SKIP
    """
    settings = Settings.resolve(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
                                cache=cache_dir)
    if settings.api_key is None:
        if settings.base_url is not None:
            raise AionError(f"no API key for {settings.base_url}: pass api_key=... or set AIONVISION_API_KEY")
        from ..embedded import ensure_local_service
        service = ensure_local_service()
        how = "started it" if service.started else "it was already running"
        print(f"aion-pandas: no API key configured; using the local service at {service.base_url} "
              f"({how}; data in {service.data_dir})")
        key: str | Secret = Secret(service.api_key)
        url = service.base_url
    else:
        key, url = settings.api_key, settings.base_url or ""
    client = Client(key, url, timeout=settings.timeout, max_retries=settings.max_retries,
                    cache_dir=settings.cache_dir)
    set_default_client(client)
    log.info("connected: %r", client)  # base URL and masked key only
    return client


def set_default_client(client: Client | None) -> None:
    """Make ``client`` the one module functions and ``df.aion`` use when none is passed."""
    global _default
    with _default_lock:
        _default = client


def default_client() -> Client:
    """The client of the last ``connect()``, connecting with the default settings on first use."""
    with _default_lock:
        client = _default
    return client if client is not None else connect()


def resolve_client(client: Client | None = None, token: str | None = None) -> Client:
    """``client`` if given, else the client a frame came from (its ``attrs`` token), else the default."""
    if client is not None:
        return client
    if token is not None:
        found = _registry.get(token)
        if found is not None:
            return found
    return default_client()
