"""The clients of the Datasets API: ``connect()``, :class:`Client`, :class:`AsyncClient` and the resources
hung on them (``client.datasets``, ``client.batches``).

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
from pathlib import Path

from ..config import Secret, Settings
from ..errors import AionError
from .async_client import AsyncClient
from .core import BaseClient, resolve_registered
from .sync_client import Client

__all__ = ["Client", "AsyncClient", "connect", "default_client", "set_default_client"]

log = logging.getLogger("aion_pandas.client")
_default: "Client | None" = None
_default_lock = threading.Lock()


def connect(api_key: str | None = None, base_url: str | None = None, timeout: float | None = None,
            max_retries: int | None = None, *, cache_dir: str | Path | None = None) -> Client:
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
                    cache_dir=settings.cache_dir, polling_interval=settings.polling_interval,
                    polling_timeout=settings.polling_timeout)
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
        found = resolve_registered(token)
        if isinstance(found, Client):
            return found
    return default_client()
