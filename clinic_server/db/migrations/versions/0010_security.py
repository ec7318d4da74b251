"""Security: login throttling per username and source, TOTP replay guard, the tally of
unauthenticated failures, and who restricted a person's processing.

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import clinic_server.db

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the bookkeeping is short-lived: the old per-username rows are dropped, not converted
    op.drop_table("login_throttle")
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("blocked_until", clinic_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", clinic_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", clinic_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("window_start", clinic_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", "source"),
    )
    op.create_table(
        "failure_tally",
        sa.Column("window_start", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("window_start", "kind", "source"),
    )
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column("totp_last_step", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("restricted_by_org_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            "fk_person_restricted_by_org_id_organization", "organization", ["restricted_by_org_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.drop_constraint("fk_person_restricted_by_org_id_organization", type_="foreignkey")
        batch.drop_column("restricted_by_org_id")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("totp_last_step")
    op.drop_table("failure_tally")
    op.drop_table("login_throttle")
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", clinic_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", clinic_server.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username"),
    )
