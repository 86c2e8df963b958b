"""Reads and writes of tenants, products and keys. Every mutating method commits.

Methods raise the errors of `services.content.errors`. Only the `find_*` lookups answer None for
a missing row; everything asked for by slug or id raises `NotFound` subclasses instead.
"""

import functools
import hashlib
import logging
import secrets
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.errors import (
    DemoKeyConflict,
    InvalidApiKey,
    InvalidTimezone,
    KeyNotFound,
    PlanLimitReached,
    ProductNotFound,
    SlugTaken,
)
from services.content.locks import tenant_lock
from services.content.models import ApiKey, Product, Tenant, WriteKey
from services.content.plans import PLANS
from shared.sql import utcnow

log = logging.getLogger(__name__)

WRITE_KEY_PREFIX = "wk_"
API_KEY_PREFIX = "sk_"
# Characters of an API key kept in clear: "sk_" and 7 random ones, enough to tell keys apart.
API_KEY_DISPLAY_CHARS = 10


def new_write_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(24)  # 24 bytes -> 32 characters


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(30)  # 30 bytes -> 40 characters


def hash_api_key(key: str) -> str:
    # API keys carry 240 random bits, so a fast unsalted hash cannot be brute-forced.
    return hashlib.sha256(key.encode()).hexdigest()


@functools.cache
def _known_timezones() -> frozenset[str]:
    # Reads the system's (or tzdata's) zone files once; about 100 ms.
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    """Return `name` if it is an IANA zone that `zoneinfo.ZoneInfo` can load; else raise."""
    if name not in _known_timezones():
        raise InvalidTimezone(name)
    return name


@dataclass(frozen=True)
class WriteKeyTarget:
    """Where events sent with a write key belong."""

    tenant_id: str
    product_id: str
    product: str
    timezone: str


