import httpx

from services.content.app import create_app
from services.content.db import make_engine, make_sessions
from services.content.settings import ContentSettings

# Nothing listens on port 1, so connecting is refused at once.
UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"


async def test_healthz_is_ok_when_the_database_answers(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_healthz_is_503_when_the_database_stops_answering(settings: ContentSettings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # The database goes away after start-up: point the sessions at a closed port.
        lost = make_engine(ContentSettings(database_url=UNREACHABLE))
        app.state.sessions = make_sessions(lost)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://content"
        ) as client:
            answer = await client.get("/healthz")
        await lost.dispose()

    assert answer.status_code == 503
    assert answer.json()["code"] == "database_unavailable"
