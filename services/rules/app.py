"""The rules service: rules picked from a field catalog raise CS tasks on health updates and
events, and call webhooks. `uvicorn services.rules.app:create_app --factory`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.rules.consumer import RulesConsumer
from services.rules.db import make_engine, make_sessions, upgrade
from services.rules.routes import router
from services.rules.scheduler import Scheduler
from services.rules.settings import RulesSettings
from services.rules.task_events import TaskEventPublisher
from services.rules.webhooks import Sender
from shared import background, logs
from shared.auth import ProductDirectory
from shared.errors import Unavailable, install_error_handlers
from shared.kafka import make_producer, send_all
from shared.tasks import TaskEvent
from shared.topics import TASKS

log = logging.getLogger(__name__)


def create_app(settings: RulesSettings | None = None) -> FastAPI:
    settings = settings or RulesSettings()
    logs.configure(settings.log_level, service="rules")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.rules_sql_url())
        await upgrade(engine)
        app.state.sessions = make_sessions(engine)
        timeout = httpx.Timeout(settings.dependency_timeout_s)
        hooks = httpx.Timeout(settings.webhook_timeout_s)
        async with (
            httpx.AsyncClient(base_url=settings.content_url, timeout=timeout) as content,
            httpx.AsyncClient(timeout=hooks, follow_redirects=False) as outside,
        ):
            app.state.products = ProductDirectory(content, settings.auth_cache_ttl_s)
            app.state.consumer = app.state.sender = app.state.scheduler = None
            app.state.publisher = None
            tasks = []
            producer = None
            if settings.consume:
                producer = make_producer(settings, client_id="kizuna-rules")
                await producer.start()
                topic = TASKS.name(settings.kafka_namespace)

                async def send(events: list[TaskEvent]) -> None:
                    await send_all(producer, topic, events)

                app.state.publisher = TaskEventPublisher(
                    app.state.sessions, send, settings.task_events_interval_s
                )
                app.state.consumer = RulesConsumer(settings, app.state.sessions)
                app.state.sender = Sender(
                    app.state.sessions,
                    outside,
                    settings.webhook_interval_s,
                    settings.webhook_retry_base_s,
                    settings.webhook_max_attempts,
                )
                app.state.scheduler = Scheduler(app.state.sessions, settings.schedule_interval_s)
                tasks = [
                    background.start(app.state.consumer.run(), "rules-consumer"),
                    background.start(app.state.sender.run(), "webhooks"),
                    background.start(app.state.scheduler.run(), "schedule"),
                    background.start(app.state.publisher.run(), "task-events"),
                ]
            log.info("rules_started", extra={"database": engine.dialect.name})
            yield
            await background.stop(tasks)
            if producer is not None:
                await producer.stop()
        await engine.dispose()

    app = FastAPI(title="Kizuna rules", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str | int]:
        try:
            async with app.state.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # any driver failure means: not healthy
            raise Unavailable("the database does not answer") from exc
        consumer, sender, scheduler = app.state.consumer, app.state.sender, app.state.scheduler
        publisher = app.state.publisher
        return {
            "status": "ok",
            "messages_handled": consumer.handled if consumer else 0,
            "rules_fired": (consumer.fired if consumer else 0)
            + (scheduler.fired if scheduler else 0),
            "webhooks_delivered": sender.delivered if sender else 0,
            "task_events_published": publisher.published if publisher else 0,
        }

    return app
