"""Alembic migrations of a service's SQL tables, applied at start-up on the service's own
connection, the same way on SQLite and PostgreSQL. Each service keeps its own migrations
directory and version table, so services may share one PostgreSQL database."""

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine


class Migrations:
    def __init__(self, location: Path, version_table: str) -> None:
        self.location = location
        self.version_table = version_table

    def config(self, connection: Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.location))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = self.version_table
        return config

    async def upgrade(
        self, engine: AsyncEngine, revision: str = "head", adopt: tuple[str, str] | None = None
    ) -> None:
        """Apply the migrations up to `revision`. `adopt`: (a table, a revision) for databases
        made before there were migrations: when the table exists and no version was recorded,
        the database is taken to be at that revision."""

        def run(connection: Connection) -> None:
            config = self.config(connection)
            if adopt and not inspect(connection).has_table(self.version_table):
                table, at = adopt
                if inspect(connection).has_table(table):
                    command.stamp(config, at)
            command.upgrade(config, revision)

        async with engine.begin() as connection:
            await connection.run_sync(run)

    async def downgrade(self, engine: AsyncEngine, revision: str) -> None:
        """Undo the migrations down to `revision` ("base": all of them)."""

        def run(connection: Connection) -> None:
            command.downgrade(self.config(connection), revision)

        async with engine.begin() as connection:
            await connection.run_sync(run)


def run_migrations(metadata: MetaData) -> None:
    """The body of a migrations directory's env.py."""
    config = context.config
    context.configure(
        connection=config.attributes["connection"],
        target_metadata=metadata,
        version_table=config.attributes["version_table"],
        # SQLite alters a table by copying it; batch mode does that for later migrations.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
