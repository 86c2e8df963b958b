"""docker-compose.yml against the code it runs (Docker itself is not on these machines)."""

import json
import re
from pathlib import Path

import yaml
from jsonschema import Draft7Validator

from shared.topics import ALL

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DEPLOY = REPO / "deploy"
KIZUNA_ANCHOR = "x-kizuna"  # the Kizuna services' shared image


def test_kafka_init_creates_every_topic_of_the_registry() -> None:
    text = COMPOSE.read_text()
    init = text[text.index("  kafka-init:") : text.index("  clickhouse:")]
    created = set(re.findall(r'--topic "\$\$ns\.([a-z.]+)"', init))
    for loop in re.findall(r"for topic in ([a-z. ]+); do", init):
        created.update(loop.split())

    assert created == {topic.suffix for topic in ALL}


def test_the_file_follows_the_compose_specification() -> None:
    spec = json.loads((Path(__file__).parent / "compose_spec.json").read_text())
    compose = yaml.safe_load(COMPOSE.read_text())

    errors = sorted(Draft7Validator(spec).iter_errors(compose), key=lambda e: list(e.path))

    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_every_image_is_pinned_to_a_version() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    images = {
        name: service.get("image") or compose[KIZUNA_ANCHOR]["image"]
        for name, service in compose["services"].items()
    }

    assert set(images) >= {"kafka", "clickhouse", "postgres", "grafana", "ingest", "metrics"}
    for name, image in images.items():
        repository, _, tag = image.rpartition(":")
        assert repository and re.fullmatch(r"\d+(\.\d+)+[\w.-]*", tag), (name, image)


def test_grafana_mounts_the_provisioning_and_the_dashboards() -> None:
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in grafana["volumes"] if m.startswith("./")}
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/kizuna.yaml").read_text())

    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_INSTALL_PLUGINS"]
