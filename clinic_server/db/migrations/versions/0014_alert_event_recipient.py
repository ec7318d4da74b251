"""alert_event.recipient: who an escalated alert was handed to ("Dr. Lind, cardiology")

Revision ID: 0014
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert_event", sa.Column("recipient", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_event") as batch:
        batch.drop_column("recipient")
