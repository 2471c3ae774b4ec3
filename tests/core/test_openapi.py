from __future__ import annotations

import json

from labelop.core.api import api
from tests.openapi_check import SPEC_PATH


def test_served_spec_matches_the_committed_openapi_json() -> None:
    committed = json.loads(SPEC_PATH.read_text())
    served = json.loads(json.dumps(api.get_openapi_schema()))
    assert served == committed, "openapi.json is stale: run `make openapi` and commit it"


def test_every_operation_has_an_id_summary_and_responses() -> None:
    for path, item in api.get_openapi_schema()["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("operationId"), where
            assert operation.get("summary"), where
            assert operation.get("responses"), where


def test_served_spec_is_reachable(client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "LabelOp API"
