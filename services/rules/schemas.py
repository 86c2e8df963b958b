"""What a rule is, as the API takes it, and what the API answers with."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field, model_validator

from services.rules.fields import TriggerType, check_condition, check_template

TaskType = Literal["risk", "expansion", "onboarding", "renewal", "other"]
Priority = Literal["low", "medium", "high", "urgent"]
Status = Literal["open", "snoozed", "done", "dismissed"]
Template = Annotated[str, Field(min_length=1, max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Trigger(Strict):
    """health: every scoring of an account (hourly, and on demand); schedule: every
    `every_hours`, on each account's latest health; event: each track call (optionally of one
    name) of an account."""

    type: TriggerType
    event: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    every_hours: Annotated[int, Field(ge=1, le=24 * 7)] = 24

    @model_validator(mode="after")
    def _event_names_events(self) -> "Trigger":
        if self.event is not None and self.type != "event":
            raise ValueError("event names an event trigger's event")
        return self


class Condition(Strict):
    field: str
    op: str
    value: Any = None


class Assign(Strict):
    """owner: the account's `owner` trait (else `fallback`); fixed: people[0]; round_robin:
    people in turn; fewest_open: whoever of people has the fewest open tasks."""

    to: Literal["owner", "fixed", "round_robin", "fewest_open"] = "owner"
    people: Annotated[list[EmailStr], Field(max_length=100)] = []
    fallback: EmailStr | None = None

    @model_validator(mode="after")
    def _people_when_needed(self) -> "Assign":
        if self.to != "owner" and not self.people:
            raise ValueError(f"assigning to {self.to} needs people")
        return self


class TaskAction(Strict):
    """The task to raise. Templates may name fields in braces: "{account.name} is red"."""

    title: Template
    body: Annotated[str, Field(max_length=10_000)] = ""
    type: TaskType = "other"
    priority: Priority = "medium"
    due_in_days: Annotated[int, Field(ge=0, le=365)] = 7
    assign: Assign = Assign()


class Webhook(Strict):
    """Called with every task the rule raises, re-fires or closes: JSON signed with HMAC-SHA256
    of "<timestamp>.<body>" under `secret`, or a Slack-compatible {"text": ...}."""

    url: AnyHttpUrl
    secret: Annotated[str, Field(min_length=16, max_length=200)]
    format: Literal["json", "slack"] = "json"


class RuleDefinition(Strict):
    trigger: Trigger
    match: Literal["all", "any"] = "all"
    conditions: Annotated[list[Condition], Field(min_length=1, max_length=20)]
    # Health and schedule triggers: the conditions must have held for this many days.
    for_days: Annotated[int, Field(ge=0, le=365)] = 0
    task: TaskAction
    webhook: Webhook | None = None
    # Close the open task when a later scoring finds the conditions no longer hold.
    auto_close: bool = False
    # At most max_fires firings (raising or re-firing a task) per account in per_days days.
    max_fires: Annotated[int, Field(ge=1, le=1000)] | None = None
    per_days: Annotated[int, Field(ge=1, le=365)] = 30

    @model_validator(mode="after")
    def _conditions_fit_the_catalog(self) -> "RuleDefinition":
        for number, c in enumerate(self.conditions):
            problem = check_condition(c.field, c.op, c.value, self.trigger.type)
            if problem:
                raise ValueError(f"conditions.{number}: {problem}")
        for name in ("title", "body"):
            problem = check_template(getattr(self.task, name), self.trigger.type)
            if problem:
                raise ValueError(f"task.{name}: {problem}")
        if self.trigger.type == "event" and (self.for_days or self.auto_close):
            raise ValueError("for_days and auto_close apply to health and schedule triggers")
        return self


class RuleCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    enabled: bool = True
    definition: RuleDefinition


class RuleUpdate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    enabled: bool | None = None
    definition: RuleDefinition | None = None


class RuleRead(BaseModel):
    id: str
    product: str
    name: str
    enabled: bool
    definition: RuleDefinition
    created_at: datetime
    updated_at: datetime


class PreviewRead(BaseModel):
    rule: str
    accounts: list[str] = Field(description="accounts whose latest health meets the conditions")


class TaskRead(BaseModel):
    id: str
    rule_id: str | None
    account_id: str
    title: str
    body: str
    type: str
    priority: str
    status: str
    assignee: str | None
    due_at: datetime | None
    snoozed_until: datetime | None
    fired: int
    notes: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class TaskUpdate(Strict):
    status: Status | None = None
    snoozed_until: datetime | None = None
    assignee: EmailStr | None = None
    notes: Annotated[str, Field(max_length=10_000)] | None = None
    priority: Priority | None = None

    @model_validator(mode="after")
    def _snooze_has_an_end(self) -> "TaskUpdate":
        if self.status == "snoozed" and self.snoozed_until is None:
            raise ValueError("snoozing needs snoozed_until")
        if self.snoozed_until is not None and self.snoozed_until.tzinfo is None:
            raise ValueError("snoozed_until needs a UTC offset")
        return self


class HistoryRead(BaseModel):
    at: datetime
    kind: str
    actor: str
    detail: dict[str, Any]
