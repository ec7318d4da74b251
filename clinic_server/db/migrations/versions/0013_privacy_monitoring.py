"""Privacy monitoring: findings and their verdicts, break-the-glass verdicts, the scan's cursor and
users' active hours, user links (keyed hashes) and the employers a coach serves. Verdicts are
history: a trigger refuses to update them. Two indexes for the audit view's rare filters.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import clinic_server.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

VERDICT_TABLES = ("finding_verdict", "break_glass_verdict")


def _verdict_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=32), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("at", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.String(length=32), sa.ForeignKey("organization.id"), nullable=False),
        sa.Column("user_id", sa.String(length=32), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("first_ts", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_ts", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason_key", sa.String(length=60), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("created_at", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_org_id", "finding", ["organization_id", "id"])
    op.create_index("ix_finding_match", "finding", ["rule_id", "user_id", "last_ts"])

    op.create_table(
        "finding_verdict",
        *_verdict_columns(),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("finding.id"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("finding_id", "ordinal", name="uq_finding_verdict_ordinal"),
    )
    op.create_table(
        "break_glass_verdict",
        *_verdict_columns(),
        sa.Column("grant_id", sa.String(length=32), sa.ForeignKey("break_glass_grant.id"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("grant_id", "ordinal", name="uq_break_glass_verdict_ordinal"),
    )
    op.create_table(
        "finding_cursor",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "user_activity",
        sa.Column("user_id", sa.String(length=32), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day"),
    )
    op.create_table(
        "user_link",
        sa.Column("user_id", sa.String(length=32), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("personnummer_hmac", sa.String(length=64), nullable=True),
        sa.Column("surname_hmacs", sa.JSON(), nullable=False),
        sa.Column("address_hmac", sa.String(length=64), nullable=True),
        sa.Column("updated_at", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_user_link_personnummer_hmac", "user_link", ["personnummer_hmac"])
    op.create_table(
        "coach_employer",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("coach_id", sa.String(length=32), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("employer_id", sa.String(length=32), sa.ForeignKey("employer.id"), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("coach_id", "employer_id", "valid_from"),
    )
    op.create_index("ix_coach_employer_coach_id", "coach_employer", ["coach_id"])
    op.execute("INSERT INTO job_run (name) VALUES ('findings-scan')")
    # the audit view's rare filters (outcome:denied, action:break_glass) walk an index newest first
    op.create_index("ix_audit_event_outcome_seq", "audit_event", ["outcome", "seq"])
    op.create_index("ix_audit_event_action_seq", "audit_event", ["action", "seq"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """CREATE FUNCTION verdict_is_history() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'verdicts are history: add a new one instead'; END $$"""
        )
        for table in VERDICT_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION verdict_is_history()"
            )
    else:
        for table in VERDICT_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'verdicts are history: add a new one instead'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in VERDICT_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update ON {table}")
        op.execute("DROP FUNCTION IF EXISTS verdict_is_history()")
    else:
        for table in VERDICT_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    op.execute("DELETE FROM job_run WHERE name = 'findings-scan'")
    op.drop_index("ix_audit_event_action_seq", table_name="audit_event")
    op.drop_index("ix_audit_event_outcome_seq", table_name="audit_event")
    op.drop_index("ix_coach_employer_coach_id", table_name="coach_employer")
    op.drop_table("coach_employer")
    op.drop_index("ix_user_link_personnummer_hmac", table_name="user_link")
    op.drop_table("user_link")
    op.drop_table("user_activity")
    op.drop_table("finding_cursor")
    op.drop_table("break_glass_verdict")
    op.drop_table("finding_verdict")
    op.drop_index("ix_finding_match", table_name="finding")
    op.drop_index("ix_finding_org_id", table_name="finding")
    op.drop_table("finding")
