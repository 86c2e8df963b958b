"""docker-compose.yml against the code it runs (Docker itself is not on these machines)."""

import re
from pathlib import Path

from shared.topics import ALL

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_kafka_init_creates_every_topic_of_the_registry() -> None:
    text = COMPOSE.read_text()
    init = text[text.index("  kafka-init:") : text.index("  clickhouse:")]
    created = set(re.findall(r'--topic "\$\$ns\.([a-z.]+)"', init))
    for loop in re.findall(r"for topic in ([a-z. ]+); do", init):
        created.update(loop.split())

    assert created == {topic.suffix for topic in ALL}
