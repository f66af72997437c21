"""The deployment side of the command line: the backend options of ``serve``, ``db upgrade`` and ``worker``.

Each option also reads an environment variable (so secrets stay out of process lists):
``--database-url`` / ``AION_PANDAS_DATABASE_URL``, ``--storage`` / ``AION_PANDAS_STORAGE``,
``--s3-endpoint-url`` / ``AION_PANDAS_S3_ENDPOINT_URL``, ``--signing-secret`` / ``AION_PANDAS_SIGNING_SECRET``.

>>> args = _parser_for_doctest().parse_args(["db", "upgrade", "--database-url", "sqlite:////tmp/x.sqlite3"])
>>> args.db_command, database_url(args)
('upgrade', 'sqlite:////tmp/x.sqlite3')
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

ENV = {"database_url": "AION_PANDAS_DATABASE_URL", "storage": "AION_PANDAS_STORAGE",
       "s3_endpoint_url": "AION_PANDAS_S3_ENDPOINT_URL", "signing_secret": "AION_PANDAS_SIGNING_SECRET",
       "s3_public_endpoint_url": "AION_PANDAS_S3_PUBLIC_ENDPOINT_URL"}


def add_backend_options(parser: argparse.ArgumentParser, *, storage: bool = True) -> None:
    """The database (and export storage) options shared by ``serve``, ``worker`` and ``db``."""
    parser.add_argument("--database-url", default=None, metavar="URL",
                        help="sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB (default: "
                             "$AION_PANDAS_DATABASE_URL, else SQLite in the data dir)")
    if storage:
        parser.add_argument("--storage", default=None, metavar="WHERE",
                            help="export files: s3://bucket/prefix or a folder (default: $AION_PANDAS_STORAGE, "
                                 "else DIR/exports); S3 credentials from the standard AWS variables")
        parser.add_argument("--s3-endpoint-url", default=None, metavar="URL",
                            help="an S3-compatible store's endpoint (default: $AION_PANDAS_S3_ENDPOINT_URL)")
        parser.add_argument("--s3-public-endpoint-url", default=None, metavar="URL",
                            help="the store as clients reach it, for presigned download URLs (default: "
                                 "$AION_PANDAS_S3_PUBLIC_ENDPOINT_URL, else --s3-endpoint-url)")
        parser.add_argument("--signing-secret", default=None, metavar="SECRET",
                            help="secret for download URLs, the same on every replica (default: "
                                 "$AION_PANDAS_SIGNING_SECRET, else DIR/signing_key)")
    parser.add_argument("--workers", type=int, default=1, help="snapshot workers in this process (0: none)")
    parser.add_argument("--lease-seconds", type=float, default=60.0,
                        help="a claimed snapshot job goes back to the queue after this (a worker died)")


def _option(args: argparse.Namespace, name: str) -> str | None:
    return getattr(args, name, None) or os.environ.get(ENV[name]) or None


def database_url(args: argparse.Namespace) -> str | None:
    return _option(args, "database_url")


def backend_settings(args: argparse.Namespace) -> dict:
    """The Settings fields the backend options give."""
    return {"database_url": database_url(args), "storage": _option(args, "storage"),
            "s3_endpoint_url": _option(args, "s3_endpoint_url"), "signing_secret": _option(args, "signing_secret"),
            "s3_public_endpoint_url": _option(args, "s3_public_endpoint_url"),
            "workers": args.workers, "lease_seconds": args.lease_seconds}


def add_deploy_commands(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="the service's database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "upgrade the schema to this version's newest revision, keeping the data"),
                       ("current", "print the schema revision of the database")):
        cmd = db_sub.add_parser(name, help=text)
        cmd.add_argument("--database-url", default=None, metavar="URL")
        cmd.add_argument("--data-dir", type=Path, default=None, help="its SQLite, when no --database-url")
    worker = sub.add_parser("worker", help="run snapshot workers only (no HTTP), on a shared database")
    worker.add_argument("--data-dir", type=Path, default=None, help="its SQLite, when no --database-url")
    add_backend_options(worker, storage=False)
    worker.add_argument("--poll-seconds", type=float, default=0.5)


def _parser_for_doctest() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_deploy_commands(parser.add_subparsers(dest="command"))
    return parser


def _url_or_default(args: argparse.Namespace) -> str:
    from .embedded import default_data_dir
    from .server.database import sqlite_url

    data_dir = Path(args.data_dir or default_data_dir()).expanduser().resolve()
    return database_url(args) or sqlite_url(data_dir / "aion.sqlite3")


def run_db(args: argparse.Namespace) -> int:
    from .server.database import head_revision, make_engine, schema_revision, upgrade

    engine = make_engine(_url_or_default(args))
    shown = engine.url.render_as_string(hide_password=True)
    try:
        before = schema_revision(engine)
        if args.db_command == "current":
            print(f"{shown}: revision {before or 'none'} (newest: {head_revision()})")
            return 0
        upgrade(engine)
        print(f"{shown}: upgraded from {before or 'an empty database'} to {schema_revision(engine)}")
        return 0
    finally:
        engine.dispose()


def run_worker(args: argparse.Namespace) -> int:
    from .server.database import SchemaBehind
    from .server.store import Store
    from .server.worker import WorkerPool

    try:
        store = Store(_url_or_default(args), migrate=False)
    except SchemaBehind as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    pool = WorkerPool(store, max(1, args.workers), args.poll_seconds, args.lease_seconds)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    pool.start()
    print(f"aion-pandas worker: {len(pool.workers)} worker(s) on {store.engine.url.render_as_string(True)}"
          f" ({', '.join(w.worker_id for w in pool.workers)})", flush=True)
    done.wait()
    pool.stop()
    store.close()
    return 0
