from typing import Any

import orjson
import pytest

from services.metrics.attribution import Attribution
from services.metrics.schema import EVENT_COLUMNS
from services.metrics.warehouse import Warehouse

pytestmark = pytest.mark.integration


def make_row(product: str, user: str, ts: str, group: str = "", **overrides: Any) -> dict[str, Any]:
    row = {column: "" for column in EVENT_COLUMNS}
    row.update(
        product_id=product,
        message_id=f"{user}-{ts}-{group}",
        tenant_id="ten_1",
        type="track",
        user_id=user,
        group_id=group,
        account_id=group,
        timestamp=ts,
        received_at=ts,
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


async def test_events_without_a_group_go_to_the_users_last_group_in_order(
    warehouse: Warehouse,
) -> None:
    rows = [
        make_row("prd_attr1", "u1", "2024-01-01T10:00:00.000Z"),
        make_row("prd_attr1", "u1", "2024-01-01T10:01:00.000Z", group="acme"),
        make_row("prd_attr1", "u1", "2024-01-01T10:02:00.000Z"),
        make_row("prd_attr1", "u1", "2024-01-01T10:03:00.000Z", group="globex"),
        make_row("prd_attr1", "u1", "2024-01-01T10:04:00.000Z"),
        make_row("prd_attr1", "u2", "2024-01-01T10:05:00.000Z"),
    ]
    await Attribution(warehouse).assign(rows)
    assert [row["account_id"] for row in rows] == ["", "acme", "acme", "globex", "globex", ""]


async def test_a_restarted_consumer_finds_the_last_group_in_the_warehouse(
    warehouse: Warehouse,
) -> None:
    await insert(
        warehouse,
        [
            make_row("prd_attr2", "u1", "2024-01-02T00:00:00.000Z", group="old"),
            make_row("prd_attr2", "u1", "2024-01-03T00:00:00.000Z", group="new"),
            make_row("prd_attr2", "u2", "2024-01-03T00:00:00.000Z", group="other-product"),
        ],
    )
    rows = [
        make_row("prd_attr2", "u1", "2024-01-04T00:00:00.000Z"),
        make_row("prd_attr3", "u2", "2024-01-04T00:00:00.000Z"),
    ]
    await Attribution(warehouse).assign(rows)
    assert [row["account_id"] for row in rows] == ["new", ""]


async def test_a_late_event_naming_an_older_group_does_not_move_the_user(
    warehouse: Warehouse,
) -> None:
    attribution = Attribution(warehouse)
    rows = [
        make_row("prd_attr4", "u1", "2024-01-05T00:00:00.000Z", group="current"),
        make_row("prd_attr4", "u1", "2024-01-01T00:00:00.000Z", group="former"),
        make_row("prd_attr4", "u1", "2024-01-06T00:00:00.000Z"),
    ]
    await attribution.assign(rows)
    assert [row["account_id"] for row in rows] == ["current", "former", "current"]
