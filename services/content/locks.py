"""One change at a time per tenant where a plan limit is checked, so that parallel requests
cannot each see room for one more.

Within a process an asyncio lock serializes them (SQLite has no row locks); on PostgreSQL the
tenant's row is also locked until the transaction ends, which covers several processes.
"""

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.models import Tenant

_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


@asynccontextmanager
async def tenant_lock(session: AsyncSession, tenant_id: str) -> AsyncIterator[None]:
    """Hold the tenant's lock; commit (or roll back) inside the block."""
    async with _locks[tenant_id]:
        await session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
        yield
