"""The ingest service: Segment-compatible tracking API → Kafka."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.ingest.keys import WriteKeyCache
from services.ingest.publisher import Publisher
from services.ingest.routes import ROUTES
from services.ingest.runtime import settle_gc
from services.ingest.settings import IngestSettings
from shared import logs
from shared.errors import Unavailable, install_error_handlers


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    logs.configure(settings.log_level, service="ingest")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.dependency_timeout_s)
        async with httpx.AsyncClient(base_url=settings.content_url, timeout=timeout) as client:
            app.state.write_keys = WriteKeyCache(
                client,
                ttl=settings.write_key_ttl_s,
                unknown_ttl=settings.unknown_write_key_ttl_s,
                retry_after_s=settings.retry_after_s,
            )
            app.state.publisher = Publisher(settings, settings.retry_after_s)
            app.state.publisher.start()
            settle_gc()
            yield
            await app.state.publisher.stop()

    app = FastAPI(title="Kizuna ingest", lifespan=lifespan)
    app.state.settings = settings
    # Write keys are public and requests carry no cookies: any origin may send events.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["POST", "OPTIONS"],
        # Any header: clients add their own (RudderStack's browser SDK sends AnonymousId).
        allow_headers=["*"],
        max_age=86400,
    )
    install_error_handlers(app)
    app.router.routes.extend(ROUTES)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        if not app.state.publisher.ready:
            raise Unavailable("the event broker is not connected", code="broker_unavailable")
        return {"status": "ok"}

    return app
