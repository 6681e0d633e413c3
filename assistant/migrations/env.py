"""Alembic's entry point, run by ``assistant.database.migrate`` on a connection it already holds (and locked).

No ini file and no URL here: the caller passes the connection in ``config.attributes``, so the migrations run
on exactly the database the settings name, inside the caller's transaction.
"""

from __future__ import annotations

from alembic import context

from assistant.database import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through assistant.database.migrate (it passes the connection)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
