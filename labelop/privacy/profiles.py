"""The sensitivity profiles as one declarative table. The policy and the services read it;
nothing else decides what a profile allows."""

from __future__ import annotations

from dataclasses import dataclass

from labelop.projects.models import Sensitivity
from labelop.storage.models import Encryption, StorageLocation


@dataclass(frozen=True)
class Profile:
    name: Sensitivity
    storage_encrypted: bool  # objects encrypted at rest
    storage_local_or_customer_key: bool  # local disk, or only ciphertext under a customer key
    review_required: bool  # an accepted review before a task enters a snapshot (else a setting)


PROFILES: dict[Sensitivity, Profile] = {
    Sensitivity.STANDARD: Profile(Sensitivity.STANDARD, storage_encrypted=False,
                                  storage_local_or_customer_key=False, review_required=False),
    Sensitivity.RESTRICTED: Profile(Sensitivity.RESTRICTED, storage_encrypted=True,
                                    storage_local_or_customer_key=False, review_required=True),
    Sensitivity.LOCAL_ONLY: Profile(Sensitivity.LOCAL_ONLY, storage_encrypted=True,
                                    storage_local_or_customer_key=True, review_required=True),
}


def storage_refusal(sensitivity: str, location: StorageLocation) -> str | None:
    """Why the profile forbids this location, or None if it is allowed."""
    profile = PROFILES[Sensitivity(sensitivity)]
    if profile.storage_encrypted and location.encryption == Encryption.NONE:
        return (f"A {profile.name.value} project needs storage encrypted at rest; "
                f"{location.name} stores objects unencrypted.")
    if (profile.storage_local_or_customer_key and location.kind != "local"
            and location.encryption != Encryption.CUSTOMER):
        return (f"A {profile.name.value} project keeps objects on this server's disk or, "
                f"elsewhere, only under a key the customer holds; {location.name} is neither.")
    return None
