"""What a snippet shows: the published experiences that apply to one user on one page, now.

Pure: `select` takes the product's published experiences and what the snippet reports of the
visit (docs/snippet.md, "context"), and decides targeting, frequency and the contact budget:

- at most one experience shows by itself per page view, and none while one already did;
- a survey shows only when no survey showed in the last 7 days (a survey may set its own
  cooldown), and after an answer only once its re-ask interval has passed;
- priorities decide among the rest; a tour or walkthrough the user is part-way through goes
  first, wherever its targeting would place it, so that it can continue across pages;
- checklists are a widget the user opens, outside the budget.
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.content.experiences import (
    STEP_KINDS,
    Condition,
    Settings,
    Targeting,
    parse_settings,
    window_open,
)

SURVEY_COOLDOWN = timedelta(days=7)


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Seen(Camel):
    """What the browser remembers of one experience."""

    shown_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    dismissed_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    session_id: str | None = None
    step: int | None = Field(default=None, ge=0)


class Visit(Camel):
    url: str = Field(max_length=4_000)
    user_id: str | None = Field(default=None, max_length=400)
    anonymous_id: str | None = Field(default=None, max_length=400)
    traits: dict[str, Any] = {}
    group_id: str | None = Field(default=None, max_length=400)
    group_traits: dict[str, Any] = {}
    first_seen_at: AwareDatetime | None = None
    session_id: str | None = Field(default=None, max_length=200)
    shown_this_page: bool = False
    last_survey_at: AwareDatetime | None = None
    history: dict[str, Seen] = {}


@dataclass(frozen=True)
class Published:
    id: str
    kind: str
    name: str
    version: int
    definition: dict[str, Any]
    published_at: datetime

    @property
    def settings(self) -> Settings:
        return parse_settings(self.definition)


def select(published: list[Published], visit: Visit, now: datetime) -> list[dict[str, Any]]:
    """What the snippet should have: the one experience to show by itself (if any), first,
    then the checklists that apply; each as docs/snippet.md describes it."""
    auto = _resumed(published, visit, now) or _winner(published, visit, now)
    chosen = [_served(auto, auto=True, resume=auto.id in _in_progress(visit))] if auto else []
    chosen += [
        _served(item, auto=False, resume=False)
        for item in published
        if item.kind == "checklist" and _eligible(item, visit, now)
    ]
    return chosen


def _winner(published: list[Published], visit: Visit, now: datetime) -> Published | None:
    if visit.shown_this_page:
        return None
    candidates = [
        item
        for item in published
        if item.kind != "checklist"
        and _eligible(item, visit, now)
        and _budget_allows(item, visit, now)
    ]
    if not candidates:
        return None
    return max(candidates, key=_rank)


def _resumed(published: list[Published], visit: Visit, now: datetime) -> Published | None:
    """The stepped experience the user is part-way through, while its date window is open
    (of several, the highest priority)."""
    going = _in_progress(visit)
    resumable = [
        item
        for item in published
        if item.id in going
        and item.kind in STEP_KINDS
        and window_open(item.settings.targeting, now)
    ]
    return max(resumable, key=_rank, default=None)


def _rank(item: Published) -> tuple[int, datetime, str]:
    return (item.settings.priority, item.published_at, item.id)


def _in_progress(visit: Visit) -> set[str]:
    return {
        experience_id
        for experience_id, seen in visit.history.items()
        if seen.shown_at and seen.step is not None and not (seen.completed_at or seen.dismissed_at)
    }


def _served(item: Published, *, auto: bool, resume: bool) -> dict[str, Any]:
    return {
        "id": item.id,
        "version": item.version,
        "kind": item.kind,
        "name": item.name,
        "priority": item.settings.priority,
        "auto": auto,
        "resume": resume and item.kind in STEP_KINDS,
        "content": item.definition["content"],
    }


def _eligible(item: Published, visit: Visit, now: datetime) -> bool:
    settings = item.settings
    return targeted(settings.targeting, visit, now) and _due(item, settings, visit, now)


def targeted(targeting: Targeting, visit: Visit, now: datetime) -> bool:
    """Whether the targeting takes in this user, account and page, now."""
    if not window_open(targeting, now):
        return False
    if targeting.url_patterns and not any(
        _url_matches(pattern, visit.url) for pattern in targeting.url_patterns
    ):
        return False
    if targeting.first_seen_within_days is not None:
        window = timedelta(days=targeting.first_seen_within_days)
        if visit.first_seen_at is None or now - visit.first_seen_at > window:
            return False
    return all(holds(c, visit.traits) for c in targeting.user) and all(
        holds(c, visit.group_traits) for c in targeting.account
    )


def _url_matches(pattern: str, url: str) -> bool:
    """A glob whose only wildcard is `*` (any run of characters), against the whole URL; a
    pattern starting with / against the path, or the path and query."""
    glob = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
    if not pattern.startswith("/"):
        return glob.fullmatch(url) is not None
    parts = urlsplit(url)
    candidates = [parts.path] + ([f"{parts.path}?{parts.query}"] if parts.query else [])
    return any(glob.fullmatch(candidate) for candidate in candidates)


def holds(condition: Condition, traits: dict[str, Any]) -> bool:
    """A missing trait satisfies only 'ne'. Numbers compare as numbers, everything else as
    text; 'contains' looks inside text and lists."""
    if condition.trait not in traits or traits[condition.trait] is None:
        return condition.op == "ne"
    actual, wanted = traits[condition.trait], condition.value
    if condition.op == "eq":
        return _same(actual, wanted)
    if condition.op == "ne":
        return not _same(actual, wanted)
    if condition.op == "in":
        return isinstance(wanted, list) and any(_same(actual, option) for option in wanted)
    if condition.op == "contains":
        if isinstance(actual, list):
            return any(_same(element, wanted) for element in actual)
        return str(wanted).lower() in str(actual).lower()
    number = _number(actual)
    if number is None:
        return False
    assert isinstance(wanted, int | float)  # Condition checks it
    return number > wanted if condition.op == "gt" else number < wanted


def _same(actual: Any, wanted: Any) -> bool:
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return left == right
    return str(actual) == str(wanted)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)  # a huge integer overflows; text may not be a number
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _due(item: Published, settings: Settings, visit: Visit, now: datetime) -> bool:
    """Frequency: whether what this browser remembers lets the experience show again."""
    seen = visit.history.get(item.id)
    if seen is None or seen.shown_at is None:
        return True
    if item.kind == "survey" and seen.answered_at is not None:
        reask = settings.reask_after_days
        return reask is not None and now - seen.answered_at >= timedelta(days=reask)
    if item.kind == "checklist":
        return seen.completed_at is None
    if settings.frequency == "once":
        return False
    this_session = visit.session_id is not None and seen.session_id == visit.session_id
    if settings.frequency == "until_completed":
        return seen.completed_at is None and not (seen.dismissed_at and this_session)
    return not this_session  # every_session


def _budget_allows(item: Published, visit: Visit, now: datetime) -> bool:
    if item.kind != "survey" or visit.last_survey_at is None:
        return True
    days = item.settings.survey_cooldown_days
    cooldown = SURVEY_COOLDOWN if days is None else timedelta(days=days)
    return now - visit.last_survey_at >= cooldown
