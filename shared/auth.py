"""API key + product slug → the product, as the content service (which owns keys) says.

The caller's bearer key is forwarded to content's `GET /v1/products/{slug}`; answers are cached
for `ttl` seconds under a hash of the key, so a revoked key stops working within that time.
"""

import hashlib
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from shared.errors import AuthenticationError, NotFound, Unavailable


@dataclass(frozen=True)
class Product:
    id: str
    slug: str
    timezone: str


class ProductDirectory:
    def __init__(self, client: httpx.AsyncClient, ttl: float) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[Product, float]] = {}

    async def product_for(self, authorization: str | None, slug: str) -> Product:
        """Raise AuthenticationError, NotFound (unknown to this tenant) or Unavailable."""
        scheme, _, api_key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not api_key:
            raise AuthenticationError("send `Authorization: Bearer <api key>`")
        if not (api_key.isascii() and api_key.isprintable()):
            # No key has such characters, and a header could not carry them on to content.
            raise AuthenticationError("unknown or revoked API key", code="invalid_api_key")
        key = (hashlib.sha256(api_key.encode()).hexdigest(), slug)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[1] < self._ttl:
            return cached[0]

        product = await self._fetch(api_key, slug)
        self._cache[key] = (product, time.monotonic())
        return product

    async def _fetch(self, api_key: str, slug: str) -> Product:
        try:
            response = await self._client.get(
                f"/v1/products/{quote(slug, safe='')}",
                headers={"Authorization": f"Bearer {api_key}"},
            )
        except httpx.HTTPError as exc:
            raise Unavailable("cannot check the API key right now") from exc
        if response.status_code == 401:
            raise AuthenticationError("unknown or revoked API key", code="invalid_api_key")
        if response.status_code == 404:
            raise NotFound(f"no product {slug!r} for this API key", attr="product")
        if response.status_code != 200:
            raise Unavailable(f"the content service answered {response.status_code}")
        body = response.json()
        return Product(id=body["id"], slug=body["slug"], timezone=body["timezone"])
