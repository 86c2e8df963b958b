import pytest

from services.metrics.attribution import Attribution
from services.metrics.warehouse import Warehouse
from tests.metrics.factories import insert, make_row

pytestmark = pytest.mark.integration


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
