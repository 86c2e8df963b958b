from typing import Any

import httpx

from services.content.repository import Repository

from .factories import TenantAuth, TenantFactory, product_body


async def _create_product(
    client: httpx.AsyncClient, tenant: TenantAuth, **overrides: str
) -> dict[str, Any]:
    created = await client.post(
        "/v1/products", json=product_body(**overrides), headers=tenant.headers
    )
    assert created.status_code == 201
    product: dict[str, Any] = created.json()
    return product


async def test_write_key_lookup_returns_tenant_product_and_timezone(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    product = await _create_product(client, acme, timezone="America/New_York")

    found = await client.get(f"/internal/v1/write-keys/{product['write_key']['key']}")
    assert found.status_code == 200
    assert found.json() == {
        "tenant_id": acme.id,
        "product_id": product["id"],
        "product": "web",
        "timezone": "America/New_York",
    }


async def test_unknown_write_key_lookup_is_404_unknown_write_key(client: httpx.AsyncClient) -> None:
    found = await client.get("/internal/v1/write-keys/wk_nobody")

    assert found.status_code == 404
    assert found.json() == {
        "type": "not_found",
        "code": "unknown_write_key",
        "detail": "unknown or revoked write key",
        "attr": None,
    }


async def test_revoked_write_key_is_unknown_to_internal_lookup(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    first = (await _create_product(client, acme))["write_key"]
    second = (await client.post("/v1/products/web/write-keys", headers=acme.headers)).json()

    revoked = await client.delete(
        f"/v1/products/web/write-keys/{first['id']}", headers=acme.headers
    )
    assert revoked.status_code == 204

    found = await client.get(f"/internal/v1/write-keys/{first['key']}")
    assert found.status_code == 404
    assert found.json()["code"] == "unknown_write_key"
    assert (await client.get(f"/internal/v1/write-keys/{second['key']}")).status_code == 200


async def test_write_keys_are_listed_with_their_revocation_time(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    first = (await _create_product(client, acme))["write_key"]
    second = await client.post("/v1/products/web/write-keys", headers=acme.headers)
    assert second.status_code == 201
    assert second.json().keys() == {"id", "key", "created_at"}
    path = f"/v1/products/web/write-keys/{first['id']}"
    for _ in range(2):  # revoking twice is not an error
        assert (await client.delete(path, headers=acme.headers)).status_code == 204

    listed = (await client.get("/v1/products/web/write-keys", headers=acme.headers)).json()
    assert [key["id"] for key in listed] == [first["id"], second.json()["id"]]
    assert listed[0]["revoked_at"] is not None
    assert listed[1]["revoked_at"] is None


async def test_write_key_of_another_product_cannot_be_revoked(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme, globex = await make_tenant(), await make_tenant()
    acme_key = (await _create_product(client, acme))["write_key"]
    await _create_product(client, globex)

    path = f"/v1/products/web/write-keys/{acme_key['id']}"
    answer = await client.delete(path, headers=globex.headers)
    assert answer.status_code == 404
    assert answer.json()["code"] == "write_key_not_found"
    assert (await client.get(f"/internal/v1/write-keys/{acme_key['key']}")).status_code == 200


async def test_repository_finds_active_write_keys_only(
    repo: Repository, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    product, key = await repo.create_product(acme.id, "web", "Web", "Europe/Berlin")

    target = await repo.find_write_key(key.key)
    assert target is not None
    assert (target.tenant_id, target.product_id, target.product) == (acme.id, product.id, "web")
    assert target.timezone == "Europe/Berlin"

    await repo.revoke_write_key(product, key.id)
    assert await repo.find_write_key(key.key) is None
