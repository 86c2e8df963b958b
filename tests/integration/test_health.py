"""Health through the running stack: a scorecard set from a YAML file, scoring on demand, the band
change on the health.bands topic, and the snapshot read back over REST."""

import asyncio
import uuid
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer

from kizuna import cli
from services.metrics.health import ProductScorecard
from shared.health import BandChange
from shared.topics import HEALTH_BANDS
from tests.integration.conftest import RunningStack, eventually

pytestmark = pytest.mark.integration

SCORECARD = """\
# Seats used, and how many days of the last week anyone was in.
window_days: 7
red_below: 30
green_from: 60
measures:
  - name: active_day_rate
    weight: 2
    points: [[0, 0], [1, 100]]
  - name: seat_utilisation
    points: [[0, 0], [1, 100]]
new_accounts:
  days: 3
  scorecard:
    measures:
      - name: active_day_rate
        points: [[0, 50], [0.2, 100]]
"""


def test_a_yaml_scorecard_is_checked_stored_and_printed(
    running: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--api-key", running.demo.api_key, "--host", running.url("metrics")]
    good, bad = tmp_path / "card.yaml", tmp_path / "bad.yaml"
    good.write_text(SCORECARD)
    bad.write_text(SCORECARD.replace("[[0, 0], [1, 100]]", "[[1, 0], [0, 100]]", 1))
    try:
        assert cli.main(["health", "scorecard", "put", str(bad), *flags]) == 1
        refused = capsys.readouterr().err
        assert cli.main(["health", "scorecard", "put", str(good), *flags]) == 0
        capsys.readouterr()
        assert cli.main(["health", "scorecard", "get", *flags]) == 0
        printed = capsys.readouterr().out
    finally:
        assert cli.main(["health", "scorecard", "reset", *flags]) == 0

    assert refused.startswith("kizuna health: measures.0: ")
    assert "strictly increasing" in refused
    assert ProductScorecard.model_validate(yaml.safe_load(printed)) == (
        ProductScorecard.model_validate(yaml.safe_load(SCORECARD))
    )
    with running.api("metrics") as api:
        after = api.get("/v1/health/scorecard", params={"product": "demo"}).json()
    assert after["configured"] is False
    assert after["scorecard"]["window_days"] == 30


async def test_scoring_on_demand_sends_band_changes_and_keeps_snapshots(
    running: RunningStack,
) -> None:
    account = f"hl-{uuid.uuid4().hex[:8]}"
    day = "2023-05-10"
    with running.api("metrics") as api:
        card = {
            "window_days": 7,
            "measures": [{"name": "seat_utilisation", "points": [[0, 0], [1, 100]]}],
        }
        assert api.put("/v1/health/scorecard", params={"product": "demo"}, json=card).is_success
        uploaded = api.post(
            "/v1/accounts/bulk",
            params={"product": "demo"},
            json={"accounts": [{"id": account, "seats": 4}]},
        )
        assert uploaded.status_code == 200
    with running.ingest() as ingest:
        batch = [
            {
                "type": "track",
                "userId": f"{account}-u{n}",
                "event": "opened",
                "timestamp": f"{day}T09:00:00Z",
                "context": {"groupId": account},
            }
            for n in range(3)
        ]
        assert ingest.post("/v1/batch", json={"batch": batch}).status_code == 200

    with running.api("metrics") as api:
        params = {"product": "demo", "account": account, "date": day}

        def measured() -> dict[str, object]:
            [row] = api.get("/v1/health/scores", params=params).json()
            assert row["measures"]["seat_utilisation"] == 0.75, row
            return dict(row)

        eventually(measured)
        future = api.post("/v1/health/snapshots", params={"product": "demo", "date": "2200-01-01"})
        assert (future.status_code, future.json()["code"]) == (400, "date_in_future")
        run = api.post("/v1/health/snapshots", params={"product": "demo", "date": day})
        rerun = api.post("/v1/health/snapshots", params={"product": "demo", "date": day})
        snapshots = api.get(
            "/v1/health/snapshots",
            params={"product": "demo", "account": account, "start": day, "end": day},
        ).json()
        api.delete("/v1/health/scorecard", params={"product": "demo"})

    assert run.status_code == 200, run.text
    [change] = [c for c in run.json()["changes"] if c["account_id"] == account]
    assert (change["previous_band"], change["band"], change["score"]) == (None, "green", 75.0)
    assert [c for c in rerun.json()["changes"] if c["account_id"] == account] == []
    assert [(s["day"], s["score"], s["band"]) for s in snapshots] == [(day, 75.0, "green")]
    assert snapshots[0]["contributions"] == {"seat_utilisation": 75.0}

    sent = await asyncio.wait_for(_band_change_for(running, account), timeout=30)
    assert sent.model_dump(mode="json") == change


async def _band_change_for(running: RunningStack, account: str) -> BandChange:
    consumer = AIOKafkaConsumer(
        HEALTH_BANDS.name(running.stack.settings.kafka_namespace),
        bootstrap_servers=running.stack.bootstrap,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4().hex}",
    )
    await consumer.start()
    try:
        async for record in consumer:
            change = BandChange.model_validate_json(record.value or b"")
            if change.account_id == account:
                assert record.key == f"{change.product_id}:{account}".encode()
                return change
    finally:
        await consumer.stop()
    raise AssertionError("the health.bands topic ended")
