"""The coach's meeting parts say when each row was stored (``recorded_at``): the register extract
dates them and an IMR anonymization keeps the month. Existing rows take their meeting's creation.

Revision ID: 0020
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import clinic_server.db

revision = "0020"
down_revision = "0011"
branch_labels = None
depends_on = None

PARTS = (
    "coaching_measurement",
    "coaching_questionnaire",
    "coaching_fitness_test",
    "coaching_note",
    "coaching_assessment",
)


def upgrade() -> None:
    for table in PARTS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("recorded_at", clinic_server.db.UTCDateTime(timezone=True), nullable=True)
            )
        part = sa.table(table, sa.column("meeting_id"), sa.column("recorded_at"))
        meeting = sa.table("coaching_meeting", sa.column("id"), sa.column("created_at"))
        created = sa.select(meeting.c.created_at).where(meeting.c.id == part.c.meeting_id).scalar_subquery()
        op.execute(part.update().values(recorded_at=created))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "recorded_at", existing_type=clinic_server.db.UTCDateTime(timezone=True), nullable=False
            )


def downgrade() -> None:
    for table in reversed(PARTS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("recorded_at")
