"""core.prepared: a query compiled once gives what its queryset gives, call after call."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.transaction import TransactionManagementError

from labelop.annotations.models import Task
from labelop.core.prepared import Prepared
from labelop.projects.models import Project
from tests.conftest import World, make_user

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


@pytest.mark.parametrize("build", [
    lambda name: Project.objects.filter(name__contains=name),  # Django wraps it in %...%
    lambda name: Project.objects.filter(name=name.lower()),  # the build rewrites it
    lambda name: Project.objects.filter(name=max(name, "m")),  # not always used
    lambda name: Project.objects.filter(name__in=[name, name + "x"]),  # a second value
    lambda name: Project.objects.filter(name=name).prefetch_related("memberships"),
    lambda name: Project.objects.filter(name=name).values("pk"),  # not instances
], ids=["contains", "lower", "max", "derived", "prefetch", "values"])
def test_a_build_that_does_more_than_pass_its_value_is_refused(world: World, build) -> None:
    with pytest.raises(ValueError, match=r"plain parameter|model instances"):
        Prepared(build, name=str).all(name="Scans")


def test_a_value_used_twice_and_on_a_small_field_is_substituted_everywhere(
        labeled: World) -> None:
    # version is a PositiveIntegerField: a marker out of its range would drop the condition.
    prepared = Prepared(lambda n: Task.objects.filter(Q(pk=n) | Q(version=n)), n=int)
    task = labeled.tasks[1]
    Task.objects.filter(pk=labeled.tasks[2].pk).update(version=task.pk)

    assert {t.pk for t in prepared.all(n=task.pk)} == {task.pk, labeled.tasks[2].pk}


def test_a_locking_query_outside_a_transaction_is_refused(transactional_db: None) -> None:
    owner = make_user("owner")
    project = Project.objects.create(name="Scans", created_by=owner)
    prepared = Prepared(lambda pk: Project.objects.select_for_update().filter(pk=pk), pk=int)

    with pytest.raises(TransactionManagementError):
        prepared.all(pk=project.pk)
    with transaction.atomic():
        assert prepared.one(pk=project.pk) == project


def test_an_id_past_64_bits_finds_nothing_instead_of_failing(labeled: World) -> None:
    prepared = Prepared(_build, task_id=int, project_id=int)

    assert prepared.all(task_id=10**23, project_id=labeled.project.pk) == []
