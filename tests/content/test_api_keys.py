import hashlib

import httpx
import pytest
from sqlalchemy import text

from services.content.errors import InvalidApiKey
from services.content.repository import Repository

from .factories import TenantFactory


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk_not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "unknown", "not_bearer", "empty"],
)
async def test_request_without_a_valid_api_key_is_rejected_with_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await client.get("/v1/products", headers=headers)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["type"] == "authentication_error"
    assert answer.json()["code"] == "invalid_api_key"


async def test_revoked_api_key_is_rejected_with_401(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    issued = (await client.post("/v1/api-keys", headers=acme.headers)).json()
    doomed = {"Authorization": f"Bearer {issued['key']}"}
    assert (await client.get("/v1/products", headers=doomed)).status_code == 200

    revoked = await client.delete(f"/v1/api-keys/{issued['id']}", headers=acme.headers)
    assert revoked.status_code == 204

    answer = await client.get("/v1/products", headers=doomed)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "revoked API key"
    assert (await client.get("/v1/products", headers=acme.headers)).status_code == 200


async def test_api_key_is_stored_only_as_its_sha256(
    client: httpx.AsyncClient, make_tenant: TenantFactory, repo: Repository
) -> None:
    acme = await make_tenant()
    issued = (await client.post("/v1/api-keys", headers=acme.headers)).json()

    rows = (await repo.session.execute(text("SELECT * FROM api_keys"))).all()
    stored = [str(value) for row in rows for value in row]
    assert not any(issued["key"] in value for value in stored)
    assert hashlib.sha256(issued["key"].encode()).hexdigest() in stored
    assert issued["prefix"] in stored
    assert issued["key"].startswith(issued["prefix"])


async def test_new_api_key_is_shown_once_and_listed_without_its_secret(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()

    created = await client.post("/v1/api-keys", headers=acme.headers)
    assert created.status_code == 201
    issued = created.json()
    assert issued.keys() == {"id", "key", "prefix"}
    assert issued["key"].startswith("sk_")
    assert len(issued["key"]) == 3 + 40

    listed = (await client.get("/v1/api-keys", headers=acme.headers)).json()
    assert [key["id"] for key in listed][-1] == issued["id"]
    assert all(key.keys() == {"id", "prefix", "created_at", "revoked_at"} for key in listed)
    assert issued["key"] not in str(listed)


async def test_other_tenants_api_key_cannot_be_revoked(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme, globex = await make_tenant(), await make_tenant()
    acme_key_id = (await client.get("/v1/api-keys", headers=acme.headers)).json()[0]["id"]

    answer = await client.delete(f"/v1/api-keys/{acme_key_id}", headers=globex.headers)
    assert answer.status_code == 404
    assert answer.json()["code"] == "api_key_not_found"
    assert (await client.get("/v1/products", headers=acme.headers)).status_code == 200


async def test_repository_authenticates_active_keys_only(
    repo: Repository, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    spare = await repo.issue_api_key(acme.id)

    assert (await repo.authenticate(acme.api_key)).id == acme.id
    await repo.revoke_api_key(acme.id, spare.row.id)
    with pytest.raises(InvalidApiKey):
        await repo.authenticate(spare.key)
