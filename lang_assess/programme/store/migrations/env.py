"""Alembic environment: runs on the connection that
:func:`lang_assess.programme.store.db.migrate` passes."""

from alembic import context

from lang_assess.programme.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through migrate()
    raise RuntimeError("run migrations through lang_assess.programme.store.db.migrate(engine)")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
