"""The settings every service shares. Each service subclasses `KizunaSettings` once.

Values come from `KIZUNA_*` environment variables; a service builds its settings once at
start-up and passes them down, so nothing deeper reads the environment.
"""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KizunaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIZUNA_", extra="ignore")

    # Where the embedded stack keeps its files (chDB data, SQLite, generated keys).
    var_dir: Path = Path("var")

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Idempotent producers need InitProducerId, which real Kafka has and Tansu rejects.
    kafka_idempotence: bool = False
    # A prefix for every topic and consumer group, so that stacks can share a broker.
    kafka_namespace: str = "kizuna"

    # `chdb:///path` (embedded) or `http(s)://user:password@host:port/database`.
    clickhouse_url: str = ""
    database_url: str = ""

    content_url: str = "http://127.0.0.1:8004"
    log_level: str = "INFO"

    # How long a service may wait on a dependency before it answers 503.
    dependency_timeout_s: float = Field(default=4.0, gt=0)

    def clickhouse_dsn(self) -> str:
        return self.clickhouse_url or f"chdb://{(self.var_dir / 'clickhouse').resolve()}"

    def sql_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.var_dir / 'kizuna.db').resolve()}"
