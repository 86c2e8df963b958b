"""The field catalog rules are built from, and what each field is for an account.

A rule's conditions name fields of this catalog, an operator its type allows and a value of its
type: `GET /v1/rules/fields` serves it so that a UI can offer each as a dropdown. Conditions are
checked against the catalog when a rule is saved and evaluated in Python on a context: a flat
mapping of field → value built from one health update or one event. Nothing a user writes ever
reaches SQL.
"""

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from shared.health import HealthUpdate
from shared.traits import day_of, number_of

FieldType = Literal["number", "enum", "string", "boolean", "set"]
TriggerType = Literal["health", "schedule", "event"]

OPERATORS: dict[FieldType, tuple[str, ...]] = {
    "number": ("eq", "ne", "lt", "lte", "gt", "gte", "is_null", "not_null"),
    "enum": ("eq", "ne", "in", "not_in", "is_null", "not_null"),
    "string": ("eq", "ne", "in", "not_in", "contains", "is_null", "not_null"),
    "boolean": ("is_true", "is_false"),
    "set": ("includes", "excludes", "is_empty", "not_empty"),
}
NO_VALUE = ("is_null", "not_null", "is_true", "is_false", "is_empty", "not_empty")
LIST_VALUE = ("in", "not_in")


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    triggers: tuple[TriggerType, ...]
    description: str
    values: tuple[str, ...] = ()  # an enum's allowed values

    def catalog_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "triggers": list(self.triggers),
            "operators": list(OPERATORS[self.type]),
            "description": self.description,
        }
        if self.values:
            entry["values"] = list(self.values)
        return entry


BANDS = ("red", "yellow", "green")
# Schedule rules read each account's latest health update, as health rules do.
HEALTH: tuple[TriggerType, ...] = ("health", "schedule")
BOTH: tuple[TriggerType, ...] = ("health", "schedule", "event")

CATALOG: dict[str, Field] = {
    f.name: f
    for f in (
        Field("health.score", "number", HEALTH, "health score, 0-100"),
        Field("health.band", "enum", HEALTH, "health band", BANDS),
        Field("health.previous_band", "enum", HEALTH, "band at the previous scoring", BANDS),
        Field("health.band_changed", "boolean", HEALTH, "the band differs from the previous one"),
        Field(
            "health.score_drop_14d",
            "number",
            HEALTH,
            "points the score fell from its best of the 14 days before",
        ),
        Field("health.active_day_rate", "number", HEALTH, "share of days active in the window"),
        Field("health.days_since_active", "number", HEALTH, "days since the last track call"),
        Field("health.usage_trend", "number", HEALTH, "calls in the last 14 days ÷ 14 before"),
        Field("health.feature_breadth", "number", HEALTH, "share of key features used"),
        Field("health.seat_utilisation", "number", HEALTH, "active users ÷ seats (0.9 = 90 %)"),
        Field("activity.active_users_7d", "number", HEALTH, "active users in the last 7 days"),
        Field(
            "activity.active_users_change_pct",
            "number",
            HEALTH,
            "change of active users against the 7 days before, in % (-50: halved)",
        ),
        Field("account.renewal_in_days", "number", HEALTH, "days until the renewal date"),
        Field("account.age_days", "number", HEALTH, "days since the contract started"),
        Field(
            "account.days_since_signup",
            "number",
            HEALTH,
            "days since the contract started, else since its first active day",
        ),
        Field(
            "onboarding.completed",
            "set",
            HEALTH,
            "experience ids (checklists, tours) some user of the account completed",
        ),
        Field("account.mrr", "number", HEALTH, "monthly recurring revenue"),
        Field("account.seats", "number", HEALTH, "seats bought"),
        Field("account.plan", "string", HEALTH, "the account's plan"),
        Field("account.owner", "string", HEALTH, "the CSM's e-mail"),
        Field("event.name", "string", ("event",), "the track call's event name"),
        Field("event.nps_score", "number", ("event",), "the answer to an NPS survey, 0-10"),
        Field("event.user_id", "string", ("event",), "who sent the event"),
        Field("account.id", "string", BOTH, "the account's id"),
    )
}


# A field in a task's title or body: "{account.name} is red".
PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z_0-9]+)+)\}")
TEMPLATE_ONLY = {"account.name"}  # the name trait, else the id


