"""The events topic's record: what ingest produces and the metrics consumer writes.

One record per accepted request: a JSON array of `Event` objects, in the order the client sent
them. Each object is a row of the warehouse's `events` table as it stands: its field names are
the table's column names, absent fields take the column's default, so the consumer hands the
record to ClickHouse without rebuilding it in Python (services/metrics/consumer.py).
`timestamp` is the corrected time the event happened (docs/ingest.md); the other times are kept
as received. Every time is UTC.

msgspec, not pydantic, reads and writes these: it is the hot path of both services, and msgspec
validates while it parses, several times faster. The JSON objects a client sent (properties,
traits, context) stay `msgspec.Raw`: checked once by ingest, never rebuilt.
"""

import functools
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

CallType = Literal["track", "identify", "group", "page", "screen", "alias"]

# What the warehouse's DateTime64 columns hold, with a margin for clock-skew correction.
EARLIEST = datetime(1900, 1, 2, tzinfo=UTC)
LATEST = datetime(2261, 12, 31, tzinfo=UTC)

NO_JSON = msgspec.Raw()


def as_utc(moment: datetime) -> datetime:
    """A timestamp without a timezone is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def storable(moment: datetime) -> datetime:
    """`moment` in UTC; raises ValueError when the warehouse cannot store it."""
    if moment.tzinfo is UTC and EARLIEST <= moment <= LATEST:
        return moment  # what nearly every client sends ("...Z"): nothing to convert
    try:
        moment = as_utc(moment)
    except OverflowError:  # year 1 or 9999 with an offset
        moment = EARLIEST - timedelta(days=1)
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return moment


def local_day(moment: datetime, timezone: str) -> date:
    """The calendar day of `moment` (aware) in `timezone`; ValueError for an unknown zone."""
    zone = UTC if timezone == "UTC" else _zone(timezone)
    return (moment if moment.tzinfo is zone else moment.astimezone(zone)).date()


@functools.cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


class Event(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    tenant_id: str
    product_id: str
    message_id: str
    type: CallType
    # The calendar day of `timestamp` in the product's timezone when the event was accepted.
    day: date
    timestamp: datetime
    received_at: datetime
    user_id: str  # who did it: the userId, else the anonymousId
    anonymous_id: str | None = None
    event: str | None = None  # track: the event name
    name: str | None = None  # page and screen: the page name
    group_id: str | None = None  # as sent: context.groupId, or groupId on a group call
    previous_id: str | None = None  # alias
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    properties: msgspec.Raw = NO_JSON  # each a JSON object as the client sent it, or absent
    traits: msgspec.Raw = NO_JSON
    context: msgspec.Raw = NO_JSON
    timezone: str = "UTC"  # the zone `day` is counted in


_decoder = msgspec.json.Decoder(list[Event])
_encoder = msgspec.json.Encoder()


def decode_record(value: bytes) -> list[Event]:
    """The events of one record; raises msgspec.ValidationError or msgspec.DecodeError."""
    return _decoder.decode(value)


def encode_record(events: list[Event]) -> bytes:
    return _encoder.encode(events)


def record_key(events: list[Event]) -> bytes:
    """Product and the first event's user: a client's batch is usually one user's, so that
    user's records keep their order on one partition."""
    first = events[0]
    return f"{first.product_id}:{first.user_id}".encode()


def utc_iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
