"""Segment's HTTP Tracking API messages, as clients send them (camelCase, loosely typed).

Decoded with msgspec, which checks types and lengths while it parses. Ids may arrive as
integers (several Segment libraries allow it) and are kept as strings; an empty `userId` or
`anonymousId` counts as absent, as some clients send "" for "not known yet". Which fields a call
needs follows Segment's spec: a track needs `event`, a group needs `groupId`, an alias needs
`userId` and `previousId`, every call needs `userId` or `anonymousId`. `properties`, `traits`
and `context` stay raw JSON, checked to be objects; only `context.groupId` is read out of them.
"""

from datetime import datetime
from typing import Annotated, Any

import msgspec

from shared.events import NO_JSON, CallType, storable

MAX_ID_LENGTH = 255
MAX_MESSAGE_ID_LENGTH = 200

# Integers are ids too; bools are not (msgspec refuses them for int).
Id = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] | int
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
MessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MESSAGE_ID_LENGTH)]


class _ContextIds(msgspec.Struct, rename="camel"):
    group_id: Id | None = None


_context_ids = msgspec.json.Decoder(_ContextIds)


class Message(msgspec.Struct, rename="camel"):
    # Optional here so that single-call endpoints can supply it; required in a batch.
    type: CallType | None = None
    message_id: MessageId | None = None
    user_id: Id | None = None
    anonymous_id: Id | None = None
    event: Name | None = None
    name: str | None = None
    group_id: Id | None = None
    previous_id: Id | None = None
    timestamp: datetime | None = None
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    properties: msgspec.Raw = NO_JSON
    traits: msgspec.Raw = NO_JSON
    context: msgspec.Raw = NO_JSON

    def __post_init__(self) -> None:
        self.user_id = _id(self.user_id, "userId", empty_is_none=True)
        self.anonymous_id = _id(self.anonymous_id, "anonymousId", empty_is_none=True)
        self.group_id = _id(self.group_id, "groupId")
        self.previous_id = _id(self.previous_id, "previousId")
        if self.timestamp is not None:
            self.timestamp = _storable(self.timestamp, "timestamp")
        if self.original_timestamp is not None:
            self.original_timestamp = _storable(self.original_timestamp, "originalTimestamp")
        if self.sent_at is not None:
            self.sent_at = _storable(self.sent_at, "sentAt")
        self.properties = json_object(self.properties, "properties")
        self.traits = json_object(self.traits, "traits")
        self.context = json_object(self.context, "context")

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
        """The account this call names: `groupId` on a group call, else `context.groupId`.
        Raises msgspec.ValidationError when `context.groupId` is not an id."""
        if self.type == "group":
            return self.group_id  # type: ignore[return-value]  # a str after __post_init__
        if not self.context:
            return None
        try:
            group = _context_ids.decode(self.context).group_id
        except msgspec.ValidationError as exc:
            raise ValueError(f"context.groupId: {str(exc).partition(' - at')[0]}") from None
        return _id(group, "context.groupId", empty_is_none=True)


def json_object(raw: msgspec.Raw, field: str) -> msgspec.Raw:
    """`raw` when it is a JSON object, NO_JSON when it is null or absent; else ValueError."""
    if not raw:
        return raw
    first = memoryview(raw)[0]
    if first == 0x7B:  # {
        return raw
    if first == 0x6E:  # n: null is the only JSON value that starts with it
        return NO_JSON
    raise ValueError(f"{field}: must be an object")


def merged_context(batch_context: dict[str, Any], own: msgspec.Raw) -> msgspec.Raw:
    """A batch's `context` under a call's own: the call's keys win."""
    merged = {**batch_context, **(msgspec.json.decode(own) if own else {})}
    return msgspec.Raw(msgspec.json.encode(merged))


def _id(value: Any, field: str, empty_is_none: bool = False) -> str | None:
    if value is None or (empty_is_none and value == ""):
        return None
    text = value if isinstance(value, str) else str(value)
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
