"""Storage locations and the objects in them: sealed credentials, envelope encryption,
atomic writes, key rotation. Every write of an object goes through object_put()."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import transaction

from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, DomainError, Invalid
from labelop.permissions import Action, Actor, require
from labelop.storage import crypto, keys
from labelop.storage.backends import BACKENDS, Backend, StorageError
from labelop.storage.models import Encryption, StorageLocation

_backends: dict[tuple, Backend] = {}


# ---------------------------------------------------------------- sealed credentials

def seal(secrets: dict[str, str]) -> str:
    """Encrypt a location's secret parameters with the instance key."""
    if not secrets:
        return ""
    kek, nonce = keys.instance_kek(), os.urandom(12)
    sealed = AESGCM(kek.key).encrypt(nonce, json.dumps(secrets).encode(), b"location-secrets")
    return json.dumps({"kek": kek.id, "nonce": base64.b64encode(nonce).decode(),
                       "data": base64.b64encode(sealed).decode()})


def unseal(text: str) -> dict[str, str]:
    if not text:
        return {}
    doc = json.loads(text)
    kek = keys.instance_kek_by_id(doc["kek"])
    try:
        plain = AESGCM(kek.key).decrypt(base64.b64decode(doc["nonce"]),
                                        base64.b64decode(doc["data"]), b"location-secrets")
    except InvalidTag:
        raise keys.KeyUnavailable("The storage credentials do not decrypt with the instance "
                                  "key.") from None
    return dict(json.loads(plain))


# ---------------------------------------------------------------- backends and keys

def backend_for(location: StorageLocation) -> Backend:
    """The location's backend (cached per process: an S3 client costs tens of ms)."""
    cache_key = (location.pk, location.kind, json.dumps(location.params, sort_keys=True),
                 location.sealed_secrets)
    if cache_key not in _backends:
        cls = BACKENDS[location.kind]
        _backends[cache_key] = cls(**location.params, **unseal(location.sealed_secrets))
    return _backends[cache_key]


def _write_kek(location: StorageLocation) -> crypto.Kek:
    if location.encryption == Encryption.CUSTOMER:
        return keys.customer_kek(location.customer_key_source,
                                 location.customer_key_fingerprint)
    return keys.instance_kek()


def _read_kek(location: StorageLocation, kek_id: str) -> crypto.Kek:
    if kek_id.startswith("server:"):
        return keys.instance_kek_by_id(kek_id)
    if kek_id == f"customer:{location.customer_key_fingerprint[:16]}":
        return keys.customer_kek(location.customer_key_source, location.customer_key_fingerprint)
    if location.next_key_fingerprint and kek_id == f"customer:{location.next_key_fingerprint[:16]}":
        return keys.customer_kek(location.next_key_source, location.next_key_fingerprint)
    raise keys.KeyUnavailable(f"Objects here are wrapped by {kek_id}, which is not this "
                              "location's key.")


# ---------------------------------------------------------------- objects

# LabelOp keeps its objects under p<project>/ in every location; the rest of a location (a
# bucket that is also an import source) is the customer's, never LabelOp's to import or sweep.
_OWN = re.compile(r"p\d+(/|$)")


def is_own_key(key: str) -> bool:
    """Whether a key (or a key prefix) lies in LabelOp's own part of a location."""
    return _OWN.match(key) is not None


def object_put(location: StorageLocation, key: str, *parts: Iterable[bytes]) -> int:
    """Store an object of one or more parts (each encrypted on its own, as the location
    says) atomically, with its wrapped data key as the object's metadata; return bytes
    written. Parts let one object hold an image and its thumbnail: one write, not two, and
    either is read alone (object_read's `sizes`). Rewriting the same key with the same
    content is harmless: the data key derives from the key (crypto.data_key), so any mix of
    two writers' ciphertext and wrapped key decrypts."""
    backend = backend_for(location)
    written = 0
    dek = meta = None
    if location.encryption != Encryption.NONE:
        kek = _write_kek(location)
        dek = crypto.data_key(kek, key)
        meta = crypto.wrap(kek, dek, key)
    with backend.writer(key, meta) as f:
        for part in parts:
            for piece in (part if dek is None else crypto.encrypt(part, dek)):
                f.write(piece)
                written += len(piece)
    return written


def _stored_size(location: StorageLocation, plain_size: int) -> int:
    if location.encryption == Encryption.NONE:
        return plain_size
    return crypto.encrypted_size(plain_size)


class ObjectUnavailable(DomainError):
    """A stored object cannot be read: missing, unreachable, or failing authentication."""

    status = 503
    code = "storage_object_unavailable"


def object_read(location: StorageLocation, key: str, sizes: Sequence[int] = (), part: int = 0
                ) -> Iterator[bytes]:
    """The object's plaintext in pieces; for an object of several parts, give the parts'
    plaintext `sizes` and the `part` to read. Key and storage problems raise here, before
    any byte is sent (KeyUnavailable when a customer key is withdrawn, else
    ObjectUnavailable)."""
    start = sum(_stored_size(location, size) for size in sizes[:part])
    length = _stored_size(location, sizes[part]) if sizes else None
    try:
        meta, chunks = backend_for(location).open(key, start, length)
        if location.encryption == Encryption.NONE:
            return chunks
        if meta is None:
            raise crypto.CorruptObject("the object has no wrapped data key")
        kek = _read_kek(location, crypto.sidecar_kek_id(meta))
        return crypto.decrypt(chunks, crypto.unwrap(kek, meta, key))
    except (StorageError, crypto.CorruptObject) as exc:
        raise ObjectUnavailable(f"The stored object cannot be read: {exc}.") from None


def object_delete(location: StorageLocation, key: str) -> None:
    backend_for(location).delete(key)


