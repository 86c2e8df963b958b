"""Rules acting on what happens to accounts: one health update or one event at a time.

For each enabled rule of the product with a matching trigger, the conditions are evaluated on
the account's context (services.rules.fields). A rule that fires raises a task, or re-fires the
open one (never a second open task per rule and account: `tasks.open_key` is unique), queues
its webhook call, and records the firing. Everything a message causes is written in one
transaction together with the message's key, so a redelivered message changes nothing.

Health rules fire on the scoring where their conditions start to hold (or, with for_days, once
they have held that long), once per streak: an account that stays red does not get a task
every hour, and a task its CSM closed is not raised again until the conditions stop holding and
hold again. Event rules fire on every matching event.
"""

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.fields import PLACEHOLDER, event_context, health_context, holds
from services.rules.models import (
    AccountState,
    Delivery,
    Firing,
    Processed,
    Rule,
    Streak,
    Task,
    TaskHistory,
)
from services.rules.schemas import RuleDefinition
from shared.health import HealthUpdate

log = logging.getLogger(__name__)

OPEN = ("open", "snoozed")


@dataclass(frozen=True)
class Outcome:
    rule_id: str
    account_id: str
    action: str  # created, refired, snoozed, closed, limited


def render(template: str, context: Mapping[str, Any]) -> str:
    """The template with each {field} replaced by its value ("" when unknown); nothing else
    in the text is interpreted."""

    def value(match: re.Match[str]) -> str:
        found = context.get(match.group(1))
        if isinstance(found, float) and found.is_integer():
            found = int(found)
        return "" if found is None else str(found)

    return PLACEHOLDER.sub(value, template)


def matches(definition: RuleDefinition, context: Mapping[str, Any]) -> bool:
    results = (holds(c.field, c.op, c.value, context) for c in definition.conditions)
    return all(results) if definition.match == "all" else any(results)


async def first_time(session: AsyncSession, key: str) -> bool:
    """Record `key` as processed in this transaction; False when it already was."""
    try:
        async with session.begin_nested():
            session.add(Processed(key=key))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def on_health(session: AsyncSession, update: HealthUpdate, now: datetime) -> list[Outcome]:
    """Act on one health update; the caller commits."""
    key = f"health:{update.product_id}:{update.account_id}:{update.scored_at.isoformat()}"
    if not await first_time(session, _short(key)):
        return []
    if not await _remember(session, update):
        return []  # a day before the account's latest: history, not news to act on
    context = health_context(update)
    outcomes = []
    for rule in await rules_of(session, update.product_id, "health"):
        definition = RuleDefinition.model_validate(rule.definition)
        found = await _on_state(session, rule, definition, update, context, now)
        outcomes += [found] if found else []
    return outcomes


async def on_schedule(session: AsyncSession, now: datetime) -> list[Outcome]:
    """Evaluate every schedule rule that is due on every account's latest health, as of today
    (day counts such as days_since_signup advance even while an account is not scored); the
    caller commits."""
    today = now.date()
    outcomes = []
    for rule in await session.scalars(select(Rule).where(Rule.enabled).order_by(Rule.created_at)):
        definition = RuleDefinition.model_validate(rule.definition)
        every = timedelta(hours=definition.trigger.every_hours)
        if definition.trigger.type != "schedule" or (
            rule.evaluated_at is not None and now - rule.evaluated_at < every
        ):
            continue
        rule.evaluated_at = now
        states = await session.scalars(
            select(AccountState).where(AccountState.product_id == rule.product_id)
        )
        for state in states:
            update = HealthUpdate.model_validate(state.update)
            update = update.model_copy(update={"day": max(update.day, today)})
            context = health_context(update)
            found = await _on_state(session, rule, definition, update, context, now)
            outcomes += [found] if found else []
    return outcomes


