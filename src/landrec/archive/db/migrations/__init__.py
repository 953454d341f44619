"""Alembic's environment and the archive's migration scripts (run by `db.migrate`)."""
