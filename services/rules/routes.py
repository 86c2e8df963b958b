"""Rules and tasks REST API (`Authorization: Bearer <api key>`, `?product=<slug>`)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules import engine
from services.rules.fields import CATALOG, OPERATORS
from services.rules.models import Rule, Task, TaskHistory
from services.rules.schemas import (
    HistoryRead,
    PreviewRead,
    Priority,
    RuleCreate,
    RuleDefinition,
    RuleRead,
    RuleUpdate,
    Status,
    TaskRead,
    TaskType,
    TaskUpdate,
)
from shared.auth import ProductDirectory
from shared.errors import ApiError, NotFound

router = APIRouter(prefix="/v1")

ProductSlug = Annotated[
    str, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="a product slug")
]


@dataclass(frozen=True)
class Caller:
    product_id: str
    slug: str
    session: AsyncSession


async def caller(
    request: Request,
    product: ProductSlug,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    directory: ProductDirectory = request.app.state.products
    found = await directory.product_for(authorization, product)
    async with request.app.state.sessions() as session:
        yield Caller(found.id, product, session)


Call = Annotated[Caller, Depends(caller)]


@router.get("/rules/fields")
async def fields() -> dict[str, Any]:
    """The fields conditions can test, with each one's type, operators and allowed values."""
    return {
        "fields": [f.catalog_entry() for f in CATALOG.values()],
        "operators": OPERATORS,
    }


@router.post("/rules", response_model=RuleRead, status_code=201)
async def create_rule(call: Call, body: RuleCreate) -> RuleRead:
    rule = Rule(
        product_id=call.product_id,
        name=body.name,
        enabled=body.enabled,
        definition=body.definition.model_dump(mode="json"),
    )
    call.session.add(rule)
    await call.session.flush()
    answer = _rule(rule, call.slug)  # before the commit: a rule that cannot be read is not kept
    await call.session.commit()
    return answer


@router.get("/rules", response_model=list[RuleRead])
async def list_rules(call: Call) -> list[RuleRead]:
    found = await call.session.scalars(
        select(Rule).where(Rule.product_id == call.product_id).order_by(Rule.created_at)
    )
    return [_rule(r, call.slug) for r in found]


@router.get("/rules/{rule_id}", response_model=RuleRead)
async def get_rule(call: Call, rule_id: str) -> RuleRead:
    return _rule(await _find_rule(call, rule_id), call.slug)


@router.patch("/rules/{rule_id}", response_model=RuleRead)
async def update_rule(call: Call, rule_id: str, body: RuleUpdate) -> RuleRead:
    rule = await _find_rule(call, rule_id)
    if body.name is not None:
        rule.name = body.name
    if body.enabled is not None:
        rule.enabled = body.enabled
    if body.definition is not None:
        rule.definition = body.definition.model_dump(mode="json")
    await call.session.flush()
    answer = _rule(rule, call.slug)
    await call.session.commit()
    return answer


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(call: Call, rule_id: str) -> None:
    """Delete the rule; its tasks stay, without a rule."""
    rule = await _find_rule(call, rule_id)
    for task in await call.session.scalars(select(Task).where(Task.rule_id == rule.id)):
        task.rule_id = None
    await call.session.delete(rule)
    await call.session.commit()


@router.post("/rules/{rule_id}/preview", response_model=PreviewRead)
async def preview_rule(call: Call, rule_id: str) -> PreviewRead:
    """The accounts whose latest health meets the rule's conditions now; creates nothing."""
    rule = await _find_rule(call, rule_id)
    if rule.definition["trigger"]["type"] == "event":
        raise ApiError(
            "event rules act on events to come: nothing to preview", code="not_previewable"
        )
    return PreviewRead(rule=rule.id, accounts=await engine.preview(call.session, rule))


