"""The detected format's media (MIME) type on files, served as the content's type.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `files.mime` (nullable: rows indexed before it have none until indexed again)."""
    op.add_column("files", sa.Column("mime", sa.String(length=128), nullable=True))


def downgrade() -> None:
    """Drop `files.mime` (SQLite 3.35+ and PostgreSQL drop a column in place)."""
    op.drop_column("files", "mime")
