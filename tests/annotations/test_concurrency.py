"""Several people at once: owners assigning, annotators saving the same task."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connections

from labelop.annotations.models import AnnotationRevision, Task
from labelop.annotations.services import annotation_save, tasks_assign
from labelop.annotations.shapes import BBox
from labelop.core.errors import DomainError
from labelop.permissions import Actor, Role
from labelop.projects.models import Membership
from tests.conftest import build_world, make_user
from tests.labeling import LABELS, make_tasks


def _race(jobs: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    start = threading.Barrier(len(jobs))
    results: list[object] = []
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            start.wait()
            results.append(job())
        except BaseException as exc:  # collected: a thread must not swallow it
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_owners_assigning_by_count_at_once_never_double_assign(data_dir) -> None:
    world = build_world()
    owners = [world.users["owner"]]
    for n in range(3):
        owners.append(make_user(f"owner{n}"))
        Membership.objects.create(project=world.project, user=owners[-1], role=Role.OWNER)
    tasks = make_tasks(world.project, 50)

    def assign(owner) -> Callable[[], object]:
        return lambda: tasks_assign(actor=Actor(user=owner, second_factor=True),
                                    project=world.project,
                                    annotators=["annotator", "target"], count=20)

    results, errors = _race([assign(o) for o in owners])
    assert errors == []
    given = [pk for result in results for ids in result.values() for pk in ids]  # type: ignore[union-attr]
    assert len(given) == len(set(given)) == 50  # 4 x 20 asked, 50 there: each given once
    assert sorted(given) == [t.pk for t in tasks]
    by = Counter(Task.objects.values_list("assignee__username", flat=True))
    assert by["annotator"] + by["target"] == 50


@pytest.mark.django_db(transaction=True)
def test_two_saves_of_the_same_version_one_wins(data_dir) -> None:
    world = build_world()
    world.project.labels = LABELS
    world.project.save()
    task = make_tasks(world.project, 1)[0]

    def save(who: str, x: float) -> Callable[[], object]:
        shape = BBox(type="bbox", label="car", x=x, y=1, w=5, h=5)
        return lambda: annotation_save(actor=world.actor(who), task_id=task.pk,
                                       shapes=[shape], if_match=0)

    results, errors = _race([save("owner", 1), save("reviewer", 2)])
    assert len(results) == 1
    assert [getattr(e, "code", e) for e in errors] == ["version_conflict"]
    assert all(isinstance(e, DomainError) for e in errors)
    assert AnnotationRevision.objects.filter(task=task).count() == 1
    assert Task.objects.get(pk=task.pk).version == 1
