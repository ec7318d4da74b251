"""Employer reports: the issued reports and the populations they rest on (contributions as keyed
hashes).

Revision ID: 0015
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

import clinic_server.db

revision = "0015"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_report",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("employer_id", sa.String(length=32), sa.ForeignKey("employer.id"), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("min_cell", sa.Integer(), nullable=False),
        sa.Column("report_rule", sa.String(length=60), nullable=False),
        sa.Column("disclosure_rule", sa.String(length=60), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("issued_by_id", sa.String(length=32), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("issued_at", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("employer_id", "period", name="uq_issued_report_period"),
    )
    op.create_table(
        "report_population",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(length=32), sa.ForeignKey("issued_report.id"), nullable=False),
        sa.Column("table_id", sa.String(length=80), nullable=False),
        sa.Column("person_id", sa.String(length=32), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("atom", sa.String(length=40), nullable=False),
        sa.Column("contribution", sa.String(length=64), nullable=True),
        sa.Column("created_at", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_population_report", "report_population", ["report_id"])
    op.create_index("ix_report_population_person", "report_population", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_report_population_person", table_name="report_population")
    op.drop_index("ix_report_population_report", table_name="report_population")
    op.drop_table("report_population")
    op.drop_table("issued_report")
