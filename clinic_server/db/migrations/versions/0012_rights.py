"""The people's rights: integration credentials, corrections, objections, requests, legal holds,
billing records for bookkeeping, anonymized records; the retention job's row in job_run

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import clinic_server.db

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = clinic_server.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "anonymized_record",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=True),
        sa.Column("age_band", sa.String(length=10), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "integration_client",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index(
        op.f("ix_integration_client_organization_id"), "integration_client", ["organization_id"], unique=False
    )
    op.create_table(
        "billing_record",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=True),
        sa.Column("employer_id", sa.String(length=32), nullable=True),
        sa.Column("service", sa.String(length=60), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("fiscal_year_end", sa.Date(), nullable=False),
        sa.Column("keep_until", sa.Date(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["employer_id"], ["employer.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_billing_record_keep_until"), "billing_record", ["keep_until"], unique=False)
    op.create_index(op.f("ix_billing_record_person_id"), "billing_record", ["person_id"], unique=False)
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("held_until", sa.Date(), nullable=True),
        sa.Column("set_by", sa.String(length=120), nullable=False),
        sa.Column("set_at", UTC, nullable=False),
        sa.Column("released_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_legal_hold_person_id"), "legal_hold", ["person_id"], unique=False)
    op.create_table(
        "objection",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("objected_at", UTC, nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("withdrawn_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_objection_person_id"), "objection", ["person_id"], unique=False)
    op.create_table(
        "person_correction",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("corrected_by", sa.String(length=120), nullable=False),
        sa.Column("corrected_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_person_correction_person_id"), "person_correction", ["person_id"], unique=False)
    op.create_table(
        "subject_request",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("completed_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_subject_request_person_id"), "subject_request", ["person_id"], unique=False)
    # counted as run now: serve's first retention run comes one interval after the upgrade, so an
    # operator can see what it would remove first (clinic-server retention run --dry-run)
    op.execute("INSERT INTO job_run (name, last_finished_at) VALUES ('retention', CURRENT_TIMESTAMP)")


def downgrade() -> None:
    op.execute("DELETE FROM job_run WHERE name = 'retention'")
    for table in ("subject_request", "person_correction", "objection", "legal_hold"):
        op.drop_index(op.f(f"ix_{table}_person_id"), table_name=table)
        op.drop_table(table)
    op.drop_index(op.f("ix_billing_record_person_id"), table_name="billing_record")
    op.drop_index(op.f("ix_billing_record_keep_until"), table_name="billing_record")
    op.drop_table("billing_record")
    op.drop_index(op.f("ix_integration_client_organization_id"), table_name="integration_client")
    op.drop_table("integration_client")
    op.drop_table("anonymized_record")
