"""The data path: where a project's images go and who can see them, in plain language,
generated from the live configuration every time (never typed by hand)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count

from labelop.annotations.models import Task
from labelop.permissions import Action, Actor, Role, require
from labelop.privacy.notes import current as current_note
from labelop.privacy.profiles import CONTROLS, PROFILES, model_refusal, policy_of
from labelop.projects.models import Membership, Project, Sensitivity
from labelop.storage.models import StorageLocation
from labelop.storage.selectors import key_holder, where
from labelop.storage.services import default_location

_EXPORTS = {
    "owner": "Owners may export original images; others export annotations or redacted images.",
    "by_exception": "Exports carry redacted images or annotations only; original images leave "
                    "only through an exception another owner approved, used once.",
    "never": "Exports carry redacted images or annotations only, never original images.",
}


def data_path(*, actor: Actor, project: Project) -> list[dict]:
    """Sections of statements: storage, processing, people, exports, rules."""
    require(actor, Action.PRIVACY_REPORT_VIEW, project)
    policy = policy_of(project)
    return [
        {"title": "Where the images are", "lines": _storage(project)},
        {"title": "What may process them", "lines": _processing(project)},
        {"title": "Who can see what", "lines": _people(project)},
        {"title": "What an export may contain",
         "lines": [_EXPORTS[policy.exports_with_originals]]},
        {"title": f"Rules of this project ({project.sensitivity} profile)",
         "lines": _rules(project)},
    ]


def _storage(project: Project) -> list[str]:
    current = project.storage_location or default_location()
    used = set(project.assets.values_list("location", flat=True).distinct())
    lines = [f"New images are stored in {current.name}: {where(current)}. "
             f"Who holds the key: {key_holder(current)}."]
    for location in StorageLocation.objects.filter(pk__in=used - {current.pk}).order_by("name"):
        lines.append(f"Earlier images are also in {location.name}: {where(location)}. "
                     f"Who holds the key: {key_holder(location)}.")
    lines.append("Metadata (EXIF, GPS, XMP, IPTC, comments) is removed from every image when "
                 "it arrives; the decoded pixels are kept as they were.")
    return lines


def _processing(project: Project) -> list[str]:
    from urllib.parse import urlsplit

    from labelop.inference.models import ModelEndpoint, Prediction, Runs

    allowed: list[str] = []
    refused: list[str] = []
    for model in ModelEndpoint.objects.order_by("name"):
        where_it_runs = ("on this server" if model.runs == Runs.LOCAL
                         else f"externally, at {urlsplit(model.url).hostname}")
        (refused if model_refusal(project, model) else allowed).append(
            f"{model.name} (runs {where_it_runs})")
    lines = [f"Models that may process its images: {', '.join(allowed)}." if allowed else
             "No model may process this project's images; only people do, in the editor."]
    if refused:
        lines.append(f"Models this project's policy forbids: {', '.join(refused)}.")
    lines.append("External (HTTP) model endpoints are allowed by the policy."
                 if policy_of(project).external_models_allowed
                 else "External (HTTP) model endpoints are forbidden: images never leave this "
                      "server for processing.")
    sent = (Prediction.objects.filter(task__project=project, runs=Runs.EXTERNAL)
            .values_list("model", flat=True).distinct())
    if sent:
        lines.append(f"Images of this project were sent to external models: "
                     f"{', '.join(sorted(set(sent)))}.")
    return lines


def _people(project: Project) -> list[str]:
    members: dict[str, list[str]] = defaultdict(list)
    for name, role in (Membership.objects.filter(project=project, user__is_active=True)
                       .order_by("user__username").values_list("user__username", "role")):
        members[role].append(name)
    assigned = dict(Task.objects.filter(project=project, assignee__isnull=False)
                    .values_list("assignee__username").annotate(n=Count("id")))
    total = Task.objects.filter(project=project).count()
    sees = {
        Role.OWNER: f"every task and image of the project ({total} tasks), its members, "
                    "storage and audit log",
        Role.REVIEWER: f"every task and image of the project ({total} tasks) and the review "
                       "and escalation queues",
        Role.ANNOTATOR: "only the tasks assigned to them, and their images",
    }
    lines = []
    for role in Role:
        people = members.get(role.value, [])
        if role == Role.ANNOTATOR and people:
            named = ", ".join(f"{p} ({assigned.get(p, 0)} tasks)" for p in people)
        else:
            named = ", ".join(people) or "nobody"
        lines.append(f"{role.value.capitalize()}s ({len(people)}): {named} — see {sees[role]}.")
    lines.append("Site admins manage the instance but see no project data unless they are "
                 "members.")
    return lines


def _rules(project: Project) -> list[str]:
    policy = policy_of(project).controls()
    profile = PROFILES[Sensitivity(project.sensitivity)].controls()
    lines = []
    for name, control in CONTROLS.items():
        value = policy[name]
        said = ("yes" if value is True else "no" if value is False
                else value.replace("_", " "))
        tightened = " (tightened by the owners)" if value != profile[name] else ""
        lines.append(f"{control.description}: {said}{tightened}.")
    note = current_note(project)
    lines.append(f"Operating note: version {note.version}." if note
                 else "Operating note: not written yet.")
    return lines


def as_markdown(project: Project, sections: list[dict]) -> str:
    out = [f"# Data path: {project.name}", ""]
    for section in sections:
        out += [f"## {section['title']}", ""] + [f"- {line}" for line in section["lines"]] + [""]
    return "\n".join(out)
