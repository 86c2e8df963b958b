"""HTTP routes of the content service.

- `/v1/...`: the public admin API, scoped to the tenant of the `Authorization: Bearer` API key.
- `/internal/v1/...`: lookups for other Kizuna services, without authentication. Never route it
  from the public internet: it answers which tenant and product any write key belongs to.
- `/healthz`: answers once the database does.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content.errors import InvalidApiKey, UnknownWriteKey
from services.content.models import Product, Tenant
from services.content.repository import Repository
from services.content.schemas import (
    ApiKeyCreated,
    ApiKeyRead,
    HealthRead,
    ProductCreate,
    ProductCreated,
    ProductRead,
    ProductUpdate,
    WriteKeyCreated,
    WriteKeyRead,
    WriteKeyTargetRead,
)
from services.content.settings import ContentSettings
from shared.errors import Unavailable

admin = APIRouter(prefix="/v1", tags=["admin"])
internal = APIRouter(prefix="/internal/v1", tags=["internal"])
health = APIRouter(tags=["health"])

_bearer = HTTPBearer(auto_error=False, description="A tenant API key, `sk_...`.")


async def get_repository(request: Request) -> AsyncIterator[Repository]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield Repository(session)


Repo = Annotated[Repository, Depends(get_repository)]


async def current_tenant(
    repo: Repo, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Tenant:
    """The tenant of the request's API key; 401 when it is missing, unknown or revoked."""
    if credentials is None:
        raise InvalidApiKey("send an API key as 'Authorization: Bearer sk_...'")
    return await repo.authenticate(credentials.credentials)


CurrentTenant = Annotated[Tenant, Depends(current_tenant)]


async def tenant_product(repo: Repo, tenant: CurrentTenant, slug: str) -> Product:
    return await repo.get_product(tenant.id, slug)


TenantProduct = Annotated[Product, Depends(tenant_product)]


@admin.get("/products")
async def list_products(repo: Repo, tenant: CurrentTenant) -> list[ProductRead]:
    return [ProductRead.model_validate(row) for row in await repo.list_products(tenant.id)]


@admin.post("/products", status_code=status.HTTP_201_CREATED)
async def create_product(repo: Repo, tenant: CurrentTenant, body: ProductCreate) -> ProductCreated:
    product, key = await repo.create_product(tenant.id, body.slug, body.name, body.timezone)
    return ProductCreated(
        **ProductRead.model_validate(product).model_dump(),
        write_key=WriteKeyCreated.model_validate(key),
    )


@admin.get("/products/{slug}")
async def get_product(product: TenantProduct) -> ProductRead:
    return ProductRead.model_validate(product)


@admin.patch("/products/{slug}")
async def update_product(repo: Repo, product: TenantProduct, body: ProductUpdate) -> ProductRead:
    updated = await repo.update_product(product, name=body.name, timezone=body.timezone)
    return ProductRead.model_validate(updated)


@admin.post("/products/{slug}/write-keys", status_code=status.HTTP_201_CREATED)
async def issue_write_key(repo: Repo, product: TenantProduct) -> WriteKeyCreated:
    return WriteKeyCreated.model_validate(await repo.issue_write_key(product))


@admin.get("/products/{slug}/write-keys")
async def list_write_keys(repo: Repo, product: TenantProduct) -> list[WriteKeyRead]:
    return [WriteKeyRead.model_validate(row) for row in await repo.list_write_keys(product)]


@admin.delete("/products/{slug}/write-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_write_key(repo: Repo, product: TenantProduct, key_id: str) -> Response:
    await repo.revoke_write_key(product, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin.post("/api-keys", status_code=status.HTTP_201_CREATED)
async def issue_api_key(repo: Repo, tenant: CurrentTenant) -> ApiKeyCreated:
    issued = await repo.issue_api_key(tenant.id)
    return ApiKeyCreated(id=issued.row.id, key=issued.key, prefix=issued.row.prefix)


@admin.get("/api-keys")
async def list_api_keys(repo: Repo, tenant: CurrentTenant) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(row) for row in await repo.list_api_keys(tenant.id)]


@admin.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(repo: Repo, tenant: CurrentTenant, key_id: str) -> Response:
    await repo.revoke_api_key(tenant.id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@internal.get("/write-keys/{write_key}")
async def find_write_key(repo: Repo, write_key: str) -> WriteKeyTargetRead:
    target = await repo.find_write_key(write_key)
    if target is None:
        raise UnknownWriteKey()
    return WriteKeyTargetRead.model_validate(target)


@health.get("/healthz")
async def healthz(request: Request, repo: Repo) -> HealthRead:
    """Ok once `SELECT 1` answers; 503 when the database fails or is slower than the timeout."""
    settings: ContentSettings = request.app.state.settings
    try:
        async with asyncio.timeout(settings.dependency_timeout_s):
            await repo.session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise Unavailable("database did not answer", code="database_unavailable") from exc
    return HealthRead(status="ok")
