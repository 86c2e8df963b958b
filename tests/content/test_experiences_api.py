"""The experiences admin API and the snippet's endpoint, on SQLite and PostgreSQL."""

import asyncio
import json
from typing import Any

import httpx

from .factories import TenantAuth, TenantFactory, product_body

TOUR = {
    "kind": "tour",
    "name": "Getting around",
    "content": {"steps": [{"title": "Projects", "target": "#projects"}, {"title": "Done"}]},
    "targeting": {
        "url_patterns": ["/app/*"],
        "user": [{"trait": "role", "op": "eq", "value": "admin"}],
    },
}
SURVEY = {
    "kind": "survey",
    "name": "NPS",
    "content": {"question_type": "nps", "question": "How likely?", "follow_up": "Why?"},
}
ADMIN_ON_APP = {"url": "http://vendor.test/app/home", "traits": {"role": "admin"}}


async def product(client: httpx.AsyncClient, tenant: TenantAuth, slug: str = "web") -> str:
    """Make a product; returns its write key."""
    created = await client.post(
        "/v1/products", json=product_body(slug=slug), headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    key: str = created.json()["write_key"]["key"]
    return key


async def create(
    client: httpx.AsyncClient, tenant: TenantAuth, body: dict[str, Any], slug: str = "web"
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/products/{slug}/experiences", json=body, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def publish(
    client: httpx.AsyncClient, tenant: TenantAuth, experience_id: str
) -> httpx.Response:
    return await client.post(
        f"/v1/products/web/experiences/{experience_id}/publish", headers=tenant.headers
    )


async def served(
    client: httpx.AsyncClient, write_key: str, context: dict[str, Any], etag: str = ""
) -> httpx.Response:
    params = {"writeKey": write_key, "context": json.dumps(context)}
    headers = {"If-None-Match": etag} if etag else {}
    return await client.get("/sdk/v1/experiences", params=params, headers=headers)


async def test_a_published_tour_reaches_the_users_it_targets_and_edits_wait_for_publishing(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    write_key = await product(client, acme)
    tour = await create(client, acme, TOUR)
    assert (tour["status"], tour["published_version"], tour["unpublished_changes"]) == (
        "draft",
        None,
        True,
    )
    assert (await served(client, write_key, ADMIN_ON_APP)).json()["experiences"] == []

    published = (await publish(client, acme, tour["id"])).json()
    assert (published["status"], published["published_version"]) == ("published", 1)
    first = await served(client, write_key, ADMIN_ON_APP)
    [shown] = first.json()["experiences"]
    assert (shown["id"], shown["version"], shown["auto"]) == (tour["id"], 1, True)
    assert shown["content"]["steps"][0]["target"] == "#projects"
    viewer = {**ADMIN_ON_APP, "traits": {"role": "viewer"}}
    assert (await served(client, write_key, viewer)).json()["experiences"] == []

    steps = {"steps": [{"title": "Renamed", "target": "#projects"}]}
    edited = await client.patch(
        f"/v1/products/web/experiences/{tour['id']}", json={"content": steps}, headers=acme.headers
    )
    assert edited.json()["unpublished_changes"] is True
    assert (await served(client, write_key, ADMIN_ON_APP, first.headers["ETag"])).status_code == 304

    await publish(client, acme, tour["id"])
    second = await served(client, write_key, ADMIN_ON_APP, first.headers["ETag"])
    assert second.status_code == 200
    [shown] = second.json()["experiences"]
    assert (shown["version"], shown["content"]["steps"][0]["title"]) == (2, "Renamed")
    versions = await client.get(
        f"/v1/products/web/experiences/{tour['id']}/versions", headers=acme.headers
    )
    assert [
        (v["version"], v["definition"]["content"]["steps"][0]["title"]) for v in versions.json()
    ] == [
        (1, "Projects"),
        (2, "Renamed"),
    ]

    await client.post(f"/v1/products/web/experiences/{tour['id']}/unpublish", headers=acme.headers)
    assert (await served(client, write_key, ADMIN_ON_APP)).json()["experiences"] == []


async def test_author_html_is_sanitized_and_plain_text_is_kept_as_text(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await product(client, acme)
    hostile = {
        "kind": "welcome",
        "name": "Welcome",
        "content": {
            "title": "<script>alert(1)</script>",
            "body_html": '<p onclick="x()">Hi <b>there</b></p><script>alert(2)</script>'
            '<img src="x" onerror="alert(3)"><a href="javascript:alert(4)">go</a>',
        },
    }
    content = (await create(client, acme, hostile))["draft"]["content"]

    assert (
        content["body_html"]
        == '<p>Hi <b>there</b></p><img src="x"><a rel="noopener noreferrer">go</a>'
    )
    assert content["title"] == "<script>alert(1)</script>"  # text: the snippet never parses it


async def test_bad_definitions_get_400_naming_the_field(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await product(client, acme)
    cases = [
        ({**TOUR, "content": {"steps": [{"advance": "click"}]}}, "content.steps.0"),
        (
            {**SURVEY, "content": {"question_type": "single", "question": "Q", "choices": ["a"]}},
            "content",
        ),
        ({"kind": "announcement", "name": "New", "content": {"title": "New"}}, "targeting.ends_at"),
        ({**TOUR, "reask_after_days": 3}, "reask_after_days"),
        ({**TOUR, "kind": "popup"}, "kind"),
        (
            {**TOUR, "targeting": {"user": [{"trait": "seats", "op": "gt", "value": "ten"}]}},
            "targeting.user.0",
        ),
        (
            {
                "kind": "link",
                "name": "Docs",
                "content": {"title": "Docs", "url": "javascript:alert(1)"},
            },
            "content.url",
        ),
    ]
    for body, attr in cases:
        response = await client.post(
            "/v1/products/web/experiences", json=body, headers=acme.headers
        )
        assert response.status_code == 400, (body, response.text)
        error = response.json()
        assert error["type"] == "validation_error"
        assert error["attr"] == attr, (body, error)


async def test_the_free_plan_allows_one_product_and_one_published_tutorial(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    solo = await make_tenant(plan="free")
    await product(client, solo)
    second = await client.post(
        "/v1/products", json=product_body(slug="other"), headers=solo.headers
    )
    assert (second.status_code, second.json()["code"]) == (402, "plan_limit_reached")

    tours = [await create(client, solo, TOUR) for _ in range(2)]
    survey = await create(client, solo, SURVEY)
    assert (await publish(client, solo, tours[0]["id"])).status_code == 200
    refused = await publish(client, solo, tours[1]["id"])
    assert (refused.status_code, refused.json()["code"]) == (402, "plan_limit_reached")
    assert "Free plan allows 1 published tutorial" in refused.json()["detail"]
    assert (await publish(client, solo, survey["id"])).status_code == 200  # not a tutorial
    assert (await publish(client, solo, tours[0]["id"])).status_code == 200  # a new version of it

    await client.post(
        f"/v1/products/web/experiences/{tours[0]['id']}/unpublish", headers=solo.headers
    )
    assert (await publish(client, solo, tours[1]["id"])).status_code == 200


async def test_the_light_plan_allows_five_products(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    team = await make_tenant(plan="light")
    for number in range(5):
        await product(client, team, slug=f"p{number}")
    sixth = await client.post("/v1/products", json=product_body(slug="p5"), headers=team.headers)
    assert (sixth.status_code, sixth.json()["code"]) == (402, "plan_limit_reached")
    assert (await client.get("/v1/tenant", headers=team.headers)).json()["plan"] == "light"


async def test_one_tenants_key_can_neither_read_nor_change_anothers_experiences(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme, globex = await make_tenant(), await make_tenant()
    await product(client, acme)
    await product(client, globex)
    tour = await create(client, acme, TOUR)
    path = f"/v1/products/web/experiences/{tour['id']}"

    attempts = [
        await client.get(path, headers=globex.headers),
        await client.patch(path, json={"name": "Mine"}, headers=globex.headers),
        await client.post(path + "/publish", headers=globex.headers),
        await client.delete(path, headers=globex.headers),
    ]
    assert [(r.status_code, r.json()["code"]) for r in attempts] == [
        (404, "experience_not_found")
    ] * 4
    assert (await client.get("/v1/products/web/experiences", headers=globex.headers)).json() == []
    mine = await client.get(path, headers=acme.headers)
    assert (mine.json()["name"], mine.json()["status"]) == ("Getting around", "draft")


async def test_the_snippet_endpoint_refuses_unknown_keys_and_bad_context(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    write_key = await product(client, acme)

    unknown = await served(client, "wk_nobody", ADMIN_ON_APP)
    assert (unknown.status_code, unknown.json()["code"]) == (401, "invalid_write_key")
    missing_url = await served(client, write_key, {"traits": {}})
    assert (missing_url.status_code, missing_url.json()["attr"]) == (400, "context.url")
    not_json = await client.get(
        "/sdk/v1/experiences", params={"writeKey": write_key, "context": "{"}
    )
    assert (not_json.status_code, not_json.json()["code"]) == (400, "invalid_context")


async def test_the_snippet_is_served_as_javascript(client: httpx.AsyncClient) -> None:
    response = await client.get("/sdk/kizuna.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "kizuna" in response.text


async def test_a_form_encoded_body_is_told_to_be_json(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await product(client, acme)

    response = await client.post(
        "/v1/products/web/experiences",
        content=json.dumps(TOUR),
        headers={**acme.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_json")
    assert "Content-Type: application/json" in response.json()["detail"]


async def test_a_step_without_a_target_is_placed_in_the_centre(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await product(client, acme)

    steps = (await create(client, acme, TOUR))["draft"]["content"]["steps"]
    assert [(s["target"], s["placement"]) for s in steps] == [
        ("#projects", "bottom"),
        (None, "center"),
    ]


async def test_parallel_requests_cannot_pass_a_plan_limit_together(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    solo = await make_tenant(plan="free")
    bodies = [product_body(slug=f"p{number}") for number in range(6)]
    created = await asyncio.gather(
        *(client.post("/v1/products", json=body, headers=solo.headers) for body in bodies)
    )
    assert sorted(r.status_code for r in created) == [201] + [402] * 5

    slug = next(r.json()["slug"] for r in created if r.status_code == 201)
    path = f"/v1/products/{slug}/experiences"
    tours = [(await client.post(path, json=TOUR, headers=solo.headers)).json() for _ in range(5)]
    published = await asyncio.gather(
        *(client.post(f"{path}/{t['id']}/publish", headers=solo.headers) for t in tours)
    )
    assert sorted(r.status_code for r in published) == [200] + [402] * 4


async def test_parallel_publishes_of_one_experience_make_distinct_versions(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await product(client, acme)
    tour = await create(client, acme, TOUR)

    answers = await asyncio.gather(*(publish(client, acme, tour["id"]) for _ in range(5)))
    assert sorted(r.json()["published_version"] for r in answers) == [1, 2, 3, 4, 5]


async def test_numbers_json_cannot_carry_are_refused_or_kept_as_floats(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    write_key = await product(client, acme)
    event = {"name": "e", "properties": {"p": 10**30}}
    items = [{"id": "a", "label": "A", "event": event}]
    checklist = await create(
        client, acme, {"kind": "checklist", "name": "C", "content": {"items": items}}
    )
    await publish(client, acme, checklist["id"])
    [served_list] = (await served(client, write_key, ADMIN_ON_APP)).json()["experiences"]
    assert served_list["content"]["items"][0]["event"]["properties"] == {"p": 1e30}

    condition = {"trait": "seats", "op": "gt", "value": float("nan")}
    response = await client.post(
        "/v1/products/web/experiences",
        content=json.dumps({**TOUR, "targeting": {"user": [condition]}}),  # the token NaN
        headers={**acme.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["attr"].startswith("targeting.user.0.value")


async def test_a_visitor_with_an_enormous_number_trait_still_gets_an_answer(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    write_key = await product(client, acme)
    tour = await create(client, acme, TOUR)
    await publish(client, acme, tour["id"])

    visit = {**ADMIN_ON_APP, "traits": {"role": 10**400}}
    response = await client.get(
        "/sdk/v1/experiences",
        params={"writeKey": write_key, "context": json.dumps(visit)},
    )
    assert (response.status_code, response.json()["experiences"]) == (200, [])


async def test_if_none_match_is_read_as_a_list_of_tags(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    write_key = await product(client, acme)
    etag = (await served(client, write_key, ADMIN_ON_APP)).headers["ETag"]

    answers = [
        (await served(client, write_key, ADMIN_ON_APP, tags)).status_code
        for tags in (f'"other", {etag}', f"W/{etag}", "*", f"x{etag}y", '"other"')
    ]
    assert answers == [304, 304, 304, 200, 200]


async def test_a_long_history_is_posted_and_answered_with_the_same_etag(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    write_key = await product(client, acme)
    seen = {"shownAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:01:00Z"}
    context = {**ADMIN_ON_APP, "history": {f"exp_{n:032x}": seen for n in range(300)}}
    body = json.dumps({"writeKey": write_key, "context": context})
    assert len(body) > 16_000

    first = await client.post(
        "/sdk/v1/experiences", content=body, headers={"Content-Type": "text/plain"}
    )
    again = await client.post(
        "/sdk/v1/experiences", content=body, headers={"If-None-Match": first.headers["ETag"]}
    )
    wrong = await client.post("/sdk/v1/experiences", content=json.dumps({"writeKey": write_key}))
    assert (first.status_code, first.json()["experiences"], again.status_code) == (200, [], 304)
    assert (wrong.status_code, wrong.json()["attr"]) == (400, "context")


async def test_a_patch_may_clear_only_the_optional_survey_settings(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    acme = await make_tenant()
    await product(client, acme)
    survey = await create(client, acme, {**SURVEY, "reask_after_days": 30})
    path = f"/v1/products/web/experiences/{survey['id']}"

    cleared = await client.patch(path, json={"reask_after_days": None}, headers=acme.headers)
    refused = await client.patch(path, json={"targeting": None}, headers=acme.headers)
    assert cleared.json()["draft"]["reask_after_days"] is None
    assert (refused.status_code, refused.json()["detail"]) == (
        400,
        "Value error, targeting cannot be null",
    )
