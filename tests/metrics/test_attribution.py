from typing import Any

import orjson
import pytest

from services.metrics.attribution import Attribution
from services.metrics.schema import HISTORY_COLUMNS
from services.metrics.warehouse import Warehouse
from tests.metrics.factories import insert, make_row

pytestmark = pytest.mark.integration


async def consume_elsewhere(warehouse: Warehouse, rows: list[dict[str, Any]]) -> None:
    """What an earlier consumer did with `rows`: attribute them and write rows and changes."""
    changes = await Attribution(warehouse).assign(rows)
    await insert(warehouse, rows)
    block = b"\n".join(orjson.dumps(change) for change in changes)
    await warehouse.insert_json_rows("user_account_history", HISTORY_COLUMNS, block)


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
    await consume_elsewhere(
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
    await consume_elsewhere(
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


async def test_tracks_naming_the_current_account_add_no_change_points(
    warehouse: Warehouse,
) -> None:
    rows = [
        make_row("prd_attr6", "u1", f"2024-01-01T00:00:{second:02d}.000Z", group="acme")
        for second in range(50)
    ]
    rows.insert(10, make_row("prd_attr6", "u1", "2024-01-01T00:00:09.500Z", group="globex"))
    changes = await Attribution(warehouse).assign(rows)
    assert [(c["named_at"].second, c["account_id"]) for c in changes] == [
        (0, "acme"),
        (9, "globex"),
        (10, "acme"),
    ]


async def test_a_restarted_consumer_loads_the_history_of_a_user_who_names_a_group_again(
    warehouse: Warehouse,
) -> None:
    await consume_elsewhere(
        warehouse, [make_row("prd_attr7", "u1", "2024-01-01T00:00:00.000Z", group="acme")]
    )
    rows = [
        make_row("prd_attr7", "u1", "2024-01-10T00:00:00.000Z", group="globex"),
        make_row("prd_attr7", "u1", "2024-01-05T00:00:00.000Z"),  # late, before globex
        make_row("prd_attr7", "u1", "2024-01-11T00:00:00.000Z", group="globex"),
    ]
    changes = await Attribution(warehouse).assign(rows)
    assert rows[1]["account_id"] == "acme"
    assert [c["account_id"] for c in changes] == ["globex"]
