"""Pure HTML for the panel: a dataset's details, export results, progress and messages.

Everything is escaped here; nothing here knows widgets or HTTP.

>>> "ready" in status_badge("ready") and "#2ca02c" in status_badge("ready")
True
>>> human_size(245678)
'245.7 kB'
"""
from __future__ import annotations

import html
from datetime import datetime
from typing import Any, Iterable

from ..plots import STATUS_COLORS

_TABLE_STYLE = ("<style>.aion-fields{border-collapse:collapse;font-size:12px;width:100%}"
                ".aion-fields th,.aion-fields td{padding:1px 8px;line-height:18px;border-bottom:1px solid #ddd;text-align:left}"
                ".aion-fields td.num{text-align:right}.aion-fields tr.aion-selected{background:#e3f0ff}"
                ".aion-badge{color:#fff;border-radius:8px;padding:0 7px;font-size:11px}"
                "a.aion-download{color:#1a73e8;text-decoration:underline}</style>")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def when(value: datetime | None) -> str:
    """A UTC timestamp as ``YYYY-MM-DD HH:MM`` (empty for None).

    >>> from datetime import timezone
    >>> when(datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc))
    '2025-01-15 10:30'
    """
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else ""


def human_size(size: int | None) -> str:
    """Bytes in decimal units: ``'812 B'``, ``'245.7 kB'``, ``'12.3 MB'``."""
    if size is None:
        return ""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def status_badge(status: str) -> str:
    """A coloured pill for a dataset status."""
    color = STATUS_COLORS.get(status, "#7f7f7f")
    return (f"<span class='aion-badge aion-status-{_e(status)}' style='background:{color}'>"
            f"{_e(status)}</span>")


def details(row: dict[str, Any] | None, more: int = 0) -> str:
    """The selected dataset's fields (``more``: how many other datasets are selected too)."""
    if row is None:
        return "<i>Select a dataset to see its details.</i>"
    fields = [("id", row.get("id")), ("batch", f"{row.get('batch_id')} ({row.get('batch_status') or '?'})"),
              ("description", row.get("description") or "—"),
              ("items", f"{row.get('total_items')} ({row.get('successful_items')} successful)"),
              ("exports", row.get("export_count")),
              ("latest export", f"{row.get('latest_export_format')} {row.get('latest_export_id')} at "
                                f"{row.get('latest_export_at')}" if row.get("latest_export_id") else "—"),
              ("formats", ", ".join(row.get("supported_formats") or ())),
              ("created", row.get("created_at")), ("updated", row.get("updated_at"))]
    if row.get("failure_reason"):
        fields.append(("failure", row.get("failure_reason")))
    items = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in fields)
    extra = f"<p><i>and {more} more selected</i></p>" if more else ""
    return (f"{_TABLE_STYLE}<div class='aion-details-body'><b>{_e(row.get('name'))}</b> {status_badge(str(row.get('status')))}"
            f"<table class='aion-fields'>{items}</table>{extra}</div>")


def export_results(results: Iterable[dict[str, Any]]) -> str:
    """One line per exported dataset: records, size, time and a download link (or the error)."""
    lines = []
    for r in results:
        name = _e(r.get("name") or r.get("dataset_id"))
        if r.get("error"):
            lines.append(f"<li class='aion-export-failed'>{name}: <span style='color:#d62728'>{_e(r['error'])}</span></li>")
            continue
        lines.append(
            f"<li class='aion-export-done'>{name}: {_e(r.get('format'))}, {_e(r.get('record_count'))} records, "
            f"{_e(human_size(r.get('file_size_bytes')))}, {float(r.get('seconds') or 0):.2f} s — "
            f"<a class='aion-download' href='{_e(r.get('download_url'))}' target='_blank' rel='noopener' "
            f"download='{_e(r.get('file_name'))}'>download {_e(r.get('file_name'))}</a></li>")
    return f"{_TABLE_STYLE}<ul class='aion-export-list'>{''.join(lines)}</ul>" if lines else ""


def message(text: str) -> str:
    """An info line (empty stays empty)."""
    return f"<span style='color:#1f5f1f'>{_e(text)}</span>" if text else ""


def progress(text: str) -> str:
    """The running call's step, small and grey (empty stays empty)."""
    return f"<span class='aion-progress-text' style='font-size:12px;color:#555'>{_e(text)}</span>" if text else ""


def error(text: str) -> str:
    """An error line in red (empty stays empty)."""
    return f"<span style='color:#d62728'>⚠ {_e(text)}</span>" if text else ""


def stats_summary(stats: Any) -> str:
    """One line over the statistics chart: period, datasets, items, exports and volume."""
    return (f"<div class='aion-stats-line'><b>{_e(stats.period_label)}</b>: {stats.total_datasets} datasets, "
            f"{stats.total_items:,} items (avg {stats.avg_items_per_dataset:.1f}), {stats.total_exports} exports, "
            f"{_e(human_size(stats.total_data_volume))}</div>")
