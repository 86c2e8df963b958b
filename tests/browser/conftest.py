"""Browser tests: Debian's chromium, driven by Playwright, on a demo SaaS page that embeds the
snippet, with a whole Kizuna stack behind it (Tansu, chDB, SQLite, the four services).

Each test keeps to its own URL prefix, user and account, so the experiences one test publishes
never apply to another's pages, and its metrics never mix with another's.
"""

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, sync_playwright

from tests.conftest import free_port
from tests.integration.conftest import RunningStack, start_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEMO_PAGE = Path(__file__).parent / "demo" / "index.html"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("browser-stack"))
    yield running
    running.stack.stop()


@pytest.fixture(scope="session")
def demo_site(stack: RunningStack) -> Iterator[str]:
    """The vendor's app: every path answers the demo page, as a single-page app's server does."""
    page = DEMO_PAGE.read_text()
    for placeholder, value in {
        "{{CONTENT}}": stack.url("content"),
        "{{INGEST}}": stack.url("ingest"),
        "{{WRITE_KEY}}": stack.demo.write_key,
    }.items():
        page = page.replace(placeholder, value)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            locale = parse_qs(urlsplit(self.path).query).get("locale", ["en"])[0]
            body = page.replace("{{LOCALE}}", locale).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def playwright(stack: RunningStack) -> Iterator[Playwright]:
    """Playwright's sync API runs an event loop in this thread while it lives: the stack starts
    before it (starting uses asyncio.run), and it stops with the module, before other tests."""
    if not shutil.which(CHROMIUM):
        reason = f"{CHROMIUM} is not installed (apt install chromium; `make test` does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _fresh_page(browser: Browser) -> Iterator[Page]:
    """A page in a browser profile of its own (empty localStorage), closed after the test."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _fresh_page(browser)


@pytest.fixture
def other_page(browser: Browser) -> Iterator[Page]:
    """Another person, on another machine."""
    yield from _fresh_page(browser)


@dataclass
class Sent:
    """The messages a page sent to ingest, as the requests carried them."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def tracked(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "track" and m.get("event") == event]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]


@pytest.fixture
def sent(page: Page, stack: RunningStack) -> Sent:
    record = Sent()
    batch_url = stack.url("ingest") + "/v1/batch"

    def on_request(request: Request) -> None:
        if request.url == batch_url and request.method == "POST" and request.post_data:
            record.messages.extend(json.loads(request.post_data)["batch"])

    page.on("request", on_request)
    return record


@dataclass
class Visitor:
    """One user of one account, with the URL prefix their test's experiences target."""

    user: str
    account: str
    prefix: str

    def url(self, site: str, path: str = "home", **query: str) -> str:
        params = {"user": self.user, "account": self.account, **query}
        return f"{site}/{self.prefix}/{path}?{urlencode(params)}"


@pytest.fixture
def visitor() -> Visitor:
    tag = uuid.uuid4().hex[:8]
    return Visitor(user=f"user-{tag}", account=f"acct-{tag}", prefix=f"t-{tag}")


class Author:
    """A CS person with the content API: what they publish is unpublished after the test."""

    def __init__(self, stack: RunningStack) -> None:
        self.api = stack.api("content")
        self.published: list[str] = []

    def publish(self, kind: str, content: dict[str, Any], **settings: Any) -> str:
        body = {"kind": kind, "name": f"{kind} {uuid.uuid4().hex[:6]}", "content": content}
        created = self.api.post("/v1/products/demo/experiences", json={**body, **settings})
        assert created.status_code == 201, created.text
        experience_id: str = created.json()["id"]
        published = self.api.post(f"/v1/products/demo/experiences/{experience_id}/publish")
        assert published.status_code == 200, published.text
        self.published.append(experience_id)
        return experience_id

    def close(self) -> None:
        for experience_id in self.published:
            self.api.post(f"/v1/products/demo/experiences/{experience_id}/unpublish")
        self.api.close()


@pytest.fixture
def author(stack: RunningStack) -> Iterator[Author]:
    author = Author(stack)
    yield author
    author.close()


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def metrics(stack: RunningStack) -> httpx.Client:
    return stack.api("metrics")