@router.get("/tasks", response_model=list[TaskRead])
async def list_tasks(
    call: Call,
    status: Status | None = None,
    assignee: Annotated[str | None, Query(max_length=320)] = None,
    type: TaskType | None = None,
    priority: Priority | None = None,
    account: Annotated[str | None, Query(max_length=255)] = None,
    rule: Annotated[str | None, Query(max_length=40)] = None,
    due_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskRead]:
    """Tasks, newest first, filtered by any of the parameters. A snooze that has ended shows as
    open."""
    await _wake_snoozed(call)
    query = select(Task).where(Task.product_id == call.product_id)
    filters = {
        Task.status: status,
        Task.assignee: assignee,
        Task.type: type,
        Task.priority: priority,
        Task.account_id: account,
        Task.rule_id: rule,
    }
    for column, wanted in filters.items():
        if wanted is not None:
            query = query.where(column == wanted)
    if due_before is not None:
        query = query.where(Task.due_at < _aware(due_before, "due_before"))
    found = await call.session.scalars(query.order_by(Task.created_at.desc()).limit(limit))
    return [TaskRead.model_validate(t, from_attributes=True) for t in found]


@router.get("/tasks/{task_id}", response_model=TaskRead)
async def get_task(call: Call, task_id: str) -> TaskRead:
    await _wake_snoozed(call)
    return TaskRead.model_validate(await _find_task(call, task_id), from_attributes=True)


@router.patch("/tasks/{task_id}", response_model=TaskRead)
async def update_task(call: Call, task_id: str, body: TaskUpdate) -> TaskRead:
    """Change status (open, snoozed with snoozed_until, done, dismissed), assignee, priority
    or notes; each change is kept in the task's history."""
    task = await _find_task(call, task_id)
    now = datetime.now(UTC)
    changes = body.model_dump(mode="json", exclude_unset=True)
    if task.open_key is None and body.status is not None:
        raise ApiError(
            "a closed task keeps its status; its rule raises a new one", code="task_closed"
        )
    if body.status in ("done", "dismissed"):
        await engine.close(call.session, task, body.status, "api", now)
    elif body.status is not None:
        task.status = body.status
        task.snoozed_until = body.snoozed_until if body.status == "snoozed" else None
    for name in ("assignee", "notes", "priority"):
        if name in changes:
            setattr(task, name, changes[name])
    task.updated_at = now
    call.session.add(
        TaskHistory(task_id=task.id, at=now, kind="updated", actor="api", detail=changes)
    )
    await call.session.commit()
    return TaskRead.model_validate(task, from_attributes=True)


@router.get("/tasks/{task_id}/history", response_model=list[HistoryRead])
async def task_history(call: Call, task_id: str) -> list[HistoryRead]:
    task = await _find_task(call, task_id)
    found = await call.session.scalars(
        select(TaskHistory).where(TaskHistory.task_id == task.id).order_by(TaskHistory.id)
    )
    return [HistoryRead.model_validate(h, from_attributes=True) for h in found]


async def _find_rule(call: Caller, rule_id: str) -> Rule:
    rule = await call.session.get(Rule, rule_id)
    if rule is None or rule.product_id != call.product_id:
        raise NotFound(f"no rule {rule_id!r} in this product", attr="rule_id")
    return rule


async def _find_task(call: Caller, task_id: str) -> Task:
    task = await call.session.get(Task, task_id)
    if task is None or task.product_id != call.product_id:
        raise NotFound(f"no task {task_id!r} in this product", attr="task_id")
    return task


async def _wake_snoozed(call: Caller) -> None:
    """Snoozes of the product that have ended: the tasks are open again (and say so in their
    history) from the first read after."""
    session, now = call.session, datetime.now(UTC)
    woken = await session.scalars(
        select(Task).where(
            Task.product_id == call.product_id,
            Task.status == "snoozed",
            Task.snoozed_until <= now,
        )
    )
    for task in woken:
        task.status = "open"
        task.snoozed_until = None
        session.add(TaskHistory(task_id=task.id, at=now, kind="woke", actor="api", detail={}))
    await session.commit()


def _aware(moment: datetime, attr: str) -> datetime:
    if moment.tzinfo is None:
        raise ApiError("give a UTC offset", code="invalid_datetime", attr=attr)
    return moment


def _rule(rule: Rule, slug: str) -> RuleRead:
    return RuleRead(
        id=rule.id,
        product=slug,
        name=rule.name,
        enabled=rule.enabled,
        definition=RuleDefinition.model_validate(rule.definition),
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )
