"""Rows for the `events` table, written straight to a test warehouse."""

from datetime import datetime
from typing import Any

import orjson

from services.metrics.warehouse import Warehouse
from shared.events import local_day


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
