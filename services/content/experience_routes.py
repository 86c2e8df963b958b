"""The admin API of experiences: `/v1/products/{slug}/experiences`, under the tenant's API key.

Authors create and edit drafts; `publish` makes the draft the next version, which snippets pick
up on their next request (they ask on every page view and every 30 s).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from services.content.experience_store import ExperienceStore
from services.content.experiences import Settings, definition, parse_settings
from services.content.models import Experience
from services.content.routes import CurrentTenant, Repo, TenantProduct
from services.content.schemas import (
    ExperienceCreate,
    ExperienceRead,
    ExperienceUpdate,
    ExperienceVersionRead,
    TenantRead,
)

router = APIRouter(prefix="/v1", tags=["experiences"])
PATH = "/products/{slug}/experiences"


def get_store(repo: Repo) -> ExperienceStore:
    return ExperienceStore(repo.session)


Store = Annotated[ExperienceStore, Depends(get_store)]


async def product_experience(
    store: Store, product: TenantProduct, experience_id: str
) -> Experience:
    return await store.get(product, experience_id)


ProductExperience = Annotated[Experience, Depends(product_experience)]


@router.get("/tenant")
async def get_tenant(tenant: CurrentTenant) -> TenantRead:
    return TenantRead.model_validate(tenant)


@router.post(PATH, status_code=status.HTTP_201_CREATED)
async def create_experience(
    store: Store, product: TenantProduct, body: ExperienceCreate
) -> ExperienceRead:
    settings = Settings.model_validate(body.model_dump(include=set(Settings.model_fields)))
    stored = definition(body.kind, body.content, settings)
    return ExperienceRead.of(await store.create(product, body.kind, body.name, stored))


@router.get(PATH)
async def list_experiences(store: Store, product: TenantProduct) -> list[ExperienceRead]:
    return [ExperienceRead.of(row) for row in await store.of_product(product)]


@router.get(PATH + "/{experience_id}")
async def get_experience(row: ProductExperience) -> ExperienceRead:
    return ExperienceRead.of(row)


@router.patch(PATH + "/{experience_id}")
async def update_experience(
    store: Store, row: ProductExperience, body: ExperienceUpdate
) -> ExperienceRead:
    changed = body.model_dump(exclude_unset=True, exclude={"name", "content"})
    stored = None
    if changed or "content" in body.model_fields_set:
        current = parse_settings(row.draft).model_dump()
        settings = Settings.model_validate({**current, **changed})
        content = body.content if body.content is not None else row.draft["content"]
        stored = definition(row.kind, content, settings)
    return ExperienceRead.of(await store.update(row, name=body.name, definition=stored))


@router.post(PATH + "/{experience_id}/publish")
async def publish_experience(
    store: Store, tenant: CurrentTenant, row: ProductExperience
) -> ExperienceRead:
    return ExperienceRead.of(await store.publish(tenant, row))


@router.post(PATH + "/{experience_id}/unpublish")
async def unpublish_experience(store: Store, row: ProductExperience) -> ExperienceRead:
    return ExperienceRead.of(await store.unpublish(row))


@router.get(PATH + "/{experience_id}/versions")
async def list_versions(store: Store, row: ProductExperience) -> list[ExperienceVersionRead]:
    return [ExperienceVersionRead.model_validate(v) for v in await store.versions(row)]


@router.delete(PATH + "/{experience_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_experience(store: Store, row: ProductExperience) -> Response:
    await store.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
