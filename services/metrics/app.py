"""The metrics service: the events consumer (Kafka → ClickHouse) and the metrics API, in one
process because an embedded chDB path belongs to one process."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.metrics.consumer import EventsConsumer
from services.metrics.routes import customers, router
from services.metrics.scoring import Scorer, kafka_publisher
from services.metrics.settings import MetricsSettings
from services.metrics.settle import Settler
from services.metrics.task_events import TaskEventsConsumer
from services.metrics.warehouse import Warehouse
from shared import background, logs
from shared.auth import ProductDirectory
from shared.errors import Unavailable, install_error_handlers
from shared.kafka import make_producer
from shared.topics import HEALTH_BANDS, HEALTH_UPDATES

log = logging.getLogger(__name__)


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    settings = settings or MetricsSettings()
    logs.configure(settings.log_level, service="metrics")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warehouse = Warehouse(settings.clickhouse_dsn())
        await warehouse.open()
        timeout = httpx.Timeout(settings.dependency_timeout_s)
        async with httpx.AsyncClient(base_url=settings.content_url, timeout=timeout) as client:
            app.state.warehouse = warehouse
            app.state.products = ProductDirectory(client, settings.auth_cache_ttl_s)
            app.state.consumer = None
            app.state.settler = None
            app.state.scorer = None
            app.state.task_events = None
            tasks = []
            producer = None
            if settings.consume:
                producer = make_producer(settings, client_id="kizuna-metrics-health")
                await producer.start()
                app.state.scorer = Scorer(
                    warehouse,
                    kafka_publisher(
                        producer,
                        HEALTH_BANDS.name(settings.kafka_namespace),
                        HEALTH_UPDATES.name(settings.kafka_namespace),
                    ),
                    settings.health_interval_s,
                )
                app.state.consumer = EventsConsumer(settings, warehouse)
                app.state.task_events = TaskEventsConsumer(settings, warehouse)
                app.state.settler = Settler(
                    warehouse, settings.settle_interval_s, settings.settle_max_rows
                )
                tasks = [
                    background.start(app.state.consumer.run(), "events-consumer"),
                    background.start(app.state.settler.run(), "settler"),
                    background.start(app.state.scorer.run(), "scorer"),
                    background.start(app.state.task_events.run(), "task-events"),
                ]
            yield
            await background.stop(tasks)
            if producer is not None:
                await producer.stop()
        await warehouse.close()

    app = FastAPI(title="Kizuna metrics", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(customers)

    @app.get("/healthz")
    async def healthz() -> dict[str, str | int | None]:
        try:
            await app.state.warehouse.rows("SELECT 1")
        except Exception as exc:  # any driver failure means: not healthy
            raise Unavailable("the warehouse does not answer") from exc
        consumer, settler, scorer = app.state.consumer, app.state.settler, app.state.scorer
        task_events = app.state.task_events
        return {
            "status": "ok",
            "rows_written": consumer.written if consumer else 0,
            "settle_passes": settler.passes if settler else 0,
            "unsettled_days": settler.unsettled if settler else None,
            "scoring_passes": scorer.passes if scorer else 0,
            "scoring_failures": scorer.failures if scorer else 0,
            "task_events_written": task_events.written if task_events else 0,
        }

    return app
