"""Settings of one service instance: where it keeps its data, which keys it accepts, how it signs URLs.

With no ``database_url`` and no ``storage`` it is one machine: SQLite and export files in ``data_dir``
(the schema made or upgraded on start). A team's deployment names a PostgreSQL URL, an ``s3://`` store
and one ``signing_secret`` shared by every replica.

>>> s = Settings(data_dir=Path("/tmp/aion"), api_keys=("aion_a", "aion_b"))
>>> s.db_path.name, s.database.startswith("sqlite:///"), s.migrate_on_start
('aion.sqlite3', True, True)
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

API_PREFIX = "/api/v2"


@dataclass(frozen=True)
class Settings:
    """Everything ``create_app`` needs. ``api_keys``: one tenant per key (never logged or shown)."""

    data_dir: Path
    api_keys: tuple[str, ...] = field(repr=False, default=())
    public_url: str | None = None          # e.g. "https://aion.example.org"; else taken from the request
    url_ttl_seconds: int = 24 * 3600       # lifetime of a signed export download URL
    rate_limit_per_minute: int = 0         # per tenant; 0 = no limit
    import_root: Path | None = None        # POST /batches may reference image paths under this folder
    worker_poll_seconds: float = 0.2
    export_concurrency: int = 2            # exports built at once (each holds its frame in memory)
    database_url: str | None = field(repr=False, default=None)  # None: SQLite in data_dir (may hold a password)
    storage: str | None = None             # "s3://bucket/prefix" or a folder; None: data_dir/exports
    s3_endpoint_url: str | None = None     # e.g. "http://127.0.0.1:8333" for an S3-compatible store
    s3_public_endpoint_url: str | None = None  # the store as clients reach it (presigned URLs), if not the same
    signing_secret: str | None = field(repr=False, default=None)  # None: data_dir/signing_key (one machine)
    workers: int = 1                       # snapshot workers in this process (0: leave the work to others)
    lease_seconds: float = 60.0            # a claimed snapshot job returns to the queue after this

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the database."""
        from .database import sqlite_url

        return self.database_url or sqlite_url(self.db_path)

    @property
    def migrate_on_start(self) -> bool:
        """The default SQLite database is upgraded on start; a named database must be upgraded by
        ``aion-pandas db upgrade`` (so several replicas never migrate at once)."""
        return self.database_url is None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "aion.sqlite3"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"


def new_api_key() -> str:
    """A fresh random key in the hosted API's shape, ``aion_...``.

    >>> new_api_key().startswith("aion_")
    True
    """
    return "aion_" + secrets.token_urlsafe(30)


def load_or_create_api_key(data_dir: Path) -> tuple[str, bool]:
    """The key stored in ``data_dir/api_key`` (mode 0600), made on first use; returns (key, created).

    >>> import tempfile; key, created = load_or_create_api_key(Path(tempfile.mkdtemp()))
    >>> created
    True
    """
    path = Path(data_dir) / "api_key"
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key, False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_api_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    os.chmod(path, 0o600)
    return key, True
