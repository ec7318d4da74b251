"""job_run: one row per scheduled server job, so processes sharing a database take turns

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import clinic_server.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=True),
        sa.Column("running_until", clinic_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", clinic_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute("INSERT INTO job_run (name) VALUES ('missing-data-sweep')")


def downgrade() -> None:
    op.drop_table("job_run")
