"""Segment's HTTP Tracking API messages, as clients send them (camelCase, loosely typed).

Ids may arrive as integers (several Segment libraries allow it) and are kept as strings; an
empty `userId` or `anonymousId` counts as absent, as some clients send "" for "not known yet".
Which fields a call needs follows Segment's spec: a track needs `event`, a group needs
`groupId`, an alias needs `userId` and `previousId`, every call needs `userId` or `anonymousId`.
"""

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from shared.events import CallType, Timestamp

MAX_ID_LENGTH = 255


def _id_to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return value  # let validation reject it: True is not an id
    if isinstance(value, int):
        return str(value)
    return value


def _empty_to_none(value: Any) -> Any:
    return None if value == "" else value


Id = Annotated[str, BeforeValidator(_id_to_str), Field(min_length=1, max_length=MAX_ID_LENGTH)]
# userId and anonymousId: "" means not known.
OptionalId = Annotated[Id | None, BeforeValidator(_empty_to_none)]


class Message(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    type: CallType
    message_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    user_id: OptionalId = None
    anonymous_id: OptionalId = None
    event: Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)] | None = None
    name: str | None = None
    group_id: Id | None = None
    previous_id: Id | None = None
    timestamp: Timestamp | None = None
    original_timestamp: Timestamp | None = None
    sent_at: Timestamp | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _required_by_type(self) -> Self:
        if not (self.user_id or self.anonymous_id):
            raise ValueError("userId or anonymousId is required")
        if self.type == "track" and not self.event:
            raise ValueError("a track call needs `event`")
        if self.type == "group" and not self.group_id:
            raise ValueError("a group call needs `groupId`")
        if self.type == "alias" and not (self.previous_id and self.user_id):
            raise ValueError("an alias call needs `userId` and `previousId`")
        group = (self.context or {}).get("groupId")
        if isinstance(group, bool) or not isinstance(group, str | int | None):
            raise ValueError("context.groupId must be a string")
        if isinstance(group, str) and len(group) > MAX_ID_LENGTH:
            raise ValueError(f"context.groupId may be at most {MAX_ID_LENGTH} characters")
        return self

    def account_hint(self) -> str | None:
        """The account this call names: `groupId` on a group call, else `context.groupId`."""
        if self.type == "group":
            return self.group_id
        group = (self.context or {}).get("groupId")
        if group is None or group == "":
            return None
        return str(group)


class Envelope(BaseModel):
    """What a request body may say around its messages: a batch, or one call's extra keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    write_key: str | None = None
    sent_at: Timestamp | None = None
    context: dict[str, Any] | None = None


class Success(BaseModel):
    success: Literal[True] = True
