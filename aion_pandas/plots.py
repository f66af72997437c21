"""Charts of the statistics (matplotlib): one figure, four small bar charts, readable in a narrow cell.

>>> fig = aion.statistics(days=30).plot()   # doctest: +SKIP
>>> fig.savefig("statistics.png")           # doctest: +SKIP
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .records import Statistics

STATUS_COLORS = {"pending": "#9e9e9e", "processing": "#1f77b4", "ready": "#2ca02c", "failed": "#d62728"}
FORMAT_LABELS = {"csv": "CSV", "coco": "COCO", "yolo": "YOLO", "pascal_voc": "Pascal VOC"}
PANELS = ("datasets by status", "exports per format", "export volume per format", "average export time")


def _bars(ax: Any, labels: list[str], values: list[float], colors: list[str] | str, *, title: str,
          ylabel: str, fmt: str, integer: bool = False) -> None:
    from matplotlib.ticker import MaxNLocator

    bars = ax.bar(range(len(labels)), values, color=colors, width=0.7)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    top = max(values, default=0.0)
    ax.set_ylim(0, top * 1.18 if top > 0 else 1.0)
    if integer:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.bar_label(bars, labels=[format(v, fmt) for v in values], fontsize=7, padding=2)


def plot_statistics(stats: "Statistics", *, figsize: tuple[float, float] = (6.5, 5.2)) -> "Figure":
    """One Figure of the statistics: datasets by status; exports per format by count and by volume
    (MB); average export time per format (s). Titled with the period.

    The axes come in :data:`PANELS` order (``fig.axes[i].get_title()``); bar heights are the values.

    >>> fig = plot_statistics(aion.statistics(days=7))   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    # made through pyplot so the notebook backend is loaded (it renders a returned Figure as PNG),
    # then closed so pyplot does not show it a second time at the end of the cell
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    axes = fig.subplots(2, 2)
    statuses = [str(s) for s in stats.by_status.index]
    _bars(axes[0, 0], statuses, [float(v) for v in stats.by_status["count"]],
          [STATUS_COLORS.get(s, "#7f7f7f") for s in statuses], title=PANELS[0], ylabel="datasets (count)",
          fmt=".0f", integer=True)
    by_format = stats.by_format
    labels = [FORMAT_LABELS.get(str(f), str(f)) for f in by_format.index]
    _bars(axes[0, 1], labels, [float(v) for v in by_format["count"]], "#1f77b4",
          title=PANELS[1], ylabel="exports (count)", fmt=".0f", integer=True)
    _bars(axes[1, 0], labels, [float(v) for v in by_format["total_size_mb"]], "#ff7f0e",
          title=PANELS[2], ylabel="volume (MB)", fmt=".2f")
    _bars(axes[1, 1], labels, [float(v) for v in by_format["avg_export_time_seconds"]], "#9467bd",
          title=PANELS[3], ylabel="time per export (s)", fmt=".3g")
    fig.suptitle(f"Datasets and exports, {stats.period_label}", fontsize=11)
    return fig