async def _on_state(
    session: AsyncSession,
    rule: Rule,
    definition: RuleDefinition,
    update: HealthUpdate,
    context: Mapping[str, Any],
    now: datetime,
) -> Outcome | None:
    """A health or schedule rule on an account as of `update.day`: fire once per streak of
    days its conditions hold (after for_days), or close its task when they stop (auto_close)."""
    account = update.account_id
    day = datetime.combine(update.day, time(), tzinfo=UTC)
    streak = await session.get(Streak, (rule.id, account))
    if not matches(definition, context):
        if streak is not None:
            await session.delete(streak)
        if definition.auto_close and await _auto_close(session, rule, definition, account, now):
            return Outcome(rule.id, account, "closed")
        return None
    if streak is None:
        streak = Streak(rule_id=rule.id, account_id=account, since=day)
        session.add(streak)
    if streak.fired or day - streak.since < timedelta(days=definition.for_days):
        return None
    streak.fired = True
    return await fire(session, rule, definition, account, context, now)


async def on_event(
    session: AsyncSession,
    product_id: str,
    message_id: str,
    account: str,
    name: str | None,
    user_id: str,
    properties: Mapping[str, Any],
    now: datetime,
    event_rules: list[Rule] | None = None,
    received_at: datetime | None = None,
) -> list[Outcome]:
    """Act on one track call of an account; the caller commits. `event_rules`: the product's
    event rules, when the caller already has them (a batch of events reads them once). A rule
    ignores events received before it was created (a backlog after an outage, say)."""
    if event_rules is None:
        event_rules = await rules_of(session, product_id, "event")
    rules = [
        r
        for r in event_rules
        if r.definition["trigger"].get("event") in (None, name)
        and (received_at is None or r.created_at <= received_at)
    ]
    if not rules or not await first_time(session, _short(f"event:{product_id}:{message_id}")):
        return []
    context = event_context(account, name, user_id, properties)
    outcomes = []
    for rule in rules:
        definition = RuleDefinition.model_validate(rule.definition)
        if matches(definition, context):
            outcomes.append(await fire(session, rule, definition, account, context, now))
    return outcomes


