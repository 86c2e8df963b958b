"""Tables of the rules service, the same on SQLite and PostgreSQL; Alembic migrations
(services/rules/migrations) create and change them.

A rule belongs to a product; its definition (trigger, conditions, actions, safeguards) is JSON
checked by services.rules.schemas. A task is what a rule raised for an account: one open task
per rule and account, enforced by the unique `open_key` (set while the task is open or snoozed,
NULL once closed). Every change to a task is a row of `task_history`.
"""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.sql import UtcDateTime, new_id, utcnow


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Rule(Base):
    __tablename__ = "rules"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("rul"))
    product_id: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    definition: Mapped[dict[str, Any]]  # schemas.RuleDefinition as JSON
    # Round-robin assignment: how many tasks this rule has handed out.
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    # Schedule rules: when they were last evaluated.
    evaluated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tsk"))
    product_id: Mapped[str] = mapped_column(String(40), index=True)
    rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("rules.id", ondelete="SET NULL"), index=True
    )
    account_id: Mapped[str] = mapped_column(String(255), index=True)
    # "<rule id>:<account id>" while open or snoozed, NULL once closed: one open task per pair.
    open_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    assignee: Mapped[str | None] = mapped_column(String(320), index=True)
    due_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    fired: Mapped[int] = mapped_column(Integer, default=1)  # times its rule fired for it
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]


class TaskHistory(Base):
    __tablename__ = "task_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # created, refired, updated, closed, ...
    actor: Mapped[str] = mapped_column(String(320))  # "rule:<id>" or "api"
    detail: Mapped[dict[str, Any]]
    # Sent on the tasks topic yet (services.rules.task_events): the history is the outbox.
    published: Mapped[bool] = mapped_column(default=False, server_default=false(), index=True)


class Firing(Base):
    """A rule fired for an account and raised or re-fired a task: what re-fire limits count."""

    __tablename__ = "firings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Processed(Base):
    """Messages already acted on, by a key of their own: a redelivered one is skipped."""

    __tablename__ = "processed_messages"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountState(Base):
    """The latest health update of each account: what previews evaluate rules against."""

    __tablename__ = "account_states"

    product_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    scored_at: Mapped[datetime]
    update: Mapped[dict[str, Any]]  # shared.health.HealthUpdate as JSON


class Delivery(Base):
    """A webhook call waiting to be made, or made (the outbox: kept with the task's change, so
    a crash between the two loses neither)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]]
    secret: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Streak(Base):
    """Since when a health rule's conditions have held for an account (each scoring checks
    them), and whether it fired in this streak: a rule fires once per streak, after for_days."""

    __tablename__ = "streaks"

    rule_id: Mapped[str] = mapped_column(
        ForeignKey("rules.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    since: Mapped[datetime]  # the first scoring of the streak (its day, at midnight UTC)
    fired: Mapped[bool] = mapped_column(default=False)
