"""``Panel``: state + view + controller for one client; shows itself when it is a cell's last expression.

After "Load into DataFrame", ``panel.frame`` holds the annotation frame.

>>> import aion_pandas as aion
>>> panel = aion.panel()     # doctest: +SKIP
>>> panel                    # doctest: +SKIP
>>> panel.frame.head()       # doctest: +SKIP
"""
from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from .controller import PanelController
from .state import PanelState
from .view import PanelView

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client


def _has_fiftyone() -> bool:
    return importlib.util.find_spec("fiftyone") is not None


class Panel:
    """The datasets panel: browse, create, export, load into pandas, open in FiftyOne, statistics.

    ``panel.frame`` is the annotation frame of the last "Load into DataFrame"; ``panel.view`` the
    widget; ``panel.state`` its traits; ``panel.close()`` stops its background work.
    """

    def __init__(self, client: "Client | None" = None, *, load: bool = True) -> None:
        if client is None:
            from ..client import default_client

            client = default_client()
        self._client = client
        self.state = PanelState()
        self.view = PanelView(self.state, fiftyone=_has_fiftyone())
        self.controller = PanelController(self.state, self.view, client)
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
        """Stop the background poller and close the widgets."""
        self.controller.close()
        for widget in self.view.walk():
            widget.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.view._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (f"<aion_pandas Panel: {len(self.state.rows)} datasets from {self._client.base_url}"
                f"{'; frame loaded: ' + self.state.frame_label if self.state.frame is not None else ''}>")