async def fire(
    session: AsyncSession,
    rule: Rule,
    definition: RuleDefinition,
    account: str,
    context: Mapping[str, Any],
    now: datetime,
) -> Outcome:
    """Raise the rule's task for the account, or re-fire the open one."""
    if definition.max_fires is not None:
        since = now - timedelta(days=definition.per_days)
        fired = await session.scalar(
            select(func.count())
            .select_from(Firing)
            .where(Firing.rule_id == rule.id, Firing.account_id == account, Firing.at > since)
        )
        if (fired or 0) >= definition.max_fires:
            return Outcome(rule.id, account, "limited")
    session.add(Firing(rule_id=rule.id, account_id=account, at=now))
    action = definition.task
    task = await session.scalar(select(Task).where(Task.open_key == f"{rule.id}:{account}"))
    if task is not None:
        task.fired += 1
        task.updated_at = now
        snoozed = task.status == "snoozed" and (task.snoozed_until or now) > now
        kind = "snoozed" if snoozed else "refired"
        session.add(TaskHistory(task_id=task.id, at=now, kind=kind, actor=_actor(rule), detail={}))
        if not snoozed:
            _queue_webhook(session, rule, definition, "task.refired", task, context)
        return Outcome(rule.id, account, kind)

    task = Task(
        product_id=rule.product_id,
        rule_id=rule.id,
        account_id=account,
        open_key=f"{rule.id}:{account}",
        title=render(action.title, context)[:500],
        body=render(action.body, context),
        type=action.type,
        priority=action.priority,
        status="open",
        assignee=((await _assignee(session, rule, definition, context)) or "")[:320] or None,
        due_at=now + timedelta(days=action.due_in_days),
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    session.add(
        TaskHistory(
            task_id=task.id,
            at=now,
            kind="created",
            actor=_actor(rule),
            detail={"rule": rule.name, "assignee": task.assignee},
        )
    )
    _queue_webhook(session, rule, definition, "task.created", task, context)
    return Outcome(rule.id, account, "created")


async def preview(session: AsyncSession, rule: Rule) -> list[str]:
    """Accounts whose latest health update meets a health rule's conditions now."""
    definition = RuleDefinition.model_validate(rule.definition)
    states = await session.scalars(
        select(AccountState)
        .where(AccountState.product_id == rule.product_id)
        .order_by(AccountState.account_id)
    )
    return [
        s.account_id
        for s in states
        if matches(definition, health_context(HealthUpdate.model_validate(s.update)))
    ]


async def close(session: AsyncSession, task: Task, status: str, actor: str, now: datetime) -> None:
    task.status = status
    task.open_key = None
    task.closed_at = now
    task.updated_at = now
    session.add(
        TaskHistory(task_id=task.id, at=now, kind="closed", actor=actor, detail={"status": status})
    )


async def _auto_close(
    session: AsyncSession, rule: Rule, definition: RuleDefinition, account: str, now: datetime
) -> bool:
    task = await session.scalar(select(Task).where(Task.open_key == f"{rule.id}:{account}"))
    if task is None:
        return False
    await close(session, task, "done", _actor(rule), now)
    _queue_webhook(session, rule, definition, "task.closed", task, {"account.id": account})
    return True


async def _assignee(
    session: AsyncSession, rule: Rule, definition: RuleDefinition, context: Mapping[str, Any]
) -> str | None:
    assign = definition.task.assign
    people = [str(p) for p in assign.people]
    if assign.to == "owner":
        owner = context.get("account.owner")
        return str(owner) if owner else (str(assign.fallback) if assign.fallback else None)
    if assign.to == "fixed":
        return people[0]
    if assign.to == "round_robin":
        chosen = people[rule.assigned % len(people)]
        rule.assigned += 1
        return chosen
    counts = dict.fromkeys(people, 0)
    rows = await session.execute(
        select(Task.assignee, func.count())
        .where(
            Task.product_id == rule.product_id,
            Task.status.in_(OPEN),
            Task.assignee.in_(people),
        )
        .group_by(Task.assignee)
    )
    for person, open_tasks in rows:
        if person is not None:
            counts[person] = open_tasks
    return min(people, key=lambda p: counts[p])  # ties: the first listed


def _queue_webhook(
    session: AsyncSession,
    rule: Rule,
    definition: RuleDefinition,
    kind: str,
    task: Task,
    context: Mapping[str, Any],
) -> None:
    hook = definition.webhook
    if hook is None:
        return
    facts = {
        "event": kind,
        "rule": {"id": rule.id, "name": rule.name},
        "task": {
            "id": task.id,
            "account_id": task.account_id,
            "title": task.title,
            "body": task.body,
            "type": task.type,
            "priority": task.priority,
            "status": task.status,
            "assignee": task.assignee,
            "due_at": task.due_at.isoformat() if task.due_at else None,
            "fired": task.fired,
        },
    }
    payload: dict[str, Any] = facts
    if hook.format == "slack":
        who = f" ({task.assignee})" if task.assignee else ""
        payload = {"text": f"[{kind}] {task.title}{who}: {rule.name}"}
    session.add(Delivery(rule_id=rule.id, url=str(hook.url), payload=payload, secret=hook.secret))


async def rules_of(session: AsyncSession, product_id: str, trigger: str) -> list[Rule]:
    """The product's enabled rules with this trigger, oldest first."""
    found = await session.scalars(
        select(Rule).where(Rule.product_id == product_id, Rule.enabled).order_by(Rule.created_at)
    )
    return [r for r in found if r.definition["trigger"]["type"] == trigger]


async def _remember(session: AsyncSession, update: HealthUpdate) -> bool:
    """Keep the update as the account's latest unless a later day (or a later scoring of the
    same day) is already kept; returns whether it was kept."""
    state = await session.get(AccountState, (update.product_id, update.account_id))
    if state is None:
        state = AccountState(product_id=update.product_id, account_id=update.account_id)
        session.add(state)
    else:
        kept = date.fromisoformat(state.update["day"])
        if (kept, state.scored_at) >= (update.day, update.scored_at):
            return False
    state.scored_at = update.scored_at
    state.update = update.model_dump(mode="json")
    return True


def _actor(rule: Rule) -> str:
    return f"rule:{rule.id}"


def _short(key: str) -> str:
    """Keys beyond the column's 400 characters (long account ids) as their hash."""
    return key if len(key) <= 400 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()
