"""policy generation: a value that triggers change on every write to a fact the policy reads

A new random value each time, not a counter: a database restored from a backup, or recreated,
never comes back to a value an API process may still hold answers for.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: table -> the columns whose change can change a decision (None: any column)
WATCHED: dict[str, tuple[str, ...] | None] = {
    "consent": None,
    "coach_assignment": None,
    "employer": ("contract_start", "contract_end"),
    # names too: the alert queue keeps the labels of the people it may show with their decision
    "person": ("birth_date", "restricted", "employer_id", "given_name", "family_name"),
    "break_glass_grant": ("user_id", "person_id", "expires_at"),
}
BUMP = {
    "sqlite": "UPDATE policy_generation SET value = random() WHERE id = 1",
    "postgresql": "UPDATE policy_generation SET value = floor(random() * 9e18)::bigint WHERE id = 1",
}


def upgrade() -> None:
    op.create_table(
        "policy_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    dialect = op.get_bind().dialect.name
    op.execute("INSERT INTO policy_generation (id, value) VALUES (1, 0)")
    op.execute(BUMP[dialect])
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION policy_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {BUMP[dialect]}; RETURN NULL; END $$"
        )
        for table, columns in WATCHED.items():
            update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
            op.execute(
                f"CREATE TRIGGER {table}_policy_generation AFTER INSERT OR DELETE OR {update} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION policy_generation_bump()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_policy_generation_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION policy_generation_bump()"
            )
        return
    for table, columns in WATCHED.items():
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        for event in ("INSERT", "DELETE", update):
            name = f"{table}_policy_generation_{event.split()[0].lower()}"
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {BUMP[dialect]}; END")


def downgrade() -> None:
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
