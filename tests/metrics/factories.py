"""Rows for the `events` table, written straight to a test warehouse."""

from datetime import datetime
from typing import Any

import orjson

from services.metrics.consumer import local_day
from services.metrics.schema import EVENT_COLUMNS
from services.metrics.warehouse import Warehouse


def make_row(
    product: str, user: str, ts: str, group: str = "", tz: str = "UTC", **overrides: Any
) -> dict[str, Any]:
    row = {column: "" for column in EVENT_COLUMNS}
    row.update(
        product_id=product,
        message_id=f"{user}-{ts}-{group}",
        tenant_id="ten_1",
        type="track",
        user_id=user,
        group_id=group,
        account_id=group,
        timestamp=datetime.fromisoformat(ts),
        day=local_day(datetime.fromisoformat(ts), tz),
        received_at=datetime.fromisoformat(ts),
        original_timestamp=None,
        sent_at=None,
        properties="{}",
        traits="{}",
        context="{}",
        **overrides,
    )
    return row


async def insert(warehouse: Warehouse, rows: list[dict[str, Any]]) -> None:
    block = b"\n".join(orjson.dumps(row) for row in rows)
    await warehouse.insert_json_rows("events", EVENT_COLUMNS, block)
