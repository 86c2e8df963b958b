import asyncio
import json
import stat
from pathlib import Path

import httpx
import pydantic
import pytest
from sqlalchemy import text

from services.content.bootstrap import DemoKeys, ensure_demo, ensure_demo_sync
from services.content.db import create_tables, make_engine
from services.content.models import Base
from services.content.repository import Repository
from services.content.settings import ContentSettings

from .factories import wipe_database

ENV_WRITE_KEY = "wk_fixed-demo-write-key-for-tests-00"
ENV_API_KEY = "sk_fixed-demo-api-key-for-tests-0000000000000"


async def _assert_keys_work(client: httpx.AsyncClient, keys: DemoKeys) -> None:
    found = await client.get(f"/internal/v1/write-keys/{keys.write_key}")
    assert found.status_code == 200
    assert found.json()["product"] == "demo"
    assert found.json()["timezone"] == "UTC"

    auth = {"Authorization": f"Bearer {keys.api_key}"}
    product = await client.get("/v1/products/demo", headers=auth)
    assert product.status_code == 200


async def test_second_ensure_demo_returns_the_same_working_keys(
    settings: ContentSettings, client: httpx.AsyncClient
) -> None:
    first = await ensure_demo(settings)
    second = await ensure_demo(settings)

    assert second == first
    assert (first.tenant, first.product) == ("demo", "demo")
    assert first.write_key.startswith("wk_")
    assert first.api_key.startswith("sk_")
    await _assert_keys_work(client, first)


async def test_generated_demo_keys_are_kept_in_an_owner_only_file(
    settings: ContentSettings,
) -> None:
    keys = await ensure_demo(settings)

    path = settings.var_dir / "demo-keys.json"
    assert json.loads(path.read_text()) == {"write_key": keys.write_key, "api_key": keys.api_key}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_demo_keys_from_env_are_used_and_work(
    settings: ContentSettings, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DEMO_WRITE_KEY", ENV_WRITE_KEY)
    monkeypatch.setenv("KIZUNA_DEMO_API_KEY", ENV_API_KEY)
    from_env = ContentSettings(var_dir=settings.var_dir, database_url=settings.database_url)

    keys = await ensure_demo(from_env)

    assert (keys.write_key, keys.api_key) == (ENV_WRITE_KEY, ENV_API_KEY)
    assert not (settings.var_dir / "demo-keys.json").exists()
    await _assert_keys_work(client, keys)


async def test_env_demo_keys_are_added_to_an_existing_demo(
    settings: ContentSettings, client: httpx.AsyncClient
) -> None:
    generated = await ensure_demo(settings)
    pinned = settings.model_copy(
        update={"demo_write_key": ENV_WRITE_KEY, "demo_api_key": ENV_API_KEY}
    )

    keys = await ensure_demo(pinned)

    assert keys.write_key == ENV_WRITE_KEY
    await _assert_keys_work(client, keys)
    await _assert_keys_work(client, generated)


async def test_keys_file_is_reused_after_the_database_is_wiped(
    settings: ContentSettings, client: httpx.AsyncClient
) -> None:
    before = await ensure_demo(settings)
    await wipe_database(settings)

    after = await ensure_demo(settings)

    assert after == before
    await _assert_keys_work(client, after)


async def test_revoked_demo_keys_stay_revoked_across_restarts(
    settings: ContentSettings, client: httpx.AsyncClient, repo: Repository
) -> None:
    keys = await ensure_demo(settings)
    tenant = await repo.find_tenant("demo")
    assert tenant is not None
    product = await repo.get_product(tenant.id, "demo")
    for write_key in await repo.list_write_keys(product):
        await repo.revoke_write_key(product, write_key.id)
    for api_key in await repo.list_api_keys(tenant.id):
        await repo.revoke_api_key(tenant.id, api_key.id)

    again = await ensure_demo(settings)

    assert again.revoked and (again.write_key, again.api_key) == (keys.write_key, keys.api_key)
    lookup = await client.get(f"/internal/v1/write-keys/{keys.write_key}")
    listing = await client.get("/v1/products", headers={"Authorization": f"Bearer {keys.api_key}"})
    assert (lookup.status_code, listing.status_code) == (404, 401)


async def test_ensure_demo_sync_works_from_plain_synchronous_code(
    settings: ContentSettings,
) -> None:
    # The supervisor calls it outside any event loop; a worker thread has none either.
    keys = await asyncio.to_thread(ensure_demo_sync, settings)

    assert keys == await ensure_demo(settings)


def test_only_one_demo_key_in_env_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIZUNA_DEMO_WRITE_KEY", ENV_WRITE_KEY)
    monkeypatch.delenv("KIZUNA_DEMO_API_KEY", raising=False)

    with pytest.raises(pydantic.ValidationError, match="KIZUNA_DEMO_API_KEY"):
        ContentSettings()


async def test_a_database_made_before_migrations_is_adopted_and_kept(tmp_path: Path) -> None:
    settings = ContentSettings(var_dir=tmp_path, demo_write_key=None, demo_api_key=None)
    engine = make_engine(settings)
    async with engine.begin() as connection:  # as the service made its tables before
        await connection.run_sync(Base.metadata.create_all)
        await connection.execute(
            text(
                "INSERT INTO tenants (id, slug, name, plan, created_at) VALUES"
                " ('ten_old', 'old', 'Old', 'free', '2024-01-01 00:00:00')"
            )
        )

    await create_tables(engine)

    async with engine.connect() as connection:
        version = (
            await connection.execute(text("SELECT version_num FROM content_alembic_version"))
        ).scalar()
        tenants = (await connection.execute(text("SELECT slug FROM tenants"))).scalars().all()
    await engine.dispose()
    assert (version, tenants) == ("0001", ["old"])
