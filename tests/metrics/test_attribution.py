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


async def test_an_event_goes_to_the_account_named_last_at_its_own_time(
    warehouse: Warehouse,
) -> None:
    rows = [
        make_row("prd_attr4", "u1", "2024-08-20T00:00:00.000Z", group="acme-later"),
        make_row("prd_attr4", "u1", "2024-08-01T00:00:00.000Z", group="acme-first"),
        make_row("prd_attr4", "u1", "2024-08-10T00:00:00.000Z"),  # between the two namings
        make_row("prd_attr4", "u1", "2024-07-05T00:00:00.000Z"),  # before any naming
        make_row("prd_attr4", "u1", "2024-08-20T00:00:00.000Z"),  # at the same moment
        make_row("prd_attr4", "u1", "2024-09-01T00:00:00.000Z"),
    ]
    await Attribution(warehouse).assign(rows)
    assert [row["account_id"] for row in rows] == [
        "acme-later",
        "acme-first",
        "acme-first",
        "",
        "acme-later",
        "acme-later",
    ]


async def test_a_restarted_consumer_keeps_the_whole_naming_history(warehouse: Warehouse) -> None:
    await insert(
        warehouse,
        [
            make_row("prd_attr5", "u1", "2024-01-01T00:00:00.000Z", group="old"),
            make_row("prd_attr5", "u1", "2024-03-01T00:00:00.000Z", group="new"),
        ],
    )
    rows = [
        make_row("prd_attr5", "u1", "2024-02-01T00:00:00.000Z"),
        make_row("prd_attr5", "u1", "2024-04-01T00:00:00.000Z"),
    ]
    await Attribution(warehouse).assign(rows)
    assert [row["account_id"] for row in rows] == ["old", "new"]
