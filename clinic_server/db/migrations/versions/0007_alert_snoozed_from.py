"""alert.snoozed_from: a snoozed alert comes back as the state it was snoozed from

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert", sa.Column("snoozed_from", sa.String(20), nullable=True))
    # snoozes made before this column existed came back as open
    op.execute("UPDATE alert SET snoozed_from = 'open' WHERE state = 'snoozed'")


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("snoozed_from")
