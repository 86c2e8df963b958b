"""What CS staff author: experiences, by kind, with their targeting and frequency.

A definition is validated here and stored as JSON; `body_html` fields are sanitized on the way in
by an allowlist (nh3), so every stored and served copy is already safe to render. Plain-text
fields stay plain text: the snippet sets them as text, never as HTML. docs/snippet.md describes
the same shapes from the snippet's side.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

import nh3
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from services.content.errors import InvalidExperience

Kind = Literal[
    "welcome", "tour", "quick_win", "link", "announcement", "walkthrough", "checklist", "survey"
]
# The six kinds the plans count as tutorials.
TUTORIAL_KINDS = frozenset({"welcome", "tour", "quick_win", "link", "announcement", "walkthrough"})
STEP_KINDS = frozenset({"tour", "quick_win", "walkthrough"})

ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "i", "img", "li", "ol",
    "p", "pre", "s", "small", "span", "strong", "sub", "sup", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}


def sanitize(html: str) -> str:
    """Author HTML reduced to an allowlist: no scripts, styles, event handlers or non-web URLs;
    links get rel="noopener noreferrer"."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def _web_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


RichText = Annotated[str, Field(max_length=20_000), AfterValidator(sanitize)]
Text = Annotated[str, Field(max_length=500)]
WebUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_web_url)]
Selector = Annotated[str, Field(min_length=1, max_length=500)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    # NaN and infinities have no JSON form; PostgreSQL's json type refuses them.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Step(Strict):
    title: Text = ""
    body_html: RichText = ""
    target: Selector | None = Field(default=None, description="CSS selector; none: a modal")
    # Default: below the target; a step without a target is always in the centre.
    placement: Literal["top", "bottom", "left", "right", "center"] | None = None
    advance: Literal["next", "click", "input", "url"] = "next"
    url: Annotated[str, Field(min_length=1, max_length=2_000)] | None = Field(
        default=None, description="with advance 'url': the glob the page URL must match"
    )

    @model_validator(mode="after")
    def _advance_has_what_it_needs(self) -> "Step":
        if self.target is None:
            self.placement = "center"
        elif self.placement is None:
            self.placement = "bottom"
        if self.advance in ("click", "input") and self.target is None:
            raise ValueError(f"a step that advances on {self.advance} needs a target")
        if self.advance == "url" and self.url is None:
            raise ValueError("a step that advances on a URL needs url")
        return self


Steps = Annotated[list[Step], Field(min_length=1, max_length=30)]


class WelcomeContent(Strict):
    title: Text
    body_html: RichText = ""
    image_url: WebUrl | None = None
    cta_label: Text = "Get started"
    cta_url: WebUrl | None = None


class TourContent(Strict):
    steps: Steps


class QuickWinContent(Strict):
    steps: Steps
    goal_event: Name = Field(description="the track event that completes it")


class WalkthroughContent(Strict):
    steps: Steps


class LinkContent(Strict):
    title: Text
    body_html: RichText = ""
    url: WebUrl
    label: Text = "Open"
    display: Literal["banner", "modal"] = "banner"


class AnnouncementContent(Strict):
    title: Text
    body_html: RichText = ""
    image_url: WebUrl | None = None
    cta_label: Text | None = None
    cta_url: WebUrl | None = None


# Integers a 64-bit JSON encoder (and the snippet's JavaScript, within ±2^53) can carry.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Scalar = Annotated[str, Field(max_length=1_000)] | Int64 | float | bool


class EventMatch(Strict):
    name: Name
    properties: Annotated[
        dict[Annotated[str, Field(max_length=200)], Scalar], Field(max_length=50)
    ] = {}


class ChecklistItem(Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    label: Text
    event: EventMatch | None = None
    tutorial_id: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _done_by_one_thing(self) -> "ChecklistItem":
        if (self.event is None) == (self.tutorial_id is None):
            raise ValueError("an item is done by an event or by a tutorial: give one of them")
        return self


class ChecklistContent(Strict):
    title: Text = ""
    ordered: bool = False
    items: Annotated[list[ChecklistItem], Field(min_length=1, max_length=30)]

    @model_validator(mode="after")
    def _item_ids_differ(self) -> "ChecklistContent":
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("checklist item ids must differ")
        return self


class SurveyContent(Strict):
    question_type: Literal["nps", "text", "single", "multiple"]
    question: Text
    choices: Annotated[list[Text], Field(max_length=20)] = []
    follow_up: Text | None = Field(default=None, description="NPS only: asked after the score")

    @model_validator(mode="after")
    def _choices_fit_the_type(self) -> "SurveyContent":
        choosing = self.question_type in ("single", "multiple")
        if choosing and len(self.choices) < 2:
            raise ValueError(f"a {self.question_type} choice survey needs at least 2 choices")
        if not choosing and self.choices:
            raise ValueError(f"a {self.question_type} survey takes no choices")
        if self.follow_up is not None and self.question_type != "nps":
            raise ValueError("only NPS surveys take a follow-up question")
        return self


CONTENT: dict[str, type[Strict]] = {
    "welcome": WelcomeContent,
    "tour": TourContent,
    "quick_win": QuickWinContent,
    "walkthrough": WalkthroughContent,
    "link": LinkContent,
    "announcement": AnnouncementContent,
    "checklist": ChecklistContent,
    "survey": SurveyContent,
}

TraitValue = Scalar | Annotated[list[Scalar], Field(max_length=200)]


class Condition(Strict):
    trait: Annotated[str, Field(min_length=1, max_length=200)]
    op: Literal["eq", "ne", "contains", "gt", "lt", "in"]
    value: TraitValue

    @model_validator(mode="after")
    def _value_fits_the_op(self) -> "Condition":
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("'in' takes a list of values")
        if self.op != "in" and isinstance(self.value, list):
            raise ValueError(f"'{self.op}' takes one value")
        if self.op in ("gt", "lt") and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ValueError(f"'{self.op}' compares numbers")
        return self


class Targeting(Strict):
    url_patterns: Annotated[list[Annotated[str, Field(max_length=2_000)]], Field(max_length=50)] = (
        Field(default=[], description="globs on the page URL or its path; none: every page")
    )
    user: Annotated[list[Condition], Field(max_length=20)] = []
    account: Annotated[list[Condition], Field(max_length=20)] = []
    first_seen_within_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _window_is_ordered(self) -> "Targeting":
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must come after starts_at")
        return self


Frequency = Literal["once", "until_completed", "every_session"]
Days = Annotated[int, Field(ge=0, le=3650)]


class Settings(Strict):
    """Everything of a definition but its content."""

    targeting: Targeting = Targeting()
    frequency: Frequency = "once"
    # Higher wins when several experiences could show at once.
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    # Surveys: ask again this many days after an answer (none: never).
    reask_after_days: Days | None = None
    # Surveys: this one may show this many days after any survey (none: the default of 7).
    survey_cooldown_days: Days | None = None


def definition(kind: str, content: Any, settings: Settings) -> dict[str, Any]:
    """The stored definition: content validated for `kind` and sanitized, and settings.

    Raises InvalidExperience naming the first field at fault."""
    try:
        parsed = CONTENT[kind].model_validate(content)
    except ValidationError as exc:
        first = exc.errors()[0]
        attr = ".".join(["content", *(str(part) for part in first["loc"])])
        raise InvalidExperience(f"{first['msg']} (for a {kind})", attr=attr) from exc
    if kind == "announcement" and settings.targeting.ends_at is None:
        raise InvalidExperience(
            "an announcement needs an end date: it shows until then", attr="targeting.ends_at"
        )
    if kind == "announcement" and settings.frequency != "once":
        raise InvalidExperience("an announcement is shown once", attr="frequency")
    for field in ("reask_after_days", "survey_cooldown_days"):
        if kind != "survey" and getattr(settings, field) is not None:
            raise InvalidExperience(f"{field} is for surveys", attr=field)
    return {"content": parsed.model_dump(mode="json"), **settings.model_dump(mode="json")}


def parse_settings(stored: dict[str, Any]) -> Settings:
    return Settings.model_validate({k: v for k, v in stored.items() if k != "content"})


def window_open(targeting: Targeting, now: datetime) -> bool:
    starts, ends = targeting.starts_at, targeting.ends_at
    return (starts is None or starts <= now) and (ends is None or now < ends)
