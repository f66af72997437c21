"""Alembic's environment for the service's database: runs on the connection ``database.py`` hands it.

>>> # run by alembic.command.upgrade(...) from aion_pandas.server.database, never imported by hand
"""
from __future__ import annotations

from alembic import context

from aion_pandas.server.tables import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
