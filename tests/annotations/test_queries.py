"""The hottest reads stay a fixed, small number of queries, whatever the project's size."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import World, api_for
from tests.labeling import make_tasks


def _queries(client, path: str) -> int:
    client.get(path)  # the token's last-used time is written on first use
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured.captured_queries)


def test_one_task_is_two_queries_and_a_page_is_three(labeled: World) -> None:
    make_tasks(labeled.project, 120, start=500)
    annotator = api_for(labeled.users["annotator"])
    owner = api_for(labeled.users["owner"])
    task = labeled.tasks[0].pk
    # The token with its user; the task with its image, assignee and the caller's role.
    assert _queries(annotator, f"/tasks/{task}") == 2
    assert _queries(annotator, f"/tasks/{task}/annotation") == 2
    # Token, project with the caller's role, the page (tasks with images and assignees in
    # one join).
    assert _queries(owner, f"/projects/{labeled.project.pk}/tasks?limit=100") == 3
