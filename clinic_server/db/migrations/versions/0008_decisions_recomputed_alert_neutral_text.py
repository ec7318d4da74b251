"""Every access decision is recomputed per request: the policy generation and its triggers go.
alert.neutral_message: the alert's text without what the person's conditions chose.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from clinic_tui.domain.alerts import RULES, neutral_message

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: the tables migration 0004 put policy-generation triggers on
WATCHED = ("consent", "coach_assignment", "employer", "person", "break_glass_grant")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_policy_generation ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_policy_generation_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS policy_generation_bump()")
    else:
        for table in WATCHED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_policy_generation_{event}")
    op.drop_table("policy_generation")

    op.add_column("alert", sa.Column("neutral_message", sa.Text(), nullable=False, server_default=""))
    conn = op.get_bind()
    alert = sa.table(
        "alert",
        sa.column("id", sa.Integer),
        sa.column("rule_id", sa.String),
        sa.column("message", sa.Text),
        sa.column("inputs", sa.JSON),
        sa.column("neutral_message", sa.Text),
    )
    conn.execute(alert.update().values(neutral_message=alert.c.message))
    worded = [r for r, info in RULES.items() if info.condition_inputs]
    rows = conn.execute(
        sa.select(alert.c.id, alert.c.rule_id, alert.c.message, alert.c.inputs).where(
            alert.c.rule_id.in_(worded)
        )
    ).all()
    for row in rows:
        conn.execute(
            alert.update()
            .where(alert.c.id == row.id)
            .values(neutral_message=neutral_message(row.rule_id, row.inputs or {}, row.message))
        )


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("neutral_message")
    op.create_table(
        "policy_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO policy_generation (id, value) VALUES (1, 0)")
