"""audit_event: index (username, seq) for the supervisor's per-user audit query

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_username_seq", "audit_event", ["username", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_username_seq", table_name="audit_event")
