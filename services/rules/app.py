"""The rules service: evaluates CS rules on health updates and events, and emits CS tasks.

# TODO(#6): rules, their evaluation and CS tasks; for now the service only reports health.
"""

from fastapi import FastAPI

from services.rules.settings import RulesSettings
from shared import logs
from shared.errors import install_error_handlers


def create_app(settings: RulesSettings | None = None) -> FastAPI:
    settings = settings or RulesSettings()
    logs.configure(settings.log_level, service="rules")
    app = FastAPI(title="Kizuna rules")
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
