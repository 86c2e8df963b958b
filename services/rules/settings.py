from pydantic import Field

from shared.settings import KizunaSettings


class RulesSettings(KizunaSettings):
    # Its own SQLite file by default (two processes writing one SQLite file wait on each other);
    # KIZUNA_RULES_DATABASE_URL or KIZUNA_DATABASE_URL for PostgreSQL.
    rules_database_url: str = ""
    # Consume health updates and events, and send webhooks (off only for API-only replicas).
    consume: bool = True
    # How often schedule rules are checked for being due.
    schedule_interval_s: float = Field(default=60.0, gt=0)
    # How often task changes are looked for to send on the tasks topic.
    task_events_interval_s: float = Field(default=1.0, gt=0)
    webhook_interval_s: float = Field(default=1.0, gt=0)
    webhook_retry_base_s: float = Field(default=30.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # How long an API key → product answer from the content service is trusted.
    auth_cache_ttl_s: float = Field(default=30.0, ge=0)

    def rules_sql_url(self) -> str:
        return (
            self.rules_database_url
            or self.database_url
            or f"sqlite+aiosqlite:///{(self.var_dir / 'rules.db').resolve()}"
        )
