"""Navigation data: each file's track and footprint corners, its campaign (air, land, sea), and
the sensor's and frame centre's position at the start of each video segment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
SEGMENT_POSITIONS = (
    "sensor_latitude",
    "sensor_longitude",
    "frame_center_latitude",
    "frame_center_longitude",
)


def _file_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["file_id"], ["files.id"], name=op.f(f"fk_{table}_file_id_files"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Add `files.campaign` (None until the file is indexed again) and `campaign_corrected`
    (false for every existing row), the segments' four positions (None), and create `tracks`
    and `track_points` (new tables: nothing to convert)."""
    op.add_column("files", sa.Column("campaign", sa.String(length=8), nullable=True))
    op.add_column(
        "files",
        sa.Column("campaign_corrected", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(op.f("ix_files_campaign"), "files", ["campaign"])
    for name in SEGMENT_POSITIONS:
        op.add_column("segments", sa.Column(name, sa.Float(), nullable=True))
    op.create_table(
        "tracks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("standards", sa.JSON(), nullable=False),
        sa.Column("packets", sa.Integer(), nullable=False),
        sa.Column("bad_packets", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("max_lon", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
        sa.Column("start_at", TIME, nullable=True),
        sa.Column("end_at", TIME, nullable=True),
        sa.Column("platform", sa.String(length=128), nullable=True),
        sa.Column("sensor", sa.String(length=128), nullable=True),
        sa.Column("geojson", sa.JSON(), nullable=False),
        sa.Column("line", sa.JSON(), nullable=True),
        _file_fk("tracks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
        sa.UniqueConstraint("file_id", name=op.f("uq_tracks_file_id")),
    )
    op.create_index(op.f("ix_tracks_start_at"), "tracks", ["start_at"])
    op.create_index(op.f("ix_tracks_end_at"), "tracks", ["end_at"])
    op.create_table(
        "track_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("t", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("footprint", sa.Boolean(), nullable=False),
        _file_fk("track_points"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_points")),
    )
    op.create_index(op.f("ix_track_points_file_id"), "track_points", ["file_id"])
    op.create_index("ix_track_points_lat_lon", "track_points", ["latitude", "longitude"])


def downgrade() -> None:
    """Drop the two tables and the added columns (SQLite 3.35+ and PostgreSQL drop in place)."""
    op.drop_index("ix_track_points_lat_lon", table_name="track_points")
    op.drop_index(op.f("ix_track_points_file_id"), table_name="track_points")
    op.drop_table("track_points")
    op.drop_index(op.f("ix_tracks_end_at"), table_name="tracks")
    op.drop_index(op.f("ix_tracks_start_at"), table_name="tracks")
    op.drop_table("tracks")
    for name in SEGMENT_POSITIONS:
        op.drop_column("segments", name)
    op.drop_index(op.f("ix_files_campaign"), table_name="files")
    op.drop_column("files", "campaign_corrected")
    op.drop_column("files", "campaign")
