"""Segment's HTTP Tracking API messages, as clients send them (camelCase, loosely typed).

Decoded with msgspec, which validates while it parses. Ids may arrive as integers (several
Segment libraries allow it) and are kept as strings; an empty `userId` or `anonymousId` counts
as absent, as some clients send "" for "not known yet". Which fields a call needs follows
Segment's spec: a track needs `event`, a group needs `groupId`, an alias needs `userId` and
`previousId`, every call needs `userId` or `anonymousId`.
"""

from datetime import datetime
from typing import Any

import msgspec
from pydantic import BaseModel

from shared.events import CallType, storable

MAX_ID_LENGTH = 255
MAX_MESSAGE_ID_LENGTH = 200

AnyId = str | int | None


class Message(msgspec.Struct, rename="camel"):
    # Optional here so that single-call endpoints can supply it; required in a batch.
    type: CallType | None = None
    message_id: str | None = None
    user_id: AnyId = None
    anonymous_id: AnyId = None
    event: str | None = None
    name: str | None = None
    group_id: AnyId = None
    previous_id: AnyId = None
    timestamp: datetime | None = None
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.user_id = _id(self.user_id, "userId", empty_is_none=True)
        self.anonymous_id = _id(self.anonymous_id, "anonymousId", empty_is_none=True)
        self.group_id = _id(self.group_id, "groupId")
        self.previous_id = _id(self.previous_id, "previousId")
        if self.message_id is not None and not 0 < len(self.message_id) <= MAX_MESSAGE_ID_LENGTH:
            raise ValueError(f"messageId: must be 1 to {MAX_MESSAGE_ID_LENGTH} characters")
        if self.event is not None and not 0 < len(self.event) <= MAX_ID_LENGTH:
            raise ValueError(f"event: must be 1 to {MAX_ID_LENGTH} characters")
        if self.timestamp is not None:
            self.timestamp = _storable(self.timestamp, "timestamp")
        if self.original_timestamp is not None:
            self.original_timestamp = _storable(self.original_timestamp, "originalTimestamp")
        if self.sent_at is not None:
            self.sent_at = _storable(self.sent_at, "sentAt")
        if self.context is not None and "groupId" in self.context:
            self.context["groupId"] = _id(self.context["groupId"], "context.groupId")

    def check_required(self) -> None:
        """Raise ValueError when the call lacks what its type needs (type set by now)."""
        if self.type is None:
            raise ValueError("type: `type` is required")
        if not (self.user_id or self.anonymous_id):
            raise ValueError("userId: userId or anonymousId is required")
        if self.type == "track" and not self.event:
            raise ValueError("event: a track call needs `event`")
        if self.type == "group" and not self.group_id:
            raise ValueError("groupId: a group call needs `groupId`")
        if self.type == "alias" and not (self.previous_id and self.user_id):
            raise ValueError("previousId: an alias call needs `userId` and `previousId`")

    def account_hint(self) -> str | None:
        """The account this call names: `groupId` on a group call, else `context.groupId`."""
        if self.type == "group":
            return self.group_id  # type: ignore[return-value]  # a str after __post_init__
        group = (self.context or {}).get("groupId")
        return group or None


def _id(value: Any, field: str, empty_is_none: bool = False) -> str | None:
    if value is None or (empty_is_none and value == ""):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{field}: must be a string")
    text = str(value)
    if not 0 < len(text) <= MAX_ID_LENGTH:
        raise ValueError(f"{field}: must be 1 to {MAX_ID_LENGTH} characters")
    return text


def _storable(moment: datetime, field: str) -> datetime:
    try:
        return storable(moment)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


class Batch(msgspec.Struct, rename="camel"):
    """A /v1/batch body. The calls stay raw until each is decoded on its own, so that one bad
    call is reported by its index instead of failing the whole batch."""

    batch: list[msgspec.Raw]
    sent_at: datetime | None = None
    context: dict[str, Any] | None = None
    write_key: str | None = None

    def __post_init__(self) -> None:
        if not self.batch:
            raise ValueError("batch: must not be empty")
        if self.sent_at is not None:
            self.sent_at = _storable(self.sent_at, "sentAt")


class Success(BaseModel):
    success: bool = True
