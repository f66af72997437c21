"""Where Dask work computes: the ``dask.distributed.Client`` given or already active, else Dask's
default scheduler, with progress shown as each shows it (the dashboard link, or a ProgressBar).
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

__all__ = ["active_client", "compute_options", "progress"]

log = logging.getLogger("aion_pandas.dask")


def active_client(dask_client: Any = None) -> Any:
    """The ``dask.distributed.Client`` given, else the active one, else None (the default scheduler)."""
    if dask_client is not None:
        return dask_client
    try:
        from distributed import get_client
        return get_client()
    except (ImportError, ValueError):
        return None


def compute_options(dask_client: Any = None) -> dict[str, Any]:
    """Keyword arguments for ``dask.compute``: the given or active distributed client, else none.

    >>> compute_options()   # no distributed client active
    {}
    """
    client = active_client(dask_client)
    return {"scheduler": client} if client is not None else {}


@contextlib.contextmanager
def progress(dask_client: Any = None, *, enabled: bool = True) -> Iterator[None]:
    """Progress of what computes inside: Dask's ProgressBar on the default scheduler; on a
    distributed client its dashboard (the link is logged once)."""
    client = active_client(dask_client)
    if not enabled:
        yield
    elif client is not None:
        link = getattr(client, "dashboard_link", None)
        if link:
            log.info("progress on the Dask dashboard: %s", link)
        yield
    else:
        from dask.diagnostics import ProgressBar
        with ProgressBar(minimum=2.0):
            yield
