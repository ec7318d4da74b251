"""alerts: one active alert per person and rule; index for the alert change feed

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE = sa.text("state IN ('open', 'acknowledged', 'snoozed')")


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(
            "uq_alert_active_rule",
            ["person_id", "rule_id"],
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        )
        batch_op.create_index("ix_alert_updated_at", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_updated_at")
        batch_op.drop_index("uq_alert_active_rule")
