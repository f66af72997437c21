"""The export cache: which export of a dataset (format, options) is already downloaded, and where.

Entries live in ``<cache dir>/exports/index.json``, keyed by base URL, a one-way fingerprint of the
key (tenants never share entries), dataset, format and options. An entry counts only while its file
is present with exactly ``file_size_bytes`` bytes.

>>> cache = ExportCache(Path(tempfile.mkdtemp()))      # doctest: +SKIP
>>> cache.lookup(client, "d1", "coco", {}, False)       # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import ExportResult

if TYPE_CHECKING:
    from . import Client

_LOCK = threading.Lock()


def cache_key(base_url: str, key_fingerprint: str, dataset_id: str, fmt: str, options: dict[str, Any] | None,
              include_failed_items: bool) -> str:
    """A stable id of (service, tenant, dataset, format, options).

    >>> cache_key("http://h/api/v2", "f", "d1", "coco", {"b": 1, "a": 2}, False) == \\
    ...     cache_key("http://h/api/v2", "f", "d1", "coco", {"a": 2, "b": 1}, False)
    True
    """
    blob = json.dumps([base_url, key_fingerprint, dataset_id, fmt, options or {}, bool(include_failed_items)],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class ExportCache:
    """Downloaded exports under ``root`` (``<cache dir>/exports``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.index_path = self.root / "index.json"

    def path_for(self, export: ExportResult) -> Path:
        """Where an export's file is kept: ``<root>/<export_id>/<file name>``."""
        return self.root / export.cache_folder / export.file_name

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def lookup(self, client: "Client", dataset_id: str, fmt: str, options: dict[str, Any] | None,
               include_failed_items: bool) -> tuple[ExportResult, Path] | None:
        """The cached export and its complete file, or None."""
        key = cache_key(client.base_url, client.key_fingerprint, dataset_id, fmt, options, include_failed_items)
        with _LOCK:
            entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            export = ExportResult.from_api(entry)
        except (KeyError, TypeError, ValueError):
            return None
        path = self.path_for(export)
        if path.is_file() and path.stat().st_size == export.file_size_bytes:
            return export, path
        return None

    def remember(self, client: "Client", dataset_id: str, fmt: str, options: dict[str, Any] | None,
                 include_failed_items: bool, export: ExportResult) -> None:
        """Record ``export`` (downloaded to :meth:`path_for`) for later lookups."""
        key = cache_key(client.base_url, client.key_fingerprint, dataset_id, fmt, options, include_failed_items)
        entry = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(export).items()}
        with _LOCK:
            index = self._read()
            index[key] = entry
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.index_path.with_name(f"index.json.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.index_path)
