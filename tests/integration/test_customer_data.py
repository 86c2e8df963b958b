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
