"""Reads and writes of experiences and their versions. Every mutating method commits.

Authors edit a draft; `publish` freezes it as the next version and makes that the one snippets
see, `unpublish` stops showing it. Versions are never changed or deleted but with their
experience.
"""

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from services.content.errors import ExperienceNotFound, PlanLimitReached
from services.content.experiences import TUTORIAL_KINDS
from services.content.locks import tenant_lock
from services.content.models import Experience, ExperienceVersion, Product, Tenant
from services.content.plans import PLANS
from services.content.selection import Published
from shared.errors import Conflict
from shared.sql import utcnow

log = logging.getLogger(__name__)


class ExperienceStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, product: Product, kind: str, name: str, definition: dict[str, Any]
    ) -> Experience:
        row = Experience(product_id=product.id, kind=kind, name=name, draft=definition)
        self.session.add(row)
        await self.session.commit()
        log.info("experience_created", extra={"experience_id": row.id, "kind": kind})
        return row

    async def of_product(self, product: Product) -> Sequence[Experience]:
        query = (
            select(Experience)
            .where(Experience.product_id == product.id)
            .order_by(Experience.created_at, Experience.id)
        )
        return (await self.session.scalars(query)).all()

    async def get(self, product: Product, experience_id: str) -> Experience:
        """The product's experience; another product's (or tenant's) is as missing as none."""
        query = select(Experience).where(
            Experience.id == experience_id, Experience.product_id == product.id
        )
        row: Experience | None = await self.session.scalar(query)
        if row is None:
            raise ExperienceNotFound(experience_id)
        return row

    async def update(
        self, row: Experience, *, name: str | None, definition: dict[str, Any] | None
    ) -> Experience:
        if name is not None:
            row.name = name
        if definition is not None:
            row.draft = definition
        row.unpublished_changes = True
        row.updated_at = utcnow()
        await self._commit(row)
        log.info("experience_updated", extra={"experience_id": row.id})
        return row

    async def publish(self, tenant: Tenant, row: Experience) -> Experience:
        """Freeze the draft as the next version and show it. Raises PlanLimitReached when the
        tenant's plan allows no more published tutorials."""
        async with tenant_lock(self.session, tenant.id):
            try:
                await self.session.refresh(row)  # as it is now, not as the request read it
            except InvalidRequestError as exc:  # deleted meanwhile
                raise ExperienceNotFound(row.id) from exc
            return await self._publish(tenant, row)

    async def _publish(self, tenant: Tenant, row: Experience) -> Experience:
        plan = PLANS[tenant.plan]
        limit = plan.published_tutorials
        counted = row.kind in TUTORIAL_KINDS and row.published_version is None
        if counted and limit is not None and await self._published_tutorials(tenant) >= limit:
            await self.session.rollback()
            raise PlanLimitReached(
                f"the {plan.name} plan allows {limit} published tutorial;"
                " unpublish one or change plans",
                attr="experience_id",
            )
        row.latest_version += 1
        version = ExperienceVersion(
            experience_id=row.id, version=row.latest_version, name=row.name, definition=row.draft
        )
        self.session.add(version)
        row.published_version = row.latest_version
        row.unpublished_changes = False
        await self._commit(row)
        log.info(
            "experience_published", extra={"experience_id": row.id, "version": version.version}
        )
        return row

    async def unpublish(self, row: Experience) -> Experience:
        row.published_version = None
        await self.session.commit()
        log.info("experience_unpublished", extra={"experience_id": row.id})
        return row

    async def delete(self, row: Experience) -> None:
        await self.session.delete(row)
        await self.session.commit()
        log.info("experience_deleted", extra={"experience_id": row.id})

    async def versions(self, row: Experience) -> Sequence[ExperienceVersion]:
        query = (
            select(ExperienceVersion)
            .where(ExperienceVersion.experience_id == row.id)
            .order_by(ExperienceVersion.version)
        )
        return (await self.session.scalars(query)).all()

    async def published(self, product_id: str) -> list[Published]:
        """The product's experiences as snippets see them: each at its published version."""
        query = (
            select(Experience, ExperienceVersion)
            .join(
                ExperienceVersion,
                (ExperienceVersion.experience_id == Experience.id)
                & (ExperienceVersion.version == Experience.published_version),
            )
            .where(Experience.product_id == product_id)
            .order_by(Experience.id)
        )
        return [
            Published(
                id=row.id,
                kind=row.kind,
                name=version.name,
                version=version.version,
                definition=version.definition,
                published_at=version.published_at,
            )
            for row, version in (await self.session.execute(query)).all()
        ]

    async def _commit(self, row: Experience) -> None:
        """Commit a change to `row`; raises ExperienceNotFound when it was deleted meanwhile,
        Conflict when another process published it at the same moment."""
        try:
            await self.session.commit()
        except StaleDataError as exc:
            await self.session.rollback()
            raise ExperienceNotFound(row.id) from exc
        except IntegrityError as exc:
            await self.session.rollback()
            raise Conflict(
                "the experience changed at the same moment; try again", code="concurrent_change"
            ) from exc

    async def _published_tutorials(self, tenant: Tenant) -> int:
        query = (
            select(func.count())
            .select_from(Experience)
            .join(Product, Product.id == Experience.product_id)
            .where(
                Product.tenant_id == tenant.id,
                Experience.published_version.is_not(None),
                Experience.kind.in_(TUTORIAL_KINDS),
            )
        )
        return int(await self.session.scalar(query) or 0)
