"""core.prepared: a query compiled once gives what its queryset gives, call after call."""

from __future__ import annotations

import pytest
from django.db.models import F, QuerySet

from labelop.annotations.models import Task
from labelop.core.prepared import Prepared
from labelop.projects.models import Project
from tests.conftest import World

COLUMNS = ("id", "state", "version", "created_at", "asset__original_name", "asset__width",
           "assignee__username", "project__name")


def _build(task_id: int, project_id: int) -> QuerySet[Task]:
    return (Task.objects.select_related("asset", "assignee", "project")
            .annotate(project_policy=F("project__policy"))
            .filter(pk=task_id, project_id=project_id))


def _seen(task: Task) -> tuple:
    return (task.pk, task.state, task.version, task.created_at, task.asset.original_name,
            task.asset.width, task.assignee.username if task.assignee else None,
            task.project.name, task.project_policy)


def test_each_call_runs_with_its_own_values_and_matches_the_queryset(labeled: World) -> None:
    prepared = Prepared(_build, task_id=int, project_id=int)
    project = labeled.project

    for task in labeled.tasks:  # the first assigned (a related row), the others not (None)
        (found,) = prepared.all(task_id=task.pk, project_id=project.pk)
        (plain,) = _build(task.pk, project.pk)
        assert _seen(found) == _seen(plain)
        assert found.created_at.tzinfo is not None  # converters applied, as the ORM does
        assert prepared.one(task_id=task.pk, project_id=project.pk).pk == task.pk  # type: ignore[union-attr]
    assert labeled.tasks[0].assignee_id == labeled.users["annotator"].pk


def test_no_row_is_an_empty_list(labeled: World) -> None:
    prepared = Prepared(_build, task_id=int, project_id=int)

    assert prepared.all(task_id=labeled.tasks[0].pk, project_id=labeled.other_project.pk) == []
    assert prepared.one(task_id=987654, project_id=labeled.project.pk) is None


def test_a_value_django_rewrites_is_refused_when_first_compiled(world: World) -> None:
    prepared = Prepared(lambda name: Project.objects.filter(name__contains=name), name=str)

    with pytest.raises(ValueError, match="name: not a plain parameter"):
        prepared.all(name="Scans")


def test_an_id_past_64_bits_finds_nothing_instead_of_failing(labeled: World) -> None:
    prepared = Prepared(_build, task_id=int, project_id=int)

    assert prepared.all(task_id=10**23, project_id=labeled.project.pk) == []
