"""Audit shards: one hash chain per shard, each with its own head row, and periodic checkpoints
binding every shard's head (docs/audit.md). The existing chain becomes shard 0, unchanged.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

import clinic_server.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

#: shards made here; ``audit/chain.py`` uses whatever rows ``audit_shard_head`` holds
SHARDS = 16
GENESIS = "0" * 64


def upgrade() -> None:
    bind = op.get_bind()
    # a constant default: PostgreSQL adds it without rewriting the table, SQLite in place; the
    # append-only triggers stay as they are (no existing row changes)
    op.add_column("audit_event", sa.Column("shard", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_audit_event_shard_seq", "audit_event", ["shard", "seq"], unique=False)
    op.create_table(
        "audit_shard_head",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_audit_shard_head")),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ts", clinic_server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    # shard 0 takes the existing chain's head; the others start empty
    op.execute(
        "INSERT INTO audit_shard_head (shard, seq, last_hash) "
        "SELECT 0, seq, last_hash FROM audit_head WHERE id = 1"
    )
    op.execute(
        f"INSERT INTO audit_shard_head (shard, seq, last_hash) SELECT 0, 0, '{GENESIS}' "  # noqa: S608
        "WHERE NOT EXISTS (SELECT 1 FROM audit_shard_head)"
    )
    for shard in range(1, SHARDS):
        op.execute(f"INSERT INTO audit_shard_head (shard, seq, last_hash) VALUES ({shard}, 0, '{GENESIS}')")  # noqa: S608
    op.execute("INSERT INTO job_run (name) VALUES ('audit-checkpoint')")
    if bind.dialect.name == "postgresql":
        # the global seq: a sequence (never blocks), continuing after the existing chain
        op.execute("CREATE SEQUENCE audit_event_seq AS bigint")
        op.execute(
            "SELECT setval('audit_event_seq', greatest(coalesce((SELECT max(seq) FROM audit_event), 0), "
            "coalesce((SELECT seq FROM audit_head WHERE id = 1), 0), 1), "
            "coalesce((SELECT max(seq) FROM audit_event), 0) > 0 OR "
            "coalesce((SELECT seq FROM audit_head WHERE id = 1), 0) > 0)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS audit_event_seq")
    op.execute("DELETE FROM job_run WHERE name = 'audit-checkpoint'")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_shard_head")
    op.drop_index("ix_audit_event_shard_seq", table_name="audit_event")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("shard")
