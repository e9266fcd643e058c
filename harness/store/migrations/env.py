"""Alembic environment: runs the revision scripts on the connection given by :mod:`harness.store.migrations`.

No ``alembic.ini``: the config is built in code (:func:`harness.store.migrations.alembic_config`) and
carries an open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from harness.store import load_table_modules
from harness.store.base import Base
from harness.store.migrations import VERSION_TABLE

load_table_modules()

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("harness migrations run on a connection: "
                       "use harness.store.migrations.alembic_config(conn)")
# render_as_batch: SQLite cannot ALTER most things in place; autogenerate writes batch (copy-and-move) ops
context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE,
                  render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
