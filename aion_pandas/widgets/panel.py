"""``Panel``: the datasets panel as a widget (a ``VBox``): state + view + controller for one client.

It is a widget like any other: the last expression of a cell shows it, and it goes inside an
``HBox``, a ``Tab`` or an ``AppLayout``. After "Load into DataFrame", ``panel.frame`` holds the
annotation frame.

>>> import aion_pandas as aion
>>> panel = aion.panel()     # doctest: +SKIP
>>> panel                    # doctest: +SKIP
>>> panel.frame.head()       # doctest: +SKIP
"""
from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .controller import PanelController
from .state import PanelState
from .view import PanelView

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client


def _has_fiftyone() -> bool:
    return importlib.util.find_spec("fiftyone") is not None


class Panel(w.VBox):
    """The datasets panel: browse, create, export, load into pandas, open in FiftyOne, statistics.

    ``panel.frame`` is the annotation frame of the last "Load into DataFrame"; ``panel.view`` holds
    the controls; ``panel.state`` their traits; ``panel.close()`` stops its background work.
    """

    def __init__(self, client: "Client | None" = None, *, load: bool = True, **kwargs: Any) -> None:
        if client is None:
            from ..client import default_client

            client = default_client()
        state = PanelState()
        view = PanelView(state, fiftyone=_has_fiftyone())
        super().__init__([view], **kwargs)
        self._client = client
        self.state, self.view = state, view
        self.controller = PanelController(state, view, client)
        self._closed = False
        self.add_class("aion-panel")
        if load:
            self.controller.refresh()

    @property
    def frame(self) -> "pd.DataFrame | None":
        """The annotation frame loaded by "Load into DataFrame" (None before)."""
        return self.state.frame

    def refresh(self) -> None:
        """Reload the datasets table (as the Refresh button does)."""
        self.controller.refresh()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait for running calls to finish (tests and scripts)."""
        return self.controller.wait_idle(timeout)

    def close(self) -> None:
        """Stop the background work (poller, queued calls, a running call at its next step) and close
        every widget of the panel; closing twice does nothing more."""
        if getattr(self, "_closed", True):  # also during a failed __init__ or at interpreter exit
            super().close()
            return
        self._closed = True
        self.controller.close()
        for widget in self.view.walk():
            widget.close()
        super().close()

    def __repr__(self) -> str:
        return (f"<aion_pandas Panel: {len(self.state.rows)} datasets from {self._client.base_url}"
                f"{'; frame loaded: ' + self.state.frame_label if self.state.frame is not None else ''}>")
