"""The reference the ingest benchmark measures Kizuna against: the least a FastAPI service can do.

A pydantic model of a Segment track call, FastAPI's own body validation, and one Kafka record
per request, acknowledged by the broker (acks=all) before the 200. No write key, no size caps,
no timestamp correction, one record per batch rather than one per event: what is left is the
cost of FastAPI, pydantic and aiokafka themselves.

    BENCH_REFERENCE_KAFKA_BOOTSTRAP=127.0.0.1:9092 BENCH_REFERENCE_TOPIC=bench.reference \
        uvicorn bench.reference_app:create_app --factory --port 8101
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReferenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BENCH_REFERENCE_")

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic: str = "bench.reference"


class Event(BaseModel):
    type: str
    event: str
    # Segment's own field names, as a minimal endpoint would keep them.
    userId: str
    messageId: str
    timestamp: datetime
    properties: dict[str, Any] = {}
    context: dict[str, Any] = {}


class Batch(BaseModel):
    batch: list[Event]


def create_app(settings: ReferenceSettings | None = None) -> FastAPI:
    settings = settings or ReferenceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Tansu rejects InitProducerId, so no idempotence, as in Kizuna's embedded stack.
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=False
        )
        await producer.start()
        app.state.producer = producer
        yield
        await producer.stop()

    app = FastAPI(title="ingest benchmark reference", lifespan=lifespan)

    @app.post("/v1/batch")
    async def batch(body: Batch) -> dict[str, bool]:
        await app.state.producer.send_and_wait(settings.topic, body.model_dump_json().encode())
        return {"success": True}

    @app.post("/v1/track")
    async def track(event: Event) -> dict[str, bool]:
        await app.state.producer.send_and_wait(settings.topic, event.model_dump_json().encode())
        return {"success": True}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
