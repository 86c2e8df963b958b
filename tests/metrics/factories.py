"""Events as ingest produces them, and rows for the `events` table written straight to a test
warehouse."""

from datetime import UTC, datetime
from typing import Any

import orjson

from services.metrics.warehouse import Warehouse
from shared.events import Event, local_day


def make_row(
    product: str, user: str, ts: str, group: str = "", tz: str = "UTC", **overrides: Any
) -> dict[str, Any]:
    moment = datetime.fromisoformat(ts)
    row = {
        "product_id": product,
        "message_id": f"{user}-{ts}-{group}",
        "tenant_id": "ten_1",
        "type": "track",
        "event": "opened",
        "user_id": user,
        "group_id": group,
        "timestamp": moment,
        "day": local_day(moment, tz),
        "received_at": moment,
        "timezone": tz,
    }
    row.update(overrides)
    return row


async def insert(warehouse: Warehouse, rows: list[dict[str, Any]]) -> None:
    block = b"\n".join(orjson.dumps(row) for row in rows)
    await warehouse.insert_json_rows("events", None, block)


def make_event(**overrides: Any) -> Event:
    timestamp = overrides.pop("timestamp", datetime(2014, 5, 27, 3, 12, tzinfo=UTC))
    fields: dict[str, Any] = {
        "tenant_id": "ten_1",
        "product_id": "prd_1",
        "message_id": "m1",
        "type": "track",
        "event": "opened",
        "user_id": "u1",
        "timestamp": timestamp,
        "day": local_day(timestamp, overrides.get("timezone", "UTC")),
        "received_at": datetime(2026, 12, 3, tzinfo=UTC),
        **overrides,
    }
    return Event(**fields)
