"""Write key → product, looked up at the content service and cached.

A known key is trusted for `ttl` seconds, then checked again; an unknown one is remembered for
`unknown_ttl` seconds so that a client sending a wrong key cannot flood the content service.
When content cannot be reached, a known key keeps working for one more `ttl` (stale, logged);
an unchecked one gets 503.
"""

import logging
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from services.ingest.errors import InvalidWriteKey
from services.ingest.normalize import ProductRef
from shared.errors import Unavailable

log = logging.getLogger(__name__)

MAX_ENTRIES = 10_000


@dataclass
class _Entry:
    product: ProductRef | None
    checked_at: float


class WriteKeyCache:
    def __init__(
        self, client: httpx.AsyncClient, ttl: float, unknown_ttl: float, retry_after_s: int
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._unknown_ttl = unknown_ttl
        self._retry_after = str(retry_after_s)
        self._entries: dict[str, _Entry] = {}

    async def resolve(self, write_key: str) -> ProductRef:
        """Return the key's product; raise InvalidWriteKey or Unavailable."""
        now = time.monotonic()
        entry = self._entries.get(write_key)
        if entry is not None and now - entry.checked_at < self._fresh_for(entry):
            return self._product_of(entry)

        try:
            product = await self._lookup(write_key)
        except httpx.HTTPError as exc:
            if entry is not None and entry.product and now - entry.checked_at < 2 * self._ttl:
                log.warning("write_key_stale", extra={"error": type(exc).__name__})
                return entry.product
            raise Unavailable(
                "cannot check the write key right now", headers={"Retry-After": self._retry_after}
            ) from exc
        entry = _Entry(product, now)
        self._remember(write_key, entry)
        return self._product_of(entry)

    def _remember(self, write_key: str, entry: _Entry) -> None:
        # Oldest checked first out: a flood of made-up keys cannot grow memory without bound.
        self._entries.pop(write_key, None)
        self._entries[write_key] = entry
        if len(self._entries) > MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]

    def _fresh_for(self, entry: _Entry) -> float:
        return self._ttl if entry.product else self._unknown_ttl

    @staticmethod
    def _product_of(entry: _Entry) -> ProductRef:
        if entry.product is None:
            raise InvalidWriteKey("unknown or revoked write key")
        return entry.product

    async def _lookup(self, write_key: str) -> ProductRef | None:
        # Quoted whole: a key is client input and must not walk to another route.
        response = await self._client.get(f"/internal/v1/write-keys/{quote(write_key, safe='')}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body = response.json()
        return ProductRef(body["tenant_id"], body["product_id"], body["timezone"])
