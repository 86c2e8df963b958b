import httpx
import pytest

from services.ingest import keys
from services.ingest.errors import InvalidWriteKey
from services.ingest.keys import WriteKeyCache
from shared.errors import Unavailable


def content_app(known: dict[str, dict[str, str]], calls: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        key = request.url.path.rsplit("/", 1)[-1]
        calls.append(key)
        if key in known:
            return httpx.Response(200, json=known[key])
        return httpx.Response(404, json={"code": "unknown_write_key"})

    return httpx.MockTransport(handle)


PRODUCT = {"tenant_id": "t", "product_id": "p", "product": "demo", "timezone": "UTC"}


async def test_a_known_key_is_looked_up_once_within_its_ttl() -> None:
    calls: list[str] = []
    transport = content_app({"wk_a": PRODUCT}, calls)
    async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
        cache = WriteKeyCache(client, ttl=60, unknown_ttl=60, retry_after_s=5)
        first = await cache.resolve("wk_a")
        await cache.resolve("wk_a")
    assert (first.product_id, calls) == ("p", ["wk_a"])


async def test_unknown_keys_are_bounded_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "MAX_ENTRIES", 3)
    calls: list[str] = []
    transport = content_app({}, calls)
    async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
        cache = WriteKeyCache(client, ttl=60, unknown_ttl=60, retry_after_s=5)
        for n in range(10):
            with pytest.raises(InvalidWriteKey):
                await cache.resolve(f"wk_{n}")
        assert len(cache._entries) == 3


async def test_content_down_gives_503_for_an_unchecked_key() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    transport = httpx.MockTransport(down)
    async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
        cache = WriteKeyCache(client, ttl=60, unknown_ttl=60, retry_after_s=5)
        with pytest.raises(Unavailable):
            await cache.resolve("wk_a")
