"""Small builders of test data, and helpers, for the content tests."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.content.db import MIGRATIONS, make_engine
from services.content.settings import ContentSettings


@dataclass(frozen=True)
class TenantAuth:
    id: str
    slug: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


TenantFactory = Callable[..., Awaitable[TenantAuth]]


def product_body(**overrides: Any) -> dict[str, Any]:
    return {"slug": "web", "name": "Web app", "timezone": "Europe/Paris", **overrides}


async def wipe_database(settings: ContentSettings) -> None:
    """Drop every content table, as a lost or reset database would be."""
    engine = make_engine(settings)
    await MIGRATIONS.downgrade(engine, "base")
    await engine.dispose()