# ---------------------------------------------------------------- locations

def default_location() -> StorageLocation:
    """The instance's default location; on a new instance, an encrypted local directory."""
    location = StorageLocation.objects.filter(is_default=True).first()
    if location is not None:
        return location
    path = str((settings.DATA_DIR / "objects").resolve())
    with transaction.atomic():
        location, _ = StorageLocation.objects.get_or_create(
            name="local", defaults={"kind": "local", "params": {"path": path},
                                    "encryption": Encryption.SERVER, "is_default": True})
    return location


def _split(kind: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    cls = BACKENDS.get(kind)
    if cls is None:
        raise Invalid(f"Unknown storage kind {kind!r}; use one of {', '.join(BACKENDS)}.",
                      code="bad_storage_kind")
    params = cls.validate(params)
    secret_names = {p.name for p in cls.params if p.secret}
    return ({k: v for k, v in params.items() if k not in secret_names},
            {k: str(v) for k, v in params.items() if k in secret_names})


@transaction.atomic
def location_create(*, actor: Actor | None, name: str, kind: str, params: dict[str, Any],
                    encryption: Encryption, customer_key_source: str = "",
                    make_default: bool = False) -> StorageLocation:
    """Register a location after proving it works (a probe object is written and read)."""
    if actor is not None:
        require(actor, Action.STORAGE_MANAGE)
    encryption = Encryption(encryption)
    if StorageLocation.objects.filter(name=name).exists():
        raise Conflict(f"A location named {name!r} exists.", code="location_name_taken")
    public, secrets = _split(kind, params)
    fingerprint = ""
    if encryption == Encryption.CUSTOMER:
        fingerprint = keys.fingerprint(keys.read_customer_key(customer_key_source))
    elif customer_key_source:
        raise Invalid("A key source is only for customer-key encryption.", code="bad_key_source")
    location = StorageLocation(name=name, kind=kind, params=public, sealed_secrets=seal(secrets),
                               encryption=encryption, customer_key_source=customer_key_source,
                               customer_key_fingerprint=fingerprint,
                               created_by=actor.user if actor else None)
    location_check(location)
    if make_default:
        StorageLocation.objects.filter(is_default=True).update(is_default=False)
        location.is_default = True
    location.save()
    record(actor=actor, action=AuditAction.STORAGE_LOCATION_CREATED, target=f"location:{name}",
           details={"kind": kind, "where": backend_for(location).where(),
                    "encryption": encryption.value, "key_fingerprint": fingerprint[:16] or None,
                    "default": make_default})
    return location


def location_check(location: StorageLocation) -> None:
    """Prove the location can store and return an object; Invalid with the reason if not."""
    try:
        backend_for(location).check()
    except (StorageError, OSError) as exc:
        raise Invalid(f"The location does not work: {exc}", code="storage_unreachable") from None


def location_rewrap(*, actor: Actor | None, location: StorageLocation,
                    new_customer_key_source: str | None = None) -> int:
    """Re-wrap every data key of a location under its current key (or a new customer key),
    without touching the encrypted images. Safe to re-run after a crash: keys already
    wrapped by the target key are skipped. Returns how many data keys were re-wrapped."""
    if actor is not None:
        require(actor, Action.STORAGE_MANAGE)
    if location.encryption == Encryption.NONE:
        raise Invalid("This location stores objects unencrypted.", code="not_encrypted")
    backend = backend_for(location)
    if new_customer_key_source is not None:
        if location.encryption != Encryption.CUSTOMER:
            raise Invalid("Only customer-key locations take a new customer key.",
                          code="not_customer_key")
        new_key = keys.read_customer_key(new_customer_key_source)
        target = crypto.Kek(id=f"customer:{keys.fingerprint(new_key)[:16]}", key=new_key)
        location.next_key_source = new_customer_key_source
        location.next_key_fingerprint = keys.fingerprint(new_key)
        location.save(update_fields=["next_key_source", "next_key_fingerprint"])
    else:
        target = _write_kek(location)
    old = {}
    count = 0
    for object_key in backend.list_keys():
        meta = backend.get_meta(object_key)
        if meta is None:  # not encrypted (a probe, or an object imported from elsewhere)
            continue
        kek_id = crypto.sidecar_kek_id(meta)
        if kek_id == target.id:
            continue
        if kek_id not in old:
            old[kek_id] = _read_kek(location, kek_id)
        dek = crypto.unwrap(old[kek_id], meta, object_key)
        backend.set_meta(object_key, crypto.wrap(target, dek, object_key))
        count += 1
    with transaction.atomic():
        if new_customer_key_source is not None:
            location.customer_key_source = location.next_key_source
            location.customer_key_fingerprint = location.next_key_fingerprint
            location.next_key_source = location.next_key_fingerprint = ""
            location.save(update_fields=["customer_key_source", "customer_key_fingerprint",
                                         "next_key_source", "next_key_fingerprint"])
        record(actor=actor, action=AuditAction.STORAGE_KEY_ROTATED,
               target=f"location:{location.name}",
               details={"rewrapped": count, "key": target.id})
    return count


def instance_key_rotate(*, actor: Actor | None) -> dict[str, int]:
    """A new instance key: re-seal location credentials, re-wrap server-mode data keys."""
    if actor is not None:
        require(actor, Action.STORAGE_MANAGE)
    keys.instance_kek_rotate()
    counts = {}
    for location in StorageLocation.objects.all():
        secrets = unseal(location.sealed_secrets)
        StorageLocation.objects.filter(pk=location.pk).update(sealed_secrets=seal(secrets))
        location.refresh_from_db()
        if location.encryption == Encryption.SERVER:
            counts[location.name] = location_rewrap(actor=actor, location=location)
    return counts
