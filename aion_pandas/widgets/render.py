"""Pure HTML for the panel: the datasets table, a dataset's details, export results, messages.

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

TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "name"), ("status", "status"), ("total_items", "items"), ("successful_items", "successful"),
    ("export_count", "exports"), ("latest_export", "latest export"), ("created_at", "created"))

_TABLE_STYLE = ("<style>.aion-table{border-collapse:collapse;font-size:12px;width:100%}"
                ".aion-table th,.aion-table td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
                ".aion-table td.num{text-align:right}.aion-table tr.aion-selected{background:#e3f0ff}"
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


def datasets_table(rows: Iterable[dict[str, Any]], selected: Iterable[str] = ()) -> str:
    """The datasets table (one ``<tr data-id=...>`` per row; selected rows highlighted)."""
    chosen = set(selected)
    head = "".join(f"<th>{_e(label)}</th>" for _, label in TABLE_COLUMNS)
    body = []
    for row in rows:
        latest = (f"{_e(row.get('latest_export_format'))} {_e(row.get('latest_export_at'))}"
                  if row.get("latest_export_format") else "—")
        cls = " class='aion-selected'" if row.get("id") in chosen else ""
        body.append(
            f"<tr data-id='{_e(row.get('id'))}'{cls}><td>{_e(row.get('name'))}</td>"
            f"<td>{status_badge(str(row.get('status')))}</td>"
            f"<td class='num'>{_e(row.get('total_items'))}</td><td class='num'>{_e(row.get('successful_items'))}</td>"
            f"<td class='num'>{_e(row.get('export_count'))}</td><td>{latest}</td>"
            f"<td>{_e(row.get('created_at'))}</td></tr>")
    if not body:
        body.append(f"<tr><td colspan='{len(TABLE_COLUMNS)}'><i>no datasets</i></td></tr>")
    return f"{_TABLE_STYLE}<table class='aion-table'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


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
    return (f"<div class='aion-details-body'><b>{_e(row.get('name'))}</b> {status_badge(str(row.get('status')))}"
            f"<table class='aion-table'>{items}</table>{extra}</div>")


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


def error(text: str) -> str:
    """An error line in red (empty stays empty)."""
    return f"<span style='color:#d62728'>⚠ {_e(text)}</span>" if text else ""


def stats_summary(stats: Any) -> str:
    """One line over the statistics chart: period, datasets, items, exports and volume."""
    return (f"<div class='aion-stats-line'><b>{_e(stats.period_label)}</b>: {stats.total_datasets} datasets, "
            f"{stats.total_items:,} items (avg {stats.avg_items_per_dataset:.1f}), {stats.total_exports} exports, "
            f"{_e(human_size(stats.total_data_volume))}</div>")
