"""The panel's long calls, step by step: export several datasets, download, read, summarize, FiftyOne.

Each step reports into a :class:`Steps` (the panel's progress bar and its line of text) and checks
there for Cancel; a cancelled call stops at its next step or chunk with
:class:`~aion_pandas.errors.CancelledError` and leaves no half file (a download's partial file is
removed; images are written whole). No widgets here: the controller runs these on its threads.

>>> import threading
>>> from aion_pandas.widgets.state import PanelState
>>> steps = Steps(PanelState(), threading.Event())
>>> steps.phase("downloading", 4); steps.advance(2); steps.state.progress, steps.state.progress_max
(2, 4)
"""
from __future__ import annotations

import io
import threading
import time
from html import escape
from typing import TYPE_CHECKING, Any

from ..errors import CancelledError
from .render import human_size, stats_summary
from .state import PanelState

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client


class Steps:
    """Progress of one call in the state (``progress``/``progress_max``/``progress_text``), and Cancel."""

    def __init__(self, state: PanelState, cancel: threading.Event) -> None:
        self.state, self._cancel = state, cancel
        self._shown = -1          # the units last shown (-1: none yet in this step)

    def check(self) -> None:
        """Raise :class:`CancelledError` if Cancel was pressed."""
        if self._cancel.is_set():
            raise CancelledError("cancelled")

    def phase(self, text: str, total: int = 1) -> None:
        """Start a step of ``total`` units (checks for Cancel first)."""
        self.check()
        s = self.state
        s.progress, s.progress_max, s.progress_text = 0, max(1, int(total)), text
        self._shown = -1

    def advance(self, done: int, total: int | None = None, text: str | None = None) -> None:
        """``done`` of the step's units (of ``total``, if it changed); then checks for Cancel.

        The state is updated first (at the step's first unit, its last, and each 1 % between: a
        download's chunks do not each send a message to the browser), then Cancel is checked.
        """
        s = self.state
        if total is not None and total != s.progress_max:
            s.progress_max = max(1, int(total))
        if self._shown < 0 or done >= s.progress_max or done - self._shown >= s.progress_max / 100:
            self._shown = done
            if text is not None:
                s.progress_text = text
            s.progress = min(int(done), s.progress_max)
        self.check()


def export_one(client: "Client", row: dict[str, Any], fmt: str, options: dict[str, Any],
               include_failed: bool) -> dict[str, Any]:
    """Export one dataset; the result as the panel shows it (name, counts, size, link, seconds).

    >>> export_one(client, {"id": "660f9500-...", "name": "Q1"}, "coco", {}, False)["download_url"]  # doctest: +SKIP
    """
    started = time.perf_counter()
    result = client.datasets.export(row["id"], fmt, options=options, include_failed_items=include_failed)
    return {"dataset_id": row["id"], "name": row.get("name"), "export_id": result.export_id,
            "format": result.format, "record_count": result.record_count,
            "file_size_bytes": result.file_size_bytes, "download_url": result.download_url,
            "file_name": result.file_name, "seconds": time.perf_counter() - started}


def download(client: "Client", steps: Steps, exported: dict[str, Any]) -> Any:
    """The export's file in the client's cache, fetched with a byte count in the panel.

    >>> download(client, steps, panel.state.exports[0])   # doctest: +SKIP
    PosixPath('.../cache/downloads/3f2a.../dataset_660f9500.json')
    """
    from ..reading import download_export

    name, total = exported.get("name") or exported["dataset_id"], exported.get("file_size_bytes")
    steps.phase(f"downloading {name}", total or 1)

    def chunk(done: int, size: int | None) -> None:
        of = f" of {human_size(size)}" if size else ""
        steps.advance(done, size, f"downloading {name}: {human_size(done)}{of}")

    return download_export(exported["download_url"], client=client, on_progress=chunk)


def read(client: "Client", steps: Steps, exported: dict[str, Any], fmt: str) -> "pd.DataFrame":
    """Download (unless cached) and read one export into the canonical frame.

    >>> read(client, steps, panel.state.exports[0], "coco")["category"].value_counts()   # doctest: +SKIP
    """
    from .. import formats

    path = download(client, steps, exported)
    steps.phase(f"reading {exported.get('name') or ''} ({fmt})".replace("  ", " "))
    frame = formats.read_export(path, fmt)
    frame.attrs["source"] = str(exported["download_url"]).split("?", 1)[0]  # the signature stays out
    return frame


def combine(frames: "list[pd.DataFrame]", fmt: str) -> "pd.DataFrame":
    """One canonical frame of several datasets' frames (``dataset_id`` tells them apart; classes stay
    categorical).

    >>> import pandas as pd
    >>> a = pd.DataFrame({"dataset_id": ["d1"], "category": pd.Categorical(["car"])})
    >>> b = pd.DataFrame({"dataset_id": ["d2"], "category": pd.Categorical(["bus"])})
    >>> combine([a, b], "coco")["category"].cat.categories.tolist()
    ['bus', 'car']
    """
    import pandas as pd

    if len(frames) == 1:
        return frames[0]
    out = pd.concat(frames, ignore_index=True)
    if "category" in out.columns and not isinstance(out["category"].dtype, pd.CategoricalDtype):
        out["category"] = out["category"].astype("category")
    out.attrs = {"format": fmt, "sources": [f.attrs.get("source") for f in frames]}
    return out


def summarize(frame: "pd.DataFrame", label: str) -> tuple[str, bytes]:
    """The annotation summary of a loaded frame as HTML, and its chart (class counts, boxes per image,
    sizes) as PNG; an empty chart when the frame has no box.

    >>> html, png = summarize(panel.frame, "Q1 (coco)")   # doctest: +SKIP
    """
    from ..analysis import summary
    from ..plots_annotations import plot_annotations

    html = (f"<div class='aion-frame-summary-body'><b>Loaded: {escape(label)}</b>"
            f"{summary(frame)._repr_html_()}</div>")
    if not frame["x"].notna().any():
        return html, b""
    figure = plot_annotations(frame)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return html, buffer.getvalue()


def to_fiftyone(client: "Client", steps: Steps, frame: "pd.DataFrame", name: str) -> Any:
    """Fetch the frame's images (counted, cancellable), then build the FiftyOne dataset from the cache.

    >>> to_fiftyone(client, steps, panel.frame, "Q1").name   # doctest: +SKIP
    'aion-Q1'
    """
    from ..fiftyone import to_fiftyone as make_dataset
    from ..image_cache import fetch_images

    images = frame.drop_duplicates(["dataset_id", "image_id"]) if "dataset_id" in frame else frame.drop_duplicates(
        "image_id")
    steps.phase(f"fetching images of {name}", len(images))
    fetch_images(images, client=client, progress=False,
                 on_progress=lambda done, todo: steps.advance(done, todo, f"fetching images: {done} of {todo}"))
    steps.phase(f"making the FiftyOne dataset aion-{name}")
    return make_dataset(frame, name=f"aion-{name}", overwrite=True, client=client, progress=False)


def statistics_chart(client: "Client", days: int) -> tuple[str, bytes]:
    """The statistics of the last ``days``: their summary line (HTML) and their chart (PNG).

    >>> line, png = statistics_chart(client, 30)   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    stats = client.datasets.statistics(days=days)
    figure = stats.plot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return stats_summary(stats), buffer.getvalue()
