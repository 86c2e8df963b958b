"""The events topic's record: what ingest produces and the metrics consumer reads.

One record per accepted request: a JSON array of `Event` objects, in the order the client sent
them. Field names are snake_case versions of Segment's spec; timestamps are UTC. `timestamp` is
the corrected time the event happened (docs/ingest.md); the others are kept as received.

msgspec, not pydantic, reads and writes these: it is the hot path of both services, and msgspec
validates while it parses, several times faster.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec

CallType = Literal["track", "identify", "group", "page", "screen", "alias"]

# What the warehouse's DateTime64 columns hold, with a margin for clock-skew correction.
EARLIEST = datetime(1900, 1, 2, tzinfo=UTC)
LATEST = datetime(2261, 12, 31, tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """A timestamp without a timezone is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def storable(moment: datetime) -> datetime:
    """`moment` in UTC; raises ValueError when the warehouse cannot store it."""
    try:
        moment = as_utc(moment)
    except OverflowError:  # year 1 or 9999 with an offset
        moment = EARLIEST - timedelta(days=1)
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return moment


class Event(msgspec.Struct, forbid_unknown_fields=True):
    tenant_id: str
    product_id: str
    message_id: str
    type: CallType
    timestamp: datetime
    received_at: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    event: str | None = None  # track: the event name
    name: str | None = None  # page and screen: the page name
    group_id: str | None = None  # as sent: context.groupId, or groupId on a group call
    previous_id: str | None = None  # alias
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    # The product's timezone when the event was accepted: the calendar its day is counted in.
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not (self.tenant_id and self.product_id and self.message_id):
            raise ValueError("tenant_id, product_id and message_id must not be empty")
        if not (self.user_id or self.anonymous_id):
            raise ValueError("user_id or anonymous_id is required")
        # The hot path of the consumer: compare aware datetimes as they are, convert no more.
        for moment in (self.timestamp, self.received_at, self.original_timestamp, self.sent_at):
            if moment is not None and not (
                moment.tzinfo is not None and EARLIEST <= moment <= LATEST
            ):
                storable(moment)  # raises unless a naive time in range

    @property
    def actor(self) -> str:
        """Who did it: the user id, else the anonymous id."""
        return self.user_id or self.anonymous_id or ""


_decoder = msgspec.json.Decoder(list[Event])
_encoder = msgspec.json.Encoder()


def decode_record(value: bytes) -> list[Event]:
    """The events of one record; raises msgspec.ValidationError or msgspec.DecodeError."""
    return _decoder.decode(value)


def encode_record(events: list[Event]) -> bytes:
    return _encoder.encode(events)


def record_key(events: list[Event]) -> bytes:
    """Product and the first event's actor: a client's batch is usually one user's, so that
    user's records keep their order on one partition."""
    first = events[0]
    return f"{first.product_id}:{first.actor}".encode()


def utc_iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
