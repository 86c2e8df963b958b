"""rules, tasks and their history

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

import shared.sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_states",
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("scored_at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.Column("update", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "account_id"),
    )
    op.create_table(
        "processed_messages",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("created_at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rules_product_id"), ["product_id"], unique=False)

    op.create_table(
        "firings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("firings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_firings_at"), ["at"], unique=False)

    op.create_table(
        "streaks",
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("since", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.Column("fired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rule_id", "account_id"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=True),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("open_key", sa.String(length=300), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=320), nullable=True),
        sa.Column("due_at", shared.sql.UtcDateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", shared.sql.UtcDateTime(timezone=True), nullable=True),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", shared.sql.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key"),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_assignee"), ["assignee"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_status"), ["status"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_next_at"), ["next_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_status"), ["status"], unique=False)

    op.create_table(
        "task_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=40), nullable=False),
        sa.Column("at", shared.sql.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_history_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_history_task_id"))

    op.drop_table("task_history")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_status"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_next_at"))

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_tasks_rule_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_product_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_assignee"))
        batch_op.drop_index(batch_op.f("ix_tasks_account_id"))

    op.drop_table("tasks")
    op.drop_table("streaks")
    with op.batch_alter_table("firings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firings_at"))

    op.drop_table("firings")
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rules_product_id"))

    op.drop_table("rules")
    op.drop_table("processed_messages")
    op.drop_table("account_states")
