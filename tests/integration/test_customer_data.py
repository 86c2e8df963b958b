"""Customer data through the running stack: a CSV import and group calls, read back over REST."""

from pathlib import Path

import pytest

from kizuna import cli
from tests.integration.conftest import RunningStack, eventually

pytestmark = pytest.mark.integration


def test_an_imported_file_and_a_later_group_call_make_one_account(
    running: RunningStack, tmp_path: Path
) -> None:
    csv = tmp_path / "accounts.csv"
    csv.write_text(
        "account_id,name,plan,mrr,seats,owner\n"
        "imp-acme,Acme,pro,1200,40,kim@vendor.example\n"
        "imp-globex,Globex,free,0,3,lee@vendor.example\n"
    )
    host, key = running.url("metrics"), running.demo.api_key
    assert cli.main(["import", "accounts", str(csv), "--api-key", key, "--host", host]) == 0

    with running.ingest() as ingest:
        call = {"userId": "u1", "groupId": "imp-acme", "traits": {"plan": "enterprise"}}
        assert ingest.post("/v1/group", json=call).status_code == 200

    with running.api("metrics") as api:

        def acme() -> dict[str, object]:
            found = api.get("/v1/accounts", params={"product": "demo", "account": "imp-acme"})
            [account] = found.json()
            assert account["traits"]["plan"] == "enterprise", account
            return account

        account = eventually(acme, timeout_s=30)
        assert account["traits"] == {
            "name": "Acme",
            "plan": "enterprise",
            "mrr": 1200.0,
            "seats": 40,
            "owner": "kim@vendor.example",
        }
        refused = api.post(
            "/v1/accounts/bulk",
            params={"product": "demo"},
            json={"accounts": [{"id": "x", "seats": -1}]},
        )
        assert (refused.status_code, refused.json()["attr"]) == (400, "accounts.0.seats")


def test_revenue_is_served_per_month_from_uploaded_accounts(running: RunningStack) -> None:
    accounts = [
        {"id": "rev-a", "mrr": 100, "contract_start": "2020-01-01"},
        {
            "id": "rev-b",
            "mrr": 300,
            "contract_start": "2020-01-01",
            "churned_at": "2020-03-15T00:00:00Z",
        },
    ]
    with running.api("metrics") as api:
        stored = api.post(
            "/v1/accounts/bulk", params={"product": "demo"}, json={"accounts": accounts}
        )
        assert stored.json() == {"records": 2, "traits": 5}
        params = {"product": "demo", "start": "2020-03-01", "end": "2020-04-30"}
        march, april = api.get("/v1/metrics/revenue", params=params).json()

    # Other tests' accounts (no contract_start, never churned) may count as present; only
    # rev-b churns.
    assert (march["churned"], march["churned_mrr"], april["churned"]) == (1, 300.0, 0)
    assert april["ltv"] is None and "no account churned" in april["ltv_note"]


def test_nps_series_lists_every_period_and_null_without_answers(running: RunningStack) -> None:
    params = {"product": "demo", "interval": "month", "start": "2020-01-15", "end": "2020-02-10"}
    with running.api("metrics") as api:
        answer = api.get("/v1/metrics/nps-series", params=params).json()

    assert [(p["period_start"], p["responses"], p["nps"]) for p in answer["series"]] == [
        ("2020-01-01", 0, None),
        ("2020-02-01", 0, None),
    ]
