"""Reads for images, scoped by the policy (annotators: the images of their own tasks)."""

from __future__ import annotations

from labelop.assets.models import Asset
from labelop.core.pagination import Page, paginate
from labelop.permissions import Action, Actor, scope
from labelop.projects.models import Project


def asset_list(*, actor: Actor, project: Project, cursor: str | None = None, limit: int = 48
               ) -> Page[Asset]:
    assets = scope(actor, Action.IMAGE_VIEW, Asset.objects.all(), project=project)
    return paginate(assets.select_related("task"), cursor=cursor, limit=limit)
