"""schemathesis against the committed openapi.json: every operation, called by each role
and by nobody with generated path parameters, queries and bodies; none may answer 5xx.
Path ids are drawn half the time from the objects that exist, so the calls reach past
"not found" into validation and the services."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from labelop.accounts.services import token_create
from labelop.permissions import Actor
from tests.conftest import World
from tests.labeling import LABELS
from tests.openapi_check import SPEC_PATH

schema = schemathesis.openapi.from_dict(json.loads(SPEC_PATH.read_text()))
schema.app = get_wsgi_application()
ROLES = ("owner", "reviewer", "annotator", "outsider", "site_admin")
EXISTING: dict[str, int] = {}  # path parameter -> an id that exists, set per test


@schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    if not path_parameters:
        return path_parameters
    return {name: EXISTING.get(name, value) if isinstance(value, int) and value % 2 else value
            for name, value in path_parameters.items()}


@pytest.fixture
def callers(image_world: World) -> list[dict[str, str]]:
    """The headers of each role's token (second factor included), and none."""
    world = image_world
    world.project.labels = LABELS
    world.project.save(update_fields=["labels"])
    EXISTING.clear()
    EXISTING.update({"project_id": world.project.pk, "task_id": world.asset.task.pk,
                     "asset_id": world.asset.pk, "job_id": world.job.pk,
                     "user_id": world.users["annotator"].pk})
    tokens = [token_create(actor=Actor(user=world.users[role], second_factor=True),
                           name="fuzz")[1] for role in ROLES]
    return [*({"Authorization": f"Bearer {raw}"} for raw in tokens), {}]


@pytest.mark.django_db(transaction=True)  # the WSGI app closes connections per request
@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case: schemathesis.Case,
                                            callers: list[dict[str, str]]) -> None:
    for headers in callers:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])
