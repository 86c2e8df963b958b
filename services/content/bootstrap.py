"""The demo tenant and product, so that a fresh stack can take events without any setup.

The supervisor calls `ensure_demo_sync(settings)` before it starts the services. It is idempotent:
every run answers the same keys. Those are KIZUNA_DEMO_WRITE_KEY / KIZUNA_DEMO_API_KEY when set;
otherwise keys generated on the first run and kept in `<var_dir>/demo-keys.json`, which outlives
a wiped database (its keys are inserted again).
"""

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from services.content.db import create_tables, make_engine, make_sessions
from services.content.repository import Repository, new_api_key, new_write_key
from services.content.settings import ContentSettings

log = logging.getLogger(__name__)

DEMO_SLUG = "demo"
KEYS_FILE = "demo-keys.json"


@dataclass(frozen=True)
class DemoKeys:
    tenant: str
    product: str
    write_key: str
    api_key: str
    # True when someone revoked a demo key: it stays revoked. Deleting the keys file makes
    # new ones on the next start.
    revoked: bool = False


async def ensure_demo(settings: ContentSettings) -> DemoKeys:
    """Create what is missing of the demo tenant, product and keys; return the keys.

    Raises DemoKeyConflict when a demo key already belongs to another tenant or product, and
    OSError / ValueError when the keys file cannot be written or read.
    """
    write_key, api_key = _demo_keys(settings)
    engine = make_engine(settings)
    try:
        await create_tables(engine)
        async with make_sessions(engine)() as session:
            revoked = await _ensure_rows(Repository(session), write_key, api_key)
    finally:
        await engine.dispose()

    if revoked:
        log.warning("demo_keys_revoked", extra={"keys_file": settings.var_dir / KEYS_FILE})
    log.info("demo_ready", extra={"tenant": DEMO_SLUG, "product": DEMO_SLUG})
    return DemoKeys(DEMO_SLUG, DEMO_SLUG, write_key, api_key, revoked)


def ensure_demo_sync(settings: ContentSettings) -> DemoKeys:
    """`ensure_demo` for synchronous callers; must not be called from a running event loop."""
    return asyncio.run(ensure_demo(settings))


async def _ensure_rows(repo: Repository, write_key: str, api_key: str) -> bool:
    """Create what is missing; return True when a demo key was found revoked."""
    tenant = await repo.find_tenant(DEMO_SLUG)
    if tenant is None:
        tenant = await repo.create_tenant(DEMO_SLUG, "Demo", plan="light")
    api_row = await repo.ensure_api_key(tenant.id, api_key)

    products = {product.slug: product for product in await repo.list_products(tenant.id)}
    product = products.get(DEMO_SLUG)
    if product is None:
        await repo.create_product(tenant.id, DEMO_SLUG, "Demo", "UTC", write_key=write_key)
        return api_row.revoked_at is not None
    write_row = await repo.ensure_write_key(product, write_key)
    return api_row.revoked_at is not None or write_row.revoked_at is not None


def _demo_keys(settings: ContentSettings) -> tuple[str, str]:
    """The keys from settings when set; else those of the keys file, made on the first run."""
    if settings.demo_write_key is not None and settings.demo_api_key is not None:
        return settings.demo_write_key, settings.demo_api_key

    path = settings.var_dir / KEYS_FILE
    if path.exists():
        stored = json.loads(path.read_text())
        return str(stored["write_key"]), str(stored["api_key"])

    write_key, api_key = new_write_key(), new_api_key()
    _write_private(path, json.dumps({"write_key": write_key, "api_key": api_key}, indent=2))
    log.info("demo_keys_generated", extra={"path": str(path)})
    return write_key, api_key


def _write_private(path: Path, content: str) -> None:
    # The file holds a secret API key: readable by its owner only, and never half-written.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content + "\n")
    partial.replace(path)
