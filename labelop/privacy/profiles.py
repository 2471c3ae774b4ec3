"""The sensitivity profiles as one declarative table, and a project's effective policy: its
profile, tightened control by control by its owners. The policy module and the services read
`policy_of(project)`; nothing else decides what a project allows."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from django.db.models import Q

from labelop.projects.models import Project, Sensitivity
from labelop.storage.models import Encryption, StorageLocation

# What exports may contain, weakest to strictest.
EXPORT_ORIGINALS = ("owner", "by_exception", "never")


@dataclass(frozen=True)
class Control:
    description: str
    # The values from weakest to strictest; a project may only move right.
    order: tuple[Any, ...]


CONTROLS: dict[str, Control] = {
    "annotators_assigned_only": Control("Annotators see only the tasks assigned to them",
                                        (True,)),
    "views_audited": Control("Every image view and download is audited", (True,)),
    "review_required": Control("An accepted review before a task can enter a snapshot",
                               (False, True)),
    "two_factor_required": Control("Members need a second factor (TOTP)", (False, True)),
    "note_required": Control("The operating note is required before the project is active",
                             (False, True)),
    "external_models_allowed": Control("Images may be sent to external (HTTP) model endpoints",
                                       (True, False)),
    "storage_encrypted": Control("Objects are encrypted at rest", (False, True)),
    "storage_local_or_customer_key": Control(
        "Objects stay on this server's disk, or elsewhere only under a key the customer holds",
        (False, True)),
    "exports_with_originals": Control(
        "Who may export original (unredacted) images: owners, by an approved exception, never",
        EXPORT_ORIGINALS),
    "raw_download_for_non_owners": Control(
        "Non-owners may download raw images outside the editor", (True, False)),
    # Not a row of the profile table: a tightening any project may choose, when even the
    # people labelling must not see what is redacted (they work on the rendition).
    "non_owners_see_redacted": Control(
        "Non-owners see only redacted renditions, in the editor too", (False, True)),
}


@dataclass(frozen=True)
class Profile:
    name: Sensitivity
    annotators_assigned_only: bool
    views_audited: bool
    review_required: bool  # False: a project setting (review settings)
    two_factor_required: bool
    note_required: bool  # False: recommended
    external_models_allowed: bool
    storage_encrypted: bool
    storage_local_or_customer_key: bool
    exports_with_originals: str
    raw_download_for_non_owners: bool
    non_owners_see_redacted: bool = False

    def controls(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}


PROFILES: dict[Sensitivity, Profile] = {
    Sensitivity.STANDARD: Profile(
        Sensitivity.STANDARD, annotators_assigned_only=True, views_audited=True,
        review_required=False, two_factor_required=False, note_required=False,
        external_models_allowed=True, storage_encrypted=False,
        storage_local_or_customer_key=False, exports_with_originals="owner",
        raw_download_for_non_owners=True),
    Sensitivity.RESTRICTED: Profile(
        Sensitivity.RESTRICTED, annotators_assigned_only=True, views_audited=True,
        review_required=True, two_factor_required=True, note_required=True,
        external_models_allowed=False, storage_encrypted=True,
        storage_local_or_customer_key=False, exports_with_originals="by_exception",
        raw_download_for_non_owners=False),
    Sensitivity.LOCAL_ONLY: Profile(
        Sensitivity.LOCAL_ONLY, annotators_assigned_only=True, views_audited=True,
        review_required=True, two_factor_required=True, note_required=True,
        external_models_allowed=False, storage_encrypted=True,
        storage_local_or_customer_key=True, exports_with_originals="never",
        raw_download_for_non_owners=False),
}


def strictness(control: str, value: Any) -> int:
    """How strict `value` is for `control` (its place in the control's order)."""
    order = CONTROLS[control].order
    if value not in order:
        raise ValueError(f"{control} takes one of {list(order)}")
    return order.index(value)


def policy_of(project: Project) -> Profile:
    """The project's effective policy: its profile with the owners' tightenings applied.
    A tightening weaker than the profile (left from a stricter past) is ignored."""
    profile = PROFILES[Sensitivity(project.sensitivity)]
    values = profile.controls()
    for control, value in (project.policy or {}).items():
        if control in values and strictness(control, value) > strictness(control,
                                                                          values[control]):
            values[control] = value
    if project.review_required and not values["review_required"]:
        values["review_required"] = True  # the standard profile's setting, switched on
    return replace(profile, **values)


def second_factor_required(sensitivity: str, policy: dict | None) -> bool:
    """Whether a project with this profile and these tightenings requires a second factor
    (policy_of's answer, from the two columns alone: the policy module reads them joined)."""
    return (PROFILES[Sensitivity(sensitivity)].two_factor_required
            or (policy or {}).get("two_factor_required") is True)


def second_factor_projects() -> Q:
    """The same rule as a filter on projects."""
    strict = [name for name, p in PROFILES.items() if p.two_factor_required]
    return Q(sensitivity__in=strict) | Q(policy__two_factor_required=True)


def model_refusal(project: Project, endpoint: Any) -> str | None:
    """Why the project's policy forbids sending its images to this model, or None."""
    from labelop.inference.models import Runs

    if endpoint.runs == Runs.EXTERNAL and not policy_of(project).external_models_allowed:
        return (f"{endpoint.name} runs outside this deployment, and this project's policy "
                f"({project.sensitivity}) keeps its images here: only local models may "
                "process them.")
    return None


def sees_redacted(project: Project, actor: Any) -> bool:
    """Whether this caller is shown the redacted rendition instead of the original."""
    from labelop.permissions import Role, role_in

    return (policy_of(project).non_owners_see_redacted
            and role_in(actor, project.pk) != Role.OWNER)


def download_refusal(project: Project, actor: Any, *, in_page: bool) -> str | None:
    """Why the policy refuses this caller the original image, or None. "Inside the editor"
    is a browser session drawing it into a page (the browser's own Sec-Fetch-Dest: image);
    an API token, or the address bar, is a download."""
    from labelop.permissions import Role, role_in

    if policy_of(project).raw_download_for_non_owners or (in_page and actor.token is None):
        return None
    if role_in(actor, project.pk) == Role.OWNER:
        return None
    return ("This project's policy keeps original images inside the editor for everyone but "
            "its owners: open the task in the browser instead of downloading the image.")


def storage_refusal(project: Project, location: StorageLocation) -> str | None:
    """Why the project's policy forbids this location, or None if it is allowed."""
    policy = policy_of(project)
    if policy.storage_encrypted and location.encryption == Encryption.NONE:
        return (f"This project needs storage encrypted at rest; {location.name} stores objects "
                "unencrypted.")
    if (policy.storage_local_or_customer_key and location.kind != "local"
            and location.encryption != Encryption.CUSTOMER):
        return ("This project keeps objects on this server's disk or, elsewhere, only under a "
                f"key the customer holds; {location.name} is neither.")
    return None
