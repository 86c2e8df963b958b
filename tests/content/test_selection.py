"""Targeting, frequency and the contact budget, decided for one visit (selection.select)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.content.experiences import Condition, Settings, definition
from services.content.selection import Published, Visit, holds, select

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SURVEY = {"question_type": "nps", "question": "How likely are you to recommend us?"}
TOUR = {"steps": [{"title": "Projects", "target": "#projects"}, {"title": "Done"}]}
ANNOUNCEMENT = {"title": "Dark mode is here"}
CHECKLIST = {"items": [{"id": "invite", "label": "Invite", "event": {"name": "Invited"}}]}
CONTENT = {"survey": SURVEY, "tour": TOUR, "announcement": ANNOUNCEMENT, "checklist": CHECKLIST}


def published(experience_id: str, kind: str, **settings: Any) -> Published:
    if kind == "announcement":
        settings.setdefault("targeting", {}).setdefault("ends_at", NOW + timedelta(days=30))
    stored = definition(kind, CONTENT[kind], Settings.model_validate(settings))
    return Published(experience_id, kind, experience_id, 1, stored, NOW - timedelta(days=1))


def visit(**fields: Any) -> Visit:
    return Visit.model_validate({"url": "https://app.example.com/projects", **fields})


def shown(items: list[Published], **fields: Any) -> list[tuple[str, bool]]:
    return [(e["id"], e["auto"]) for e in select(items, visit(**fields), NOW)]


@pytest.mark.parametrize(
    ("op", "value", "traits", "expected"),
    [
        ("eq", "admin", {"role": "admin"}, True),
        ("eq", 40, {"seats": "40"}, True),
        ("eq", "admin", {}, False),
        ("ne", "admin", {"role": "viewer"}, True),
        ("ne", "admin", {}, True),
        ("contains", "acme", {"email": "kim@ACME.io"}, True),
        ("contains", "beta", {"flags": ["beta", "sso"]}, True),
        ("gt", 10, {"seats": 11}, True),
        ("gt", 10, {"seats": 10}, False),
        ("lt", 10, {"seats": "9.5"}, True),
        ("lt", 10, {"seats": "many"}, False),
        ("in", ["pro", "enterprise"], {"plan": "pro"}, True),
        ("in", ["pro", "enterprise"], {"plan": "free"}, False),
    ],
)
def test_conditions_compare_traits(
    op: str, value: Any, traits: dict[str, Any], expected: bool
) -> None:
    condition = Condition.model_validate(
        {"trait": next(iter(traits), "x"), "op": op, "value": value}
    )
    assert holds(condition, traits) is expected


def test_url_patterns_match_the_path_or_the_whole_url() -> None:
    by_path = published("a", "tour", targeting={"url_patterns": ["/projects*"]})
    by_url = published("b", "tour", targeting={"url_patterns": ["https://app.example.com/set*"]})

    assert shown([by_path, by_url]) == [("a", True)]
    assert shown([by_path, by_url], url="https://app.example.com/settings") == [("b", True)]
    assert shown([by_path, by_url], url="https://app.example.com/") == []


def test_traits_first_seen_and_the_date_window_all_have_to_hold() -> None:
    tour = published(
        "a",
        "tour",
        targeting={
            "user": [{"trait": "role", "op": "eq", "value": "admin"}],
            "account": [{"trait": "seats", "op": "gt", "value": 10}],
            "first_seen_within_days": 7,
            "starts_at": NOW - timedelta(days=1),
        },
    )
    fits = {
        "traits": {"role": "admin"},
        "groupTraits": {"seats": 40},
        "firstSeenAt": (NOW - timedelta(days=2)).isoformat(),
    }
    assert shown([tour], **fits) == [("a", True)]
    assert shown([tour], **{**fits, "traits": {"role": "viewer"}}) == []
    assert shown([tour], **{**fits, "groupTraits": {"seats": 3}}) == []
    assert shown([tour], **{**fits, "firstSeenAt": (NOW - timedelta(days=8)).isoformat()}) == []
    assert shown([tour], **{k: v for k, v in fits.items() if k != "firstSeenAt"}) == []
    later = published("b", "tour", targeting={"starts_at": NOW + timedelta(hours=1)})
    assert shown([later]) == []


def test_only_the_highest_priority_shows_by_itself_and_checklists_come_beside_it() -> None:
    items = [
        published("survey", "survey", priority=5),
        published("news", "announcement", priority=1),
        published("list", "checklist"),
    ]
    assert shown(items) == [("survey", True), ("list", False)]
    assert shown(items, shownThisPage=True) == [("list", False)]


def test_a_survey_waits_out_the_cooldown_after_any_survey() -> None:
    items = [published("survey", "survey", priority=5), published("news", "announcement")]
    recent = (NOW - timedelta(days=6)).isoformat()
    old = (NOW - timedelta(days=7)).isoformat()

    assert shown(items, lastSurveyAt=recent) == [("news", True)]
    assert shown(items, lastSurveyAt=old) == [("survey", True)]
    eager = published("survey", "survey", priority=5, survey_cooldown_days=1)
    assert shown([eager], lastSurveyAt=recent) == [("survey", True)]


def test_frequencies_follow_what_the_browser_remembers() -> None:
    once = published("once", "tour")
    until = published("until", "tour", frequency="until_completed")
    each = published("each", "tour", frequency="every_session")
    then = (NOW - timedelta(hours=1)).isoformat()

    def after(seen: dict[str, Any], item: Published, session: str = "s2") -> bool:
        history = {item.id: {"shownAt": then, "sessionId": "s1", **seen}}
        return bool(shown([item], history=history, sessionId=session))

    assert [after({}, once), after({}, until), after({}, each)] == [False, True, True]
    assert after({}, each, session="s1") is False
    assert after({"dismissedAt": then}, until, session="s1") is False
    assert after({"dismissedAt": then}, until, session="s2") is True
    assert after({"completedAt": then}, until) is False


def test_an_answered_survey_comes_back_only_after_its_reask_interval() -> None:
    never = published("never", "survey", frequency="every_session")
    monthly = published("monthly", "survey", frequency="every_session", reask_after_days=30)

    def back(item: Published, days_ago: int) -> bool:
        answered = (NOW - timedelta(days=days_ago)).isoformat()
        seen = {"shownAt": answered, "answeredAt": answered, "sessionId": "old"}
        return bool(shown([item], history={item.id: seen}, sessionId="new"))

    assert [back(never, 400), back(monthly, 29), back(monthly, 30)] == [False, False, True]


def test_a_tour_under_way_resumes_on_any_page_before_higher_priorities() -> None:
    tour = published("tour", "tour", targeting={"url_patterns": ["/projects"]})
    survey = published("survey", "survey", priority=100)
    history = {"tour": {"shownAt": NOW.isoformat(), "step": 1, "sessionId": "s1"}}

    served = select(
        [tour, survey], visit(url="https://app.example.com/other", history=history), NOW
    )
    assert [(e["id"], e["auto"], e["resume"]) for e in served] == [("tour", True, True)]


def test_only_star_is_a_wildcard_and_paths_match_with_or_without_the_query() -> None:
    literal = published("a", "tour", targeting={"url_patterns": ["/app/[id]/edit"]})
    path = published("b", "tour", targeting={"url_patterns": ["/app/settings"]})

    assert shown([literal], url="https://x.example/app/[id]/edit") == [("a", True)]
    assert shown([literal], url="https://x.example/app/i/edit") == []
    assert shown([path], url="https://x.example/app/settings?tab=1") == [("b", True)]


def test_of_two_tours_under_way_the_higher_priority_resumes_and_other_kinds_never_do() -> None:
    low = published("low", "tour", priority=1)
    high = published("high", "tour", priority=9)
    survey = published("survey", "survey", priority=100)
    under_way = {"shownAt": NOW.isoformat(), "step": 1, "sessionId": "s1"}
    history = {"low": under_way, "high": under_way, "survey": under_way}

    served = select([low, high, survey], visit(history=history, sessionId="s1"), NOW)
    assert [(e["id"], e["resume"]) for e in served] == [("high", True)]
