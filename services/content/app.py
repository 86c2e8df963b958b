"""Wiring of the content service: `uvicorn services.content.app:create_app --factory`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

from services.content import experience_routes, routes, sdk
from services.content.db import create_tables, make_engine, make_sessions
from services.content.settings import ContentSettings
from shared import logs
from shared.errors import install_error_handlers

log = logging.getLogger(__name__)


def create_app(settings: ContentSettings | None = None) -> FastAPI:
    """Build the app. Without `settings` (as uvicorn's factory) it reads the environment and
    configures the process's logging; callers that pass settings keep their own logging."""
    if settings is None:
        settings = ContentSettings()
        logs.configure(settings.log_level, service="content")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        await create_tables(engine)
        app.state.sessions = make_sessions(engine)
        log.info("content_started", extra={"database": engine.dialect.name})
        try:
            yield
        finally:
            log.info("content_stopping")
            await engine.dispose()

    app = FastAPI(title="Kizuna content", lifespan=lifespan)
    app.state.settings = settings
    app.include_router(routes.admin)
    app.include_router(experience_routes.router)
    app.include_router(sdk.router)
    app.include_router(routes.internal)
    app.include_router(routes.health)
    # Snippets call /sdk from the vendor's pages. No route reads cookies (the admin API takes a
    # bearer key), so letting any origin read answers gives nothing away.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["If-None-Match", "Content-Type"],
        expose_headers=["ETag"],
        max_age=86400,
    )
    app.add_middleware(GZipMiddleware, minimum_size=1_000)
    install_error_handlers(app)
    return app
