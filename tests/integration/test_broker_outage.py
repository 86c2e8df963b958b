"""With the broker gone, ingest answers 503 quickly, and loses nothing it said 200 to.

This stack keeps its SQL on PostgreSQL, as production does. Tansu keeps its data in memory, so
the test waits until phase-1 events are in the warehouse before it stops the broker: with a
real Kafka those would survive the restart anyway.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import RunningStack, eventually, start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def outage_stack(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: str
) -> Iterator[RunningStack]:
    var_dir: Path = tmp_path_factory.mktemp("outage")
    running = start_stack(var_dir, database_url=postgres_database)
    yield running
    running.stack.stop()


def make_batch(tag: str, n: int) -> dict[str, object]:
    batch = [
        {
            "type": "track",
            "event": "outage_probe",
            "userId": f"user-{i % 7}",
            "messageId": f"{tag}-{i}",
            "timestamp": "2025-06-01T12:00:00Z",
        }
        for i in range(n)
    ]
    return {"batch": batch}


def tracked_total(running: RunningStack) -> int:
    params = {
        "product": "demo",
        "start": "2025-06-01",
        "end": "2025-06-01",
        "event": "outage_probe",
    }
    with running.api("metrics") as api:
        response = api.get("/v1/metrics/events", params=params)
    assert response.status_code == 200, response.text
    total: int = response.json()["series"][0]["events"]
    return total


def test_broker_down_gives_503_within_5_s_and_nothing_acknowledged_is_lost(
    outage_stack: RunningStack,
) -> None:
    running = outage_stack
    assert running.stack.broker is not None
    with running.ingest() as ingest:
        for n in range(5):
            assert ingest.post("/v1/batch", json=make_batch(f"before-{n}", 20)).status_code == 200
        assert eventually(lambda: tracked_total(running) == 100)

        running.stack.broker.stop()
        refused = []
        for n in range(3):
            started = time.monotonic()
            response = ingest.post("/v1/batch", json=make_batch(f"during-{n}", 20))
            elapsed = time.monotonic() - started
            assert response.status_code == 503
            assert elapsed < 5.0
            assert int(response.headers["retry-after"]) > 0
            assert response.json()["code"] == "broker_unavailable"
            refused.append(n)

        running.stack.restart_broker()
        # A client retries what got 503, with the same messageIds, until it gets a 200.
        for n in refused:
            body = make_batch(f"during-{n}", 20)
            eventually(lambda b=body: _post_ok(ingest, b), timeout_s=60, every_s=1)
        for n in range(2):
            assert ingest.post("/v1/batch", json=make_batch(f"after-{n}", 20)).status_code == 200

    assert eventually(lambda: tracked_total(running) == 100 + 60 + 40, timeout_s=60)


def _post_ok(ingest: httpx.Client, body: dict[str, object]) -> bool:
    return ingest.post("/v1/batch", json=body).status_code == 200
