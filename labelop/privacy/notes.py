"""Reading and publishing the operating note."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, Invalid
from labelop.permissions import Action, Actor, require
from labelop.privacy.models import QUESTIONS, OperatingNote
from labelop.projects.models import Project


def current(project: Project) -> OperatingNote | None:
    return OperatingNote.objects.filter(project=project).order_by("-version").first()


def note_get(*, actor: Actor, project: Project, version: int | None = None
             ) -> OperatingNote | None:
    require(actor, Action.PROJECT_VIEW, project)  # every member reads it
    if version is None:
        return current(project)
    return OperatingNote.objects.filter(project=project, version=version).first()


def note_publish(*, actor: Actor, project: Project, answers: dict[str, str],
                 based_on: int | None = None) -> OperatingNote:
    """A new version of the note; all four answers are required. `based_on` names the
    version the writer started from, so that two owners editing at once do not silently
    replace each other's words."""
    require(actor, Action.NOTE_EDIT, project)
    missing = [question for field, question, _ in QUESTIONS if not answers.get(field, "").strip()]
    if missing:
        raise Invalid(f"Answer every question; unanswered: {' '.join(missing)}",
                      code="note_incomplete", missing=missing)
    try:
        with transaction.atomic():
            latest = current(project)
            version = latest.version + 1 if latest else 1
            if based_on is not None and based_on != version - 1:
                raise Conflict(f"The note moved on to version {version - 1} while you wrote; "
                               "read it and write again.", code="version_conflict",
                               current=version - 1)
            note = OperatingNote.objects.create(
                project=project, version=version, author=actor.user, author_name=actor.name,
                **{field: answers[field].strip() for field, _, _ in QUESTIONS})
            changed = [f for f, _, _ in QUESTIONS
                       if latest is None or getattr(latest, f) != getattr(note, f)]
            record(actor=actor, action=AuditAction.NOTE_PUBLISHED, project=project,
                   target=f"project:{project.pk}",
                   details={"version": version, "changed": changed})
    except IntegrityError:  # another owner published the same version number first
        raise Conflict("Another owner published the note at the same moment; read it and "
                       "write again.", code="version_conflict") from None
    return note
