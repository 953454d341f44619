"""The view a model saw each file from (issue 29: ground or overhead): `view` and
`view_confidence` on `tags`, on `files` (the current tag's copy, indexed for the list's filter)
and on `segments` (a video segment's or a page's view). Nullable: rows tagged before, or by a
model without a view output, have none until they are tagged again (`archive retag`).
Also an index for the distributed dispatcher's claim of rows to send (status, queued_at, id):
without it every pass read through all the pending rows already sent.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("files", "tags", "segments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("view", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("view_confidence", sa.Float(), nullable=True))
    op.create_index("ix_files_view_id", "files", ["view", "id"])
    op.create_index("ix_files_status_queued_id", "files", ["status", "queued_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_files_status_queued_id", table_name="files")
    op.drop_index("ix_files_view_id", table_name="files")
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("view_confidence")
            batch.drop_column("view")
