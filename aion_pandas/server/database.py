"""The database: an engine for a URL (SQLite or PostgreSQL) and its schema version (Alembic).

``sqlite:///PATH`` gets WAL, foreign keys and ``BEGIN IMMEDIATE`` for writes (one writer at a time, across
processes too); ``postgresql+psycopg://...`` a connection pool, and binary rows for statements run with
``execution_options(binary_results=True)`` (the box chunks). ``upgrade`` runs the Alembic revisions in
``migrations/versions``; ``require_head`` is what ``serve`` and ``worker`` call before they start.

>>> import tempfile; from pathlib import Path
>>> url = sqlite_url(Path(tempfile.mkdtemp()) / "db.sqlite3")
>>> engine = make_engine(url)
>>> schema_revision(engine) is None, upgrade(engine), schema_revision(engine) == head_revision()
(True, None, True)
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")
UPGRADE_HINT = "aion-pandas db upgrade --database-url URL"


class SchemaBehind(RuntimeError):
    """The database's schema is older than this version of the service needs (or missing)."""


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file.

    >>> sqlite_url(Path("/tmp/a.sqlite3"))
    'sqlite:////tmp/a.sqlite3'
    """
    return f"sqlite:///{Path(path)}"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine for ``url``; a SQLite file's folder is made when missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True,
                               pool_recycle=1800)
        if engine.dialect.driver != "psycopg":  # the binary rows below are psycopg 3's
            return engine
        from psycopg.pq import Format

        @event.listens_for(engine, "before_cursor_execute")
        def _binary_results(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
            # a statement run with execution_options(binary_results=True) has its rows sent in PostgreSQL's
            # binary format: a bytea arrives as its bytes instead of twice as many hex digits to decode
            if context is not None and context.execution_options.get("binary_results"):
                cursor.format = Format.BINARY

        return engine
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        # a write takes the lock at BEGIN, so two writers queue instead of failing on a stale snapshot
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


def _alembic_config(connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of the service knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def schema_revision(engine: Engine) -> str | None:
    """The database's revision (None: no schema yet)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default: the newest), keeping the data."""
    from alembic import command

    from .legacy_sqlite import adopt_legacy_sqlite, is_legacy

    if is_legacy(engine):  # a data dir made before migrations: bring it to revision 0001 first
        adopt_legacy_sqlite(engine)
    with engine.connect().execution_options(write=True) as conn:
        command.upgrade(_alembic_config(conn), revision)
        conn.commit()


def require_head(engine: Engine) -> None:
    """Raise SchemaBehind, naming the command to run, unless the schema is at the newest revision."""
    current, head = schema_revision(engine), head_revision()
    if current == head:
        return
    if current is None and inspect(engine).has_table("datasets"):
        current = "from before migrations"
    shown = engine.url.render_as_string(hide_password=True)
    raise SchemaBehind(f"the database {shown} has schema revision {current or 'none (empty database)'}, this "
                       f"version of aion-pandas needs {head}: run `{UPGRADE_HINT}` first")
