from dataclasses import dataclass
from datetime import datetime

import orjson
import pytest

from services.metrics.attribution import Attribution
from services.metrics.schema import HISTORY_COLUMNS
from services.metrics.warehouse import Warehouse

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Call:
    product_id: str
    user_id: str
    timestamp: datetime
    group_id: str | None = None


def call(product: str, user: str, ts: str, group: str | None = None) -> Call:
    return Call(product, user, datetime.fromisoformat(ts), group)


async def consume_elsewhere(warehouse: Warehouse, calls: list[Call]) -> None:
    """What an earlier consumer did with `calls`: attribute them and write the changes."""
    _, changes = await Attribution(warehouse).assign(calls)
    block = b"\n".join(orjson.dumps(change) for change in changes)
    await warehouse.insert_json_rows("user_account_history", HISTORY_COLUMNS, block)


async def test_events_without_a_group_go_to_the_users_last_group_in_order(
    warehouse: Warehouse,
) -> None:
    calls = [
        call("prd_attr1", "u1", "2024-01-01T10:00:00.000Z"),
        call("prd_attr1", "u1", "2024-01-01T10:01:00.000Z", group="acme"),
        call("prd_attr1", "u1", "2024-01-01T10:02:00.000Z"),
        call("prd_attr1", "u1", "2024-01-01T10:03:00.000Z", group="globex"),
        call("prd_attr1", "u1", "2024-01-01T10:04:00.000Z"),
        call("prd_attr1", "u2", "2024-01-01T10:05:00.000Z"),
    ]
    accounts, _ = await Attribution(warehouse).assign(calls)
    # "" for calls that name their own group: they keep it.
    assert accounts == ["", "", "acme", "", "globex", ""]


async def test_a_restarted_consumer_finds_the_last_group_in_the_warehouse(
    warehouse: Warehouse,
) -> None:
    await consume_elsewhere(
        warehouse,
        [
            call("prd_attr2", "u1", "2024-01-02T00:00:00.000Z", group="old"),
            call("prd_attr2", "u1", "2024-01-03T00:00:00.000Z", group="new"),
            call("prd_attr2", "u2", "2024-01-03T00:00:00.000Z", group="other-product"),
        ],
    )
    calls = [
        call("prd_attr2", "u1", "2024-01-04T00:00:00.000Z"),
        call("prd_attr3", "u2", "2024-01-04T00:00:00.000Z"),
    ]
    accounts, _ = await Attribution(warehouse).assign(calls)
    assert accounts == ["new", ""]


async def test_an_event_goes_to_the_account_named_last_at_its_own_time(
    warehouse: Warehouse,
) -> None:
    calls = [
        call("prd_attr4", "u1", "2024-08-20T00:00:00.000Z", group="acme-later"),
        call("prd_attr4", "u1", "2024-08-01T00:00:00.000Z", group="acme-first"),
        call("prd_attr4", "u1", "2024-08-10T00:00:00.000Z"),  # between the two namings
        call("prd_attr4", "u1", "2024-07-05T00:00:00.000Z"),  # before any naming
        call("prd_attr4", "u1", "2024-08-20T00:00:00.000Z"),  # at the same moment
        call("prd_attr4", "u1", "2024-09-01T00:00:00.000Z"),
    ]
    accounts, _ = await Attribution(warehouse).assign(calls)
    assert accounts == ["", "", "acme-first", "", "acme-later", "acme-later"]


async def test_a_restarted_consumer_keeps_the_whole_naming_history(warehouse: Warehouse) -> None:
    await consume_elsewhere(
        warehouse,
        [
            call("prd_attr5", "u1", "2024-01-01T00:00:00.000Z", group="old"),
            call("prd_attr5", "u1", "2024-03-01T00:00:00.000Z", group="new"),
        ],
    )
    calls = [
        call("prd_attr5", "u1", "2024-02-01T00:00:00.000Z"),
        call("prd_attr5", "u1", "2024-04-01T00:00:00.000Z"),
    ]
    accounts, _ = await Attribution(warehouse).assign(calls)
    assert accounts == ["old", "new"]


async def test_tracks_naming_the_current_account_add_no_change_points(
    warehouse: Warehouse,
) -> None:
    calls = [
        call("prd_attr6", "u1", f"2024-01-01T00:00:{second:02d}.000Z", group="acme")
        for second in range(50)
    ]
    calls.insert(10, call("prd_attr6", "u1", "2024-01-01T00:00:09.500Z", group="globex"))
    _, changes = await Attribution(warehouse).assign(calls)
    assert [(c["named_at"].second, c["account_id"]) for c in changes] == [
        (0, "acme"),
        (9, "globex"),
        (10, "acme"),
    ]


async def test_a_restarted_consumer_loads_the_history_of_a_user_who_names_a_group_again(
    warehouse: Warehouse,
) -> None:
    await consume_elsewhere(
        warehouse, [call("prd_attr7", "u1", "2024-01-01T00:00:00.000Z", group="acme")]
    )
    calls = [
        call("prd_attr7", "u1", "2024-01-10T00:00:00.000Z", group="globex"),
        call("prd_attr7", "u1", "2024-01-05T00:00:00.000Z"),  # late, before globex
        call("prd_attr7", "u1", "2024-01-11T00:00:00.000Z", group="globex"),
    ]
    accounts, changes = await Attribution(warehouse).assign(calls)
    assert accounts[1] == "acme"
    assert [c["account_id"] for c in changes] == ["globex"]
