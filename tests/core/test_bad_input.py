"""Bad input gets a clear 4xx problem+json, never a 500, and changes nothing."""

from __future__ import annotations

import pytest

from labelop.projects.models import Project
from tests.conftest import World, api_for


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"] == f"urn:labelop:problem:{code}"
    assert body["title"]
    assert body["detail"]
    return body


@pytest.mark.parametrize("body", [
    {"name": "x", "sensitivity": "standard", "colour": "red"},  # unknown field
    {"name": "x", "sensitivity": "public"},  # not an enum value
    {"name": 5, "sensitivity": "standard"},  # wrong type
    {"name": "", "sensitivity": "standard"},  # empty
    {"name": "x" * 201, "sensitivity": "standard"},  # too long
    {"sensitivity": "standard"},  # missing
    {"name": "x", "sensitivity": "standard", "labels": [{"name": "a", "kind": "circle"}]},
    {"name": "x", "sensitivity": "standard", "labels": "face"},
    ["not", "an", "object"],
])
def test_invalid_bodies_are_422_and_create_nothing(world: World, body: object) -> None:
    before = Project.objects.count()

    response = api_for(world.users["owner"]).post("/projects", body)

    problem = _problem(response, 422, "invalid_request")
    assert problem["errors"]
    assert Project.objects.count() == before


def test_malformed_json_is_a_4xx(world: World) -> None:
    client = api_for(world.users["owner"])
    response = client.client.post("/api/v1/projects", "{not json", content_type="application/json",
                                  headers=client.headers)
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/problem+json"


def test_oversized_body_is_413(world: World, settings) -> None:
    client = api_for(world.users["owner"])
    huge = {"name": "x", "sensitivity": "standard",
            "description": "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}

    _problem(client.post("/projects", huge), 413, "body_too_large")


@pytest.mark.parametrize("path", ["/projects/not-a-number", "/projects/99999999999999999999999"])
def test_bad_path_parameters_are_4xx(world: World, path: str) -> None:
    response = api_for(world.users["owner"]).get(path)
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("query", ["cursor=garbage", "cursor=eyJrIjogImEifQ", "limit=abc",
                                   "since=yesterday"])
def test_bad_query_parameters_are_4xx(world: World, query: str) -> None:
    response = api_for(world.users["owner"]).get(f"/audit?{query}")
    assert response.status_code in (400, 422)
    assert response["Content-Type"] == "application/problem+json"


def test_unknown_api_path_is_a_problem_404(world: World) -> None:
    _problem(api_for(world.users["owner"]).get("/no/such/thing"), 404, "not_found")


def test_wrong_method_is_a_4xx(world: World) -> None:
    response = api_for(world.users["owner"]).call("PUT", "/projects")
    assert response.status_code == 405


def test_garbage_bearer_token_is_401(db: None) -> None:
    from tests.conftest import Api

    for token in ("lop_nope", "x" * 5000, "lop_" + "\u00e9" * 10):
        _problem(Api(token).get("/me"), 401, "not_authenticated")


@pytest.mark.parametrize("query", ["since=9999-12-31T23:59:59-23:00", "actor=a%00b",
                                   "action=x%00", "project=100000000000000000000000000"])
def test_out_of_range_and_control_character_filters_are_4xx(world: World, query: str) -> None:
    response = api_for(world.users["owner"]).get(f"/audit?{query}")
    assert 400 <= response.status_code < 500, response.content


def test_export_with_a_bad_filter_writes_no_audit_event(world: World) -> None:
    from labelop.audit.models import AuditEvent

    client = api_for(world.users["owner"])
    before = AuditEvent.objects.count()
    response = client.get("/audit/export?since=9999-12-31T23:59:59-23:00")
    assert response.status_code == 422
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("body", [
    {"name": "nul\u0000", "sensitivity": "standard"},
    {"name": "x", "sensitivity": "standard", "description": "bell\u0007"},
])
def test_control_characters_in_names_are_422(world: World, body: dict) -> None:
    assert api_for(world.users["owner"]).post("/projects", body).status_code == 422


def test_an_id_beyond_64_bits_is_422(world: World) -> None:
    from tests.conftest import session_api

    response = session_api(world.users["owner"]).post("/tokens", {"name": "x", "project": 10**30})
    assert response.status_code == 422
