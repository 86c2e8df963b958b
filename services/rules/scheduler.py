"""Schedule rules, evaluated on the rules service's own clock (engine.on_schedule)."""

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules import engine

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval_s: float) -> None:
        self._sessions = sessions
        self._interval_s = interval_s
        self.fired = 0

    async def run(self) -> None:
        while True:
            try:
                await self.evaluate_due()
            except Exception:  # the database may be away for a moment; try again later
                log.exception("schedule_pass_failed")
            await asyncio.sleep(self._interval_s)

    async def evaluate_due(self) -> list[engine.Outcome]:
        async with self._sessions() as session:
            outcomes = await engine.on_schedule(session, datetime.now(UTC))
            await session.commit()
        self.fired += len(outcomes)
        for outcome in outcomes:
            log.info(
                "rule_fired",
                extra={
                    "rule": outcome.rule_id,
                    "account": outcome.account_id,
                    "action": outcome.action,
                },
            )
        return outcomes
