"""The JupyterLab panel: ``aion.panel()`` browses, creates and exports datasets without code.

>>> import aion_pandas as aion
>>> panel = aion.panel()    # doctest: +SKIP
>>> panel                   # doctest: +SKIP
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .panel import Panel

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["Panel", "panel"]


def panel(client: "Client | None" = None) -> Panel:
    """The datasets panel for ``client`` (default: the client of ``aion.connect()``): the widget
    itself (a ``VBox``), to show as a cell's last expression or put inside other widgets.

    ``panel.frame`` holds what "Load into DataFrame" read; ``panel.close()`` stops its background work.

    >>> p = panel()   # doctest: +SKIP
    >>> p             # doctest: +SKIP
    """
    return Panel(client)
