"""Alembic's environment: migrates the connection `db.migrate` hands over (online only)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from landrec.archive.db.models import Base


def run(connection: Connection) -> None:
    """Run the pending migrations on `connection` against the models' metadata."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copy ("batch" mode)
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Use the connection given in the config's attributes, else `sqlalchemy.url`."""
    if context.is_offline_mode():
        raise RuntimeError("offline (SQL script) migrations are not supported")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url", ""), poolclass=NullPool)
    with engine.begin() as new_connection:
        run(new_connection)
    engine.dispose()


main()