def check_template(template: str, trigger: TriggerType) -> str | None:
    """Why this template cannot be filled on such a trigger, or None when it can."""
    for name in PLACEHOLDER.findall(template):
        known = CATALOG.get(name)
        if name not in TEMPLATE_ONLY and (known is None or trigger not in known.triggers):
            return f"{{{name}}} is not a field of {trigger} rules: see GET /v1/rules/fields"
    return None


def check_condition(field: str, op: str, value: Any, trigger: TriggerType) -> str | None:
    """Why this condition cannot be, or None when it can."""
    known = CATALOG.get(field)
    if known is None:
        return f"unknown field {field!r}: see GET /v1/rules/fields"
    if trigger not in known.triggers:
        return f"{field} is not known on {trigger} triggers"
    if op not in OPERATORS[known.type]:
        return f"{field} takes the operators {', '.join(OPERATORS[known.type])}"
    if op in NO_VALUE:
        return None if value is None else f"{op} takes no value"
    values = value if op in LIST_VALUE else [value]
    if op in LIST_VALUE and (not isinstance(value, list) or not value):
        return f"{op} takes a non-empty list"
    for one in values:
        problem = _check_value(known, one)
        if problem:
            return problem
    return None


def _check_value(known: Field, value: Any) -> str | None:
    if known.type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            return f"{known.name} compares with a finite number"
        return None if ok else f"{known.name} compares with a number"
    if known.type == "set" and not (isinstance(value, str) and 0 < len(value) <= 64):
        return f"{known.name} holds experience ids"
    if not isinstance(value, str):
        return f"{known.name} compares with text"
    if known.values and value not in known.values:
        return f"{known.name} is one of {', '.join(known.values)}"
    return None


COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "contains": lambda a, b: b in a,
}


def holds(field: str, op: str, value: Any, context: Mapping[str, Any]) -> bool:
    """Whether the condition holds; a missing value satisfies only is_null (and `ne`, `not_in`
    never match it either: unknown is not "different")."""
    actual = context.get(field)
    if op == "is_null":
        return actual is None
    if op == "not_null":
        return actual is not None
    if op == "is_true":
        return actual is True
    if op == "is_false":
        return actual is False
    if op in ("includes", "excludes", "is_empty", "not_empty"):
        members = actual or ()
        if op in ("is_empty", "not_empty"):
            return (not members) == (op == "is_empty")
        return (value in members) == (op == "includes")
    if actual is None:
        return False
    return COMPARE[op](actual, value)


def health_context(update: HealthUpdate) -> dict[str, Any]:
    """The fields of an account as a health update describes it."""
    traits = update.traits
    signup = day_of(traits.get("contract_start")) or update.first_active_day
    context: dict[str, Any] = {
        "account.id": update.account_id,
        "health.score": update.score,
        "health.band": update.band,
        "health.previous_band": update.previous_band,
        "health.band_changed": update.band != update.previous_band,
        "health.score_drop_14d": (
            round(update.score_max_14d - update.score, 1)
            if update.score is not None and update.score_max_14d is not None
            else None
        ),
        "activity.active_users_7d": update.active_users_7d,
        "activity.active_users_change_pct": (
            round(100 * (update.active_users_7d / update.active_users_prev_7d - 1), 1)
            if update.active_users_prev_7d
            else None
        ),
        "account.renewal_in_days": _days_until(traits.get("renewal_date"), update.day),
        "account.age_days": _days_since(traits.get("contract_start"), update.day),
        "account.days_since_signup": (update.day - signup).days if signup else None,
        "onboarding.completed": update.completed_experiences,
        "account.mrr": number_of(traits.get("mrr")),
        "account.seats": number_of(traits.get("seats")),
        "account.plan": _text(traits.get("plan")),
        "account.owner": _text(traits.get("owner")),
        "account.name": _text(traits.get("name")) or update.account_id,
    }
    for measure, value in update.measures.items():
        context[f"health.{measure}"] = value
    return context


def event_context(
    account: str, name: str | None, user_id: str, properties: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields of an account as one of its track calls describes it."""
    score = properties.get("score") if properties.get("question_type") == "nps" else None
    return {
        "account.id": account,
        "account.name": account,
        "event.name": name,
        "event.user_id": user_id,
        "event.nps_score": number_of(score),
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _days_until(value: Any, on: date) -> int | None:
    day = day_of(value)
    return (day - on).days if day else None


def _days_since(value: Any, on: date) -> int | None:
    day = day_of(value)
    return (on - day).days if day else None
