import httpx
import pytest

from .factories import TenantFactory, product_body

ERROR_FIELDS = {"type", "code", "detail", "attr"}


async def test_created_product_comes_with_a_write_key_and_is_readable_by_slug(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()

    created = await client.post("/v1/products", json=product_body(), headers=acme.headers)
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("prd_")
    assert body["write_key"]["key"].startswith("wk_")
    assert len(body["write_key"]["key"]) == 3 + 32

    read = await client.get("/v1/products/web", headers=acme.headers)
    assert read.status_code == 200
    assert read.json() == {
        "id": body["id"],
        "slug": "web",
        "name": "Web app",
        "timezone": "Europe/Paris",
        "tenant_id": acme.id,
    }


async def test_timezone_defaults_to_utc(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()

    created = await client.post(
        "/v1/products", json={"slug": "web", "name": "Web"}, headers=acme.headers
    )
    assert created.json()["timezone"] == "UTC"


async def test_products_are_listed_for_their_own_tenant_only(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme, globex = await make_tenant(), await make_tenant()
    for slug in ("web", "mobile"):
        await client.post("/v1/products", json=product_body(slug=slug), headers=acme.headers)
    await client.post("/v1/products", json=product_body(slug="crm"), headers=globex.headers)

    listed = await client.get("/v1/products", headers=acme.headers)
    assert listed.status_code == 200
    assert [product["slug"] for product in listed.json()] == ["web", "mobile"]


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "utc", "../etc/passwd", "", "zone.tab"])
async def test_invalid_timezone_is_rejected_with_400_invalid_timezone(
    client: httpx.AsyncClient, make_tenant: TenantFactory, timezone: str
) -> None:
    acme = await make_tenant()

    created = await client.post(
        "/v1/products", json=product_body(timezone=timezone), headers=acme.headers
    )
    assert created.status_code == 400
    assert created.json().keys() == ERROR_FIELDS
    assert created.json()["code"] == "invalid_timezone"
    assert created.json()["attr"] == "timezone"


async def test_invalid_timezone_in_patch_is_rejected_and_leaves_the_product_unchanged(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await client.post("/v1/products", json=product_body(), headers=acme.headers)

    patched = await client.patch(
        "/v1/products/web", json={"name": "New", "timezone": "Nowhere/City"}, headers=acme.headers
    )
    assert patched.status_code == 400
    assert patched.json()["code"] == "invalid_timezone"

    read = await client.get("/v1/products/web", headers=acme.headers)
    assert read.json()["name"] == "Web app"
    assert read.json()["timezone"] == "Europe/Paris"


async def test_patch_changes_name_and_timezone(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await client.post("/v1/products", json=product_body(), headers=acme.headers)

    patched = await client.patch(
        "/v1/products/web", json={"name": "Web", "timezone": "Asia/Tokyo"}, headers=acme.headers
    )
    assert patched.status_code == 200
    assert patched.json()["timezone"] == "Asia/Tokyo"

    read = await client.get("/v1/products/web", headers=acme.headers)
    assert (read.json()["name"], read.json()["timezone"]) == ("Web", "Asia/Tokyo")


async def test_duplicate_slug_is_rejected_with_409(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await client.post("/v1/products", json=product_body(), headers=acme.headers)

    again = await client.post("/v1/products", json=product_body(name="Other"), headers=acme.headers)
    assert again.status_code == 409
    assert again.json() == {
        "type": "validation_error",
        "code": "slug_taken",
        "detail": "a product with slug 'web' already exists",
        "attr": "slug",
    }


async def test_same_slug_in_two_tenants_is_allowed(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme, globex = await make_tenant(), await make_tenant()

    for tenant in (acme, globex):
        created = await client.post("/v1/products", json=product_body(), headers=tenant.headers)
        assert created.status_code == 201


@pytest.mark.parametrize("slug", ["Web", "-web", "web-", "a b", "x" * 65])
async def test_malformed_slug_is_rejected_with_400_invalid_input(
    client: httpx.AsyncClient, make_tenant: TenantFactory, slug: str
) -> None:
    acme = await make_tenant()

    created = await client.post("/v1/products", json=product_body(slug=slug), headers=acme.headers)
    assert created.status_code == 400
    assert created.json()["code"] == "invalid_input"
    assert created.json()["attr"] == "slug"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/products/web"),
        ("PATCH", "/v1/products/web"),
        ("GET", "/v1/products/web/write-keys"),
        ("POST", "/v1/products/web/write-keys"),
        ("DELETE", "/v1/products/web/write-keys/wki_0"),
    ],
)
async def test_other_tenants_product_is_not_found(
    client: httpx.AsyncClient, make_tenant: TenantFactory, method: str, path: str
) -> None:
    acme, globex = await make_tenant(), await make_tenant()
    await client.post("/v1/products", json=product_body(), headers=acme.headers)

    answer = await client.request(method, path, json={}, headers=globex.headers)
    assert answer.status_code == 404
    assert answer.json()["code"] == "product_not_found"


async def test_a_body_that_is_not_json_gets_400_invalid_json_naming_no_field(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    headers = {**acme.headers, "Content-Type": "application/json"}

    response = await client.post("/v1/products", content=b'{"slug":', headers=headers)

    assert response.status_code == 400
    assert response.json().keys() == ERROR_FIELDS
    assert (response.json()["code"], response.json()["attr"]) == ("invalid_json", None)
    assert response.json()["detail"].startswith("the body is not valid JSON")
