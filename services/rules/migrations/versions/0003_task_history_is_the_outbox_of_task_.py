"""task history is the outbox of task events

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_history", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f("ix_task_history_published"), ["published"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_history_published"))
        batch_op.drop_column("published")