@dataclass(frozen=True)
class IssuedApiKey:
    row: ApiKey
    key: str  # the secret; it exists only in this object and the response that shows it once


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_tenant(self, slug: str, name: str, plan: str = "free") -> Tenant:
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}")
        tenant = Tenant(slug=slug, name=name, plan=plan)
        self.session.add(tenant)
        await self.session.commit()
        log.info("tenant_created", extra={"tenant_id": tenant.id, "tenant": slug})
        return tenant

    async def find_tenant(self, slug: str) -> Tenant | None:
        tenant: Tenant | None = await self.session.scalar(select(Tenant).where(Tenant.slug == slug))
        return tenant

    async def create_product(
        self,
        tenant_id: str,
        slug: str,
        name: str,
        timezone: str = "UTC",
        write_key: str | None = None,
    ) -> tuple[Product, WriteKey]:
        """Create a product with its first write key (`write_key`, or a random one).

        Raises InvalidTimezone, SlugTaken when the tenant already has a product `slug`, or
        PlanLimitReached when its plan allows no more products.
        """
        async with tenant_lock(self.session, tenant_id):
            return await self._create_product(tenant_id, slug, name, timezone, write_key)

    async def _create_product(
        self, tenant_id: str, slug: str, name: str, timezone: str, write_key: str | None
    ) -> tuple[Product, WriteKey]:
        plan = PLANS[(await self.session.get_one(Tenant, tenant_id)).plan]
        limit = plan.products
        if limit is not None and len(await self.list_products(tenant_id)) >= limit:
            await self.session.rollback()
            raise PlanLimitReached(
                f"the {plan.name} plan allows {limit} product" + ("s" if limit > 1 else ""),
                attr="slug",
            )
        product = Product(
            tenant_id=tenant_id, slug=slug, name=name, timezone=check_timezone(timezone)
        )
        self.session.add(product)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            # The only constraint a product insert can break for an existing tenant.
            await self.session.rollback()
            raise SlugTaken(slug) from exc

        key = WriteKey(product_id=product.id, key=write_key or new_write_key())
        self.session.add(key)
        await self.session.commit()
        log.info(
            "product_created",
            extra={"tenant_id": tenant_id, "product_id": product.id, "timezone": product.timezone},
        )
        return product, key

    async def list_products(self, tenant_id: str) -> Sequence[Product]:
        query = select(Product).where(Product.tenant_id == tenant_id).order_by(Product.created_at)
        return (await self.session.scalars(query)).all()

    async def get_product(self, tenant_id: str, slug: str) -> Product:
        """The tenant's product `slug`; another tenant's product is as missing as none."""
        query = select(Product).where(Product.tenant_id == tenant_id, Product.slug == slug)
        product: Product | None = await self.session.scalar(query)
        if product is None:
            raise ProductNotFound(slug)
        return product

    async def update_product(
        self, product: Product, *, name: str | None = None, timezone: str | None = None
    ) -> Product:
        if timezone is not None:
            product.timezone = check_timezone(timezone)
        if name is not None:
            product.name = name

        await self.session.commit()
        log.info(
            "product_updated",
            extra={"product_id": product.id, "timezone": product.timezone},
        )
        return product

    async def issue_write_key(self, product: Product, key: str | None = None) -> WriteKey:
        row = WriteKey(product_id=product.id, key=key or new_write_key())
        self.session.add(row)
        await self.session.commit()
        log.info("write_key_issued", extra={"product_id": product.id, "key_id": row.id})
        return row

    async def list_write_keys(self, product: Product) -> Sequence[WriteKey]:
        query = (
            select(WriteKey).where(WriteKey.product_id == product.id).order_by(WriteKey.created_at)
        )
        return (await self.session.scalars(query)).all()

    async def revoke_write_key(self, product: Product, key_id: str) -> WriteKey:
        """Revoke one of the product's write keys. Revoking twice keeps the first time."""
        query = select(WriteKey).where(WriteKey.id == key_id, WriteKey.product_id == product.id)
        row: WriteKey | None = await self.session.scalar(query)
        if row is None:
            raise KeyNotFound("write_key", key_id)
        if row.revoked_at is not None:
            return row

        row.revoked_at = utcnow()
        await self.session.commit()
        log.info("write_key_revoked", extra={"product_id": product.id, "key_id": key_id})
        return row

    async def find_write_key(self, key: str) -> WriteKeyTarget | None:
        """Where an active write key sends events; None when it is unknown or revoked."""
        query = (
            select(Product.tenant_id, Product.id, Product.slug, Product.timezone)
            .join(WriteKey, WriteKey.product_id == Product.id)
            .where(WriteKey.key == key, WriteKey.revoked_at.is_(None))
        )
        found = (await self.session.execute(query)).first()
        if found is None:
            return None
        return WriteKeyTarget(*found)

    async def issue_api_key(self, tenant_id: str, key: str | None = None) -> IssuedApiKey:
        secret = key or new_api_key()
        row = ApiKey(
            tenant_id=tenant_id,
            key_hash=hash_api_key(secret),
            prefix=secret[:API_KEY_DISPLAY_CHARS],
        )
        self.session.add(row)
        await self.session.commit()
        log.info("api_key_issued", extra={"tenant_id": tenant_id, "key_id": row.id})
        return IssuedApiKey(row=row, key=secret)

    async def list_api_keys(self, tenant_id: str) -> Sequence[ApiKey]:
        query = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
        return (await self.session.scalars(query)).all()

    async def revoke_api_key(self, tenant_id: str, key_id: str) -> ApiKey:
        """Revoke one of the tenant's API keys. Revoking twice keeps the first time."""
        query = select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id)
        row: ApiKey | None = await self.session.scalar(query)
        if row is None:
            raise KeyNotFound("api_key", key_id)
        if row.revoked_at is not None:
            return row

        row.revoked_at = utcnow()
        await self.session.commit()
        log.info("api_key_revoked", extra={"tenant_id": tenant_id, "key_id": key_id})
        return row

    async def authenticate(self, key: str) -> Tenant:
        """The tenant owning the active API key `key`; raises InvalidApiKey otherwise."""
        query = (
            select(Tenant, ApiKey)
            .join(ApiKey, ApiKey.tenant_id == Tenant.id)
            .where(ApiKey.key_hash == hash_api_key(key))
        )
        found = (await self.session.execute(query)).first()
        if found is None:
            log.info("api_key_rejected", extra={"reason": "unknown"})
            raise InvalidApiKey("unknown API key")

        tenant, row = found
        if row.revoked_at is not None:
            log.info("api_key_rejected", extra={"reason": "revoked", "key_id": row.id})
            raise InvalidApiKey("revoked API key")
        return tenant

    async def ensure_write_key(self, product: Product, key: str) -> WriteKey:
        """Make sure `key` is a write key of `product`, adding it when missing. A revoked key
        stays revoked: revoking is its owner's decision, and a restart must not undo it.

        Raises DemoKeyConflict when `key` belongs to another product.
        """
        row: WriteKey | None = await self.session.scalar(
            select(WriteKey).where(WriteKey.key == key)
        )
        if row is None:
            return await self.issue_write_key(product, key)
        if row.product_id != product.id:
            raise DemoKeyConflict(f"write key {row.id} belongs to product {row.product_id}")
        return row

    async def ensure_api_key(self, tenant_id: str, key: str) -> ApiKey:
        """Make sure `key` is an API key of the tenant, adding it when missing; a revoked key
        stays revoked.

        Raises DemoKeyConflict when `key` belongs to another tenant.
        """
        query = select(ApiKey).where(ApiKey.key_hash == hash_api_key(key))
        row: ApiKey | None = await self.session.scalar(query)
        if row is None:
            return (await self.issue_api_key(tenant_id, key)).row
        if row.tenant_id != tenant_id:
            raise DemoKeyConflict(f"API key {row.id} belongs to tenant {row.tenant_id}")
        return row
