"""The snippet in chromium: what users see, and what reaches ingest and ClickHouse."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Author, Sent, Visitor, today
from tests.integration.conftest import RunningStack, eventually

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SHOWN_WITHIN_MS = 15_000


def flush(page: Page) -> None:
    page.evaluate("() => window.kizuna._flush()")


def settled(page: Page, sent: Sent, check: Callable[[], Any]) -> Any:
    """Flush the page's queue until `check` holds (the snippet batches up to a second)."""

    def flushed() -> Any:
        flush(page)
        return check()

    return eventually(flushed, timeout_s=15)


def of(experience_id: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["properties"].get("experience_id") == experience_id]


def on_prefix(visitor: Visitor, **targeting: Any) -> dict[str, Any]:
    return {"url_patterns": [f"/{visitor.prefix}/*"], **targeting}


def test_a_guided_tour_shows_to_targeted_users_only_and_its_steps_advance(
    page: Page, other_page: Page, sent: Sent, author: Author, visitor: Visitor, demo_site: str
) -> None:
    steps = [
        {"title": "Your projects", "body_html": "<p>All of them</p>", "target": "#projects"},
        {"title": "Name it", "target": "#project-name", "placement": "right"},
        {"title": "All set"},
    ]
    admins = [{"trait": "role", "op": "eq", "value": "admin"}]
    tour = author.publish("tour", {"steps": steps}, targeting=on_prefix(visitor, user=admins))

    other_page.goto(visitor.url(demo_site, traits='{"role": "viewer"}'))
    page.goto(visitor.url(demo_site, traits='{"role": "admin"}'))
    expect(page.get_by_text("Your projects")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Name it")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("All set")).to_be_visible()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_text("All set")).to_have_count(0)

    settled(page, sent, lambda: of(tour, sent.tracked("experience_completed")))
    assert [m["properties"]["step"] for m in of(tour, sent.tracked("experience_step_shown"))] == [
        0,
        1,
        2,
    ]
    assert len(of(tour, sent.tracked("experience_shown"))) == 1
    expect(other_page.get_by_text("Your projects")).to_have_count(0)  # the viewer's page


def test_a_step_whose_target_arrives_2_s_late_still_shows(
    page: Page, sent: Sent, author: Author, visitor: Visitor, demo_site: str
) -> None:
    steps = [{"title": "Found you", "target": "#late-target", "placement": "bottom"}]
    author.publish("tour", {"steps": steps}, targeting=on_prefix(visitor))

    page.goto(visitor.url(demo_site, late="2000"))
    expect(page.get_by_text("Found you")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    assert page.locator("#late-target").count() == 1
    assert not sent.tracked("experience_selector_missing")


def test_a_target_that_never_arrives_is_reported_as_selector_missing(
    page: Page, sent: Sent, author: Author, visitor: Visitor, demo_site: str
) -> None:
    steps = [{"title": "Nowhere", "target": "#does-not-exist"}]
    tour = author.publish("tour", {"steps": steps}, targeting=on_prefix(visitor))

    page.goto(visitor.url(demo_site))
    [missing] = settled(page, sent, lambda: of(tour, sent.tracked("experience_selector_missing")))
    assert (missing["properties"]["selector"], missing["properties"]["step"]) == (
        "#does-not-exist",
        0,
    )
    expect(page.get_by_text("Nowhere")).to_have_count(0)


def test_an_interactive_walkthrough_advances_as_the_user_types_and_clicks(
    page: Page, sent: Sent, author: Author, visitor: Visitor, demo_site: str
) -> None:
    steps = [
        {"title": "Type a name", "target": "#project-name", "advance": "input"},
        {"title": "Now create it", "target": "#create", "advance": "click"},
    ]
    walkthrough = author.publish("walkthrough", {"steps": steps}, targeting=on_prefix(visitor))

    page.goto(visitor.url(demo_site))
    expect(page.get_by_text("Type a name")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    page.locator("#project-name").press_sequentially("Apollo")
    expect(page.get_by_text("Now create it")).to_be_visible()
    page.locator("#create").click()
    expect(page.get_by_text("Now create it")).to_have_count(0)

    settled(page, sent, lambda: of(walkthrough, sent.tracked("experience_completed")))


def test_a_route_change_in_a_single_page_app_sends_a_page_view(
    page: Page, sent: Sent, visitor: Visitor, demo_site: str
) -> None:
    page.goto(visitor.url(demo_site))
    page.get_by_role("link", name="Settings").click()
    page.go_back()

    def paths() -> list[str]:
        return [m["context"]["page"]["path"] for m in sent.of_type("page")]

    settled(page, sent, lambda: len(paths()) >= 3)
    assert paths() == [f"/{visitor.prefix}/home", "/app/settings", f"/{visitor.prefix}/home"]
    assert {m["userId"] for m in sent.messages if m["type"] != "group"} == {visitor.user}


def test_an_nps_answer_given_in_the_browser_reaches_clickhouse(
    page: Page, sent: Sent, author: Author, visitor: Visitor, demo_site: str, stack: RunningStack
) -> None:
    survey = author.publish(
        "survey",
        {"question_type": "nps", "question": "Would you recommend Acme?", "follow_up": "Why?"},
        targeting=on_prefix(visitor),
    )

    page.goto(visitor.url(demo_site))
    expect(page.get_by_text("Would you recommend Acme?")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    page.get_by_role("button", name="9", exact=True).click()
    page.get_by_role("textbox").fill("Fast support")
    page.get_by_role("button", name="Submit").click()

    [answer] = settled(page, sent, lambda: of(survey, sent.tracked("survey_answered")))
    assert (answer["properties"]["score"], answer["properties"]["follow_up"]) == (9, "Fast support")
    params = {"product": "demo", "account": visitor.account, "start": today(), "end": today()}
    with stack.api("metrics") as api:

        def scored() -> dict[str, Any]:
            found: dict[str, Any] = api.get("/v1/metrics/nps", params=params).json()
            assert found["responses"] == 1, found
            return found

        nps = eventually(scored, timeout_s=30)
    assert (nps["promoters"], nps["detractors"], nps["nps"]) == (1, 0, 100)


def test_the_contact_budget_shows_one_experience_and_keeps_surveys_to_their_cooldown(
    page: Page, sent: Sent, author: Author, visitor: Visitor, demo_site: str
) -> None:
    ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    survey = author.publish(
        "survey",
        {"question_type": "text", "question": "What could we do better?"},
        targeting=on_prefix(visitor),
        frequency="every_session",
        priority=10,
    )
    news = author.publish(
        "announcement",
        {"title": "Dark mode is here", "body_html": "<p>Try it</p>"},
        targeting=on_prefix(visitor, ends_at=ends),
        priority=1,
    )

    page.goto(visitor.url(demo_site))
    expect(page.get_by_text("What could we do better?")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    page.wait_for_timeout(1_000)  # time for a second experience to (wrongly) appear
    expect(page.get_by_text("Dark mode is here")).to_have_count(0)
    page.get_by_role("textbox").fill("More exports")
    page.get_by_role("button", name="Submit").click()
    settled(page, sent, lambda: of(survey, sent.tracked("survey_answered")))

    page.goto(visitor.url(demo_site, path="next"))
    expect(page.get_by_text("Dark mode is here")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    page.keyboard.press("Escape")
    page.goto(visitor.url(demo_site, path="later"))
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1_000)
    expect(page.get_by_text("What could we do better?")).to_have_count(0)
    flush(page)
    assert len(of(survey, sent.tracked("experience_shown"))) == 1
    assert len(of(news, sent.tracked("experience_shown"))) == 1
    assert of(news, sent.tracked("experience_dismissed"))[0]["properties"]["reason"] == "escape"


def test_events_tracked_while_ingest_is_down_arrive_once_it_is_back(
    page: Page, visitor: Visitor, demo_site: str, stack: RunningStack
) -> None:
    page.goto(visitor.url(demo_site))
    page.wait_for_function("() => window.kizuna && !Array.isArray(window.kizuna)")
    flush(page)
    ingest = stack.stack.services["ingest"]
    ingest.stop()
    try:
        for number in range(3):
            page.evaluate("n => window.kizuna.track('Report exported', {n})", number)
        flush(page)  # fails: nobody listens
        queued = page.evaluate("() => window.kizuna._state().queue.length")
        assert queued >= 3
    finally:
        ingest.start()
        stack.stack.wait_ready(30)

    params = {
        "product": "demo",
        "account": visitor.account,
        "event": "Report exported",
        "start": today(),
        "end": today(),
    }
    with stack.api("metrics") as api:

        def counted() -> int:
            series = api.get("/v1/metrics/events", params=params).json()["series"]
            total: int = sum(point["events"] for point in series)
            assert total >= 3, total
            return total

        assert eventually(counted, timeout_s=90) == 3
        page.wait_for_timeout(2_000)  # a late duplicate would show now
        assert counted() == 3
    assert page.evaluate("() => window.kizuna._state().queue.length") == 0


def test_author_text_with_script_payloads_renders_inert(
    page: Page, author: Author, visitor: Visitor, demo_site: str
) -> None:
    author.publish(
        "welcome",
        {
            "title": "<script>window.pwned = 'title'</script>",
            "body_html": '<p>Hello</p><img src="x" onerror="window.pwned = \'img\'">'
            "<script>window.pwned = 'script'</script>",
            "cta_label": "<b onmouseover=alert(1)>Go</b>",
        },
        targeting=on_prefix(visitor),
    )

    page.goto(visitor.url(demo_site))
    expect(page.get_by_text("<script>window.pwned = 'title'</script>")).to_be_visible(
        timeout=SHOWN_WITHIN_MS
    )
    expect(page.get_by_text("Hello")).to_be_visible()
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.pwned") is None
    inside = page.evaluate(
        """() => {
            const root = document.getElementById('kizuna-root').shadowRoot;
            const handler = (e) => [...e.attributes].some((a) => a.name.startsWith('on'));
            return {
                scripts: root.querySelectorAll('script').length,
                handlers: [...root.querySelectorAll('*')].filter(handler).length,
            };
        }"""
    )
    assert inside == {"scripts": 0, "handlers": 0}


def test_a_change_published_while_the_page_is_open_shows_within_a_minute(
    page: Page, author: Author, visitor: Visitor, demo_site: str
) -> None:
    page.clock.install()
    page.goto(visitor.url(demo_site))
    page.wait_for_function("() => window.kizuna && !Array.isArray(window.kizuna)")
    page.wait_for_load_state("networkidle")

    author.publish("welcome", {"title": "Fresh off the press"}, targeting=on_prefix(visitor))
    page.clock.run_for(60_000)
    expect(page.get_by_text("Fresh off the press")).to_be_visible(timeout=SHOWN_WITHIN_MS)


def test_a_walkthrough_continues_on_the_page_its_step_leads_to(
    page: Page, sent: Sent, author: Author, visitor: Visitor, demo_site: str
) -> None:
    steps = [
        {"title": "Open your settings", "advance": "url", "url": f"*/{visitor.prefix}/settings*"},
        {"title": "Here they are", "target": "#heading"},
    ]
    walkthrough = author.publish(
        "walkthrough",
        {"steps": steps},
        targeting=on_prefix(visitor, url_patterns=[f"/{visitor.prefix}/home*"]),
    )

    page.goto(visitor.url(demo_site))
    expect(page.get_by_text("Open your settings")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    page.goto(visitor.url(demo_site, path="settings"))  # a full page load, off its targeting
    expect(page.get_by_text("Here they are")).to_be_visible(timeout=SHOWN_WITHIN_MS)

    settled(page, sent, lambda: len(of(walkthrough, sent.tracked("experience_step_shown"))) >= 2)
    assert len(of(walkthrough, sent.tracked("experience_shown"))) == 1
