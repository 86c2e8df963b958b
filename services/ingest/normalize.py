"""From a Segment message to the event record on the events topic. Pure: no I/O.

Timestamp rules (docs/ingest.md says the same for users):
- A timestamp without a timezone is taken as UTC (see shared.events.as_utc).
- `originalTimestamp` is what the client said: its `originalTimestamp`, else its `timestamp`.
- With `sentAt` (on the message or the batch), the clock skew is corrected:
  timestamp = receivedAt − (sentAt − originalTimestamp). Without it, timestamp = originalTimestamp.
  Without either, timestamp = receivedAt.
- A corrected timestamp more than `max_future` past receivedAt is replaced by receivedAt
  (the client's clock is wrong; the original stays in `original_timestamp`). Old timestamps
  are kept as they are: backfills are legitimate, back to 1900; a correction that lands
  before that is refused (OutOfRange).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.ingest.schemas import Batch, Message, merged_context
from shared.events import EARLIEST, Event, local_day


@dataclass(frozen=True)
class ProductRef:
    tenant_id: str
    product_id: str
    timezone: str


class OutOfRange(ValueError):
    """The corrected timestamp falls outside what the warehouse stores."""


def corrected_timestamp(
    received_at: datetime,
    original: datetime | None,
    sent_at: datetime | None,
    max_future: timedelta,
) -> datetime:
    if original is None:
        return received_at
    corrected = original if sent_at is None else received_at - (sent_at - original)
    if corrected > received_at + max_future:
        return received_at
    if corrected < EARLIEST:
        raise OutOfRange(f"timestamp corrected by sentAt falls before {EARLIEST.year}")
    return corrected


def to_event(
    message: Message,
    batch: Batch | None,
    product: ProductRef,
    received_at: datetime,
    max_future: timedelta,
) -> Event:
    """Raises OutOfRange, and ValueError for a `context.groupId` that is not an id.
    `message` was checked by Message.check_required."""
    original = message.original_timestamp or message.timestamp
    sent_at = message.sent_at or (batch.sent_at if batch else None)
    if batch is not None and batch.context:
        message.context = merged_context(batch.context, message.context)
    timestamp = corrected_timestamp(received_at, original, sent_at, max_future)
    return Event(
        tenant_id=product.tenant_id,
        product_id=product.product_id,
        message_id=message.message_id or str(uuid.uuid4()),
        type=message.type or "track",
        day=local_day(timestamp, product.timezone),
        timestamp=timestamp,
        received_at=received_at,
        # One of the two is a str after Message.check_required.
        user_id=message.user_id or message.anonymous_id,  # type: ignore[arg-type]
        anonymous_id=message.anonymous_id,  # type: ignore[arg-type]
        event=message.event,
        name=message.name,
        group_id=message.account_hint(),
        previous_id=message.previous_id,  # type: ignore[arg-type]
        original_timestamp=original,
        sent_at=sent_at,
        properties=message.properties,
        traits=message.traits,
        context=message.context,
        timezone=product.timezone,
    )
