"""Account and user traits on a real chDB warehouse: calls and uploads meet, the latest wins."""

import json
from datetime import UTC, datetime

import pytest

from services.metrics import accounts
from services.metrics.accounts import AccountRecord, UserRecord
from services.metrics.warehouse import Warehouse
from tests.metrics.factories import insert, make_row

pytestmark = pytest.mark.integration


def group_call(product: str, account: str, ts: str, **traits: object) -> dict[str, object]:
    return make_row(product, "u1", ts, group=account, type="group", traits=json.dumps(traits))


async def test_the_latest_value_of_each_trait_wins_whichever_way_it_came(
    warehouse: Warehouse,
) -> None:
    await insert(
        warehouse,
        [
            group_call("prd_a1", "acme", "2024-01-01T00:00:00.000Z", plan="free", seats=5),
            group_call("prd_a1", "acme", "2024-02-01T00:00:00.000Z", plan="pro"),
            group_call("prd_a1", "globex", "2024-02-01T00:00:00.000Z", name="Globex"),
        ],
    )
    upload = [AccountRecord(id="acme", mrr=1200, owner="kim@vendor.example", traits={"tier": "a"})]
    await accounts.store(warehouse, "account_traits", "account_id", "prd_a1", [*upload])
    # A group call stamped before the upload does not undo it.
    await insert(warehouse, [group_call("prd_a1", "acme", "2024-03-01T00:00:00.000Z", mrr=10)])

    found = await accounts.latest(warehouse, "account_traits", "account_id", "prd_a1", None)
    assert found == {
        "acme": {
            "plan": "pro",
            "seats": 5,
            "mrr": 1200.0,
            "owner": "kim@vendor.example",
            "tier": "a",
        },
        "globex": {"name": "Globex"},
    }
    assert await accounts.latest(
        warehouse, "account_traits", "account_id", "prd_a1", ["globex"]
    ) == {"globex": {"name": "Globex"}}


async def test_identify_calls_and_user_uploads_fill_user_traits(warehouse: Warehouse) -> None:
    identify = make_row(
        "prd_a2", "u7", "2024-01-01T00:00:00.000Z", type="identify", traits='{"role": "admin"}'
    )
    await insert(warehouse, [identify])
    created = datetime(2023, 12, 1, tzinfo=UTC)
    users = [UserRecord(id="u7", email="u7@acme.example", created_at=created)]
    await accounts.store(warehouse, "user_traits", "user_id", "prd_a2", [*users])

    found = await accounts.latest(warehouse, "user_traits", "user_id", "prd_a2", None)
    assert found == {
        "u7": {"role": "admin", "email": "u7@acme.example", "created_at": "2023-12-01T00:00:00Z"}
    }


def test_a_churned_at_of_null_is_a_value_and_unnamed_traits_stay_as_sent() -> None:
    record = AccountRecord.model_validate({"id": "a", "churned_at": None, "traits": {"x": 1}})

    assert record.trait_values() == {"x": 1, "churned_at": None}
