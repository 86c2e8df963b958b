"""The event record on the events topic: what ingest produces and the metrics consumer reads.

Field names are snake_case versions of Segment's spec. Timestamps are UTC. `timestamp` is the
corrected time the event happened (see docs/ingest.md); the others are kept as received.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

CallType = Literal["track", "identify", "group", "page", "screen", "alias"]

# What the warehouse's DateTime64 columns hold, with a margin for clock-skew correction.
EARLIEST = datetime(1900, 1, 2, tzinfo=UTC)
LATEST = datetime(2261, 12, 31, tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """A timestamp without a timezone is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _storable(moment: datetime) -> datetime:
    try:
        moment = as_utc(moment)
    except OverflowError:  # year 1 or 9999 with an offset
        moment = EARLIEST - timedelta(days=1)
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return moment


# A moment the warehouse can store; always timezone-aware UTC once validated.
Timestamp = Annotated[datetime, AfterValidator(_storable)]

SCHEMA_VERSION = 1


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = SCHEMA_VERSION
    tenant_id: str = Field(min_length=1)
    product_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1, max_length=200)
    type: CallType
    event: str | None = None  # track: the event name
    name: str | None = None  # page and screen: the page name
    user_id: str | None = None
    anonymous_id: str | None = None
    group_id: str | None = None  # as sent: context.groupId, or groupId on a group call
    previous_id: str | None = None  # alias
    timestamp: Timestamp
    original_timestamp: Timestamp | None = None
    sent_at: Timestamp | None = None
    received_at: Timestamp
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)

    @property
    def actor(self) -> str:
        """Who did it: the user id, else the anonymous id (ingest guarantees one is set)."""
        return self.user_id or self.anonymous_id or ""

    def kafka_key(self) -> bytes:
        return f"{self.product_id}:{self.actor}".encode()


def utc_iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
