"""The instance's Ed25519 key: it signs snapshot manifests; anyone checks them with the
public key alone (GET /api/v1/instance/public-key, or the copy inside each signed file)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

FORMAT = "labelop-snapshot/1"


def canonical(value: Any) -> bytes:
    """One byte sequence per value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def _key_path() -> Path:
    from django.conf import settings

    return Path(settings.DATA_DIR) / "keys" / "snapshot-signing.pem"


def private_key() -> Ed25519PrivateKey:
    """Made on first use (mode 0600; concurrent first uses agree on one key)."""
    from labelop.config.env import write_once

    path = _key_path()
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_once(path, Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def public_key_b64() -> str:
    raw = private_key().public_key().public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def manifest_head(header: dict) -> bytes:
    """The canonical manifest up to its first task row: every other key sorts before
    "tasks", so the header's keys, then the opening of the task list."""
    return canonical(header)[:-1] + (b"," if header else b"") + b'"tasks":['


def signature_of(sha256: str) -> str:
    """The instance's Ed25519 signature over a manifest's SHA-256 (its 32 bytes), base64."""
    return base64.b64encode(private_key().sign(bytes.fromhex(sha256))).decode()


def verify(signed: bytes | Iterable[bytes], public_key: str | None = None) -> tuple[bool, str]:
    """(ok, reason) for a signed file, read as a stream of bytes alone. The manifest's
    canonical form is computed again from what the file says, row by row. Who signed is
    proven only against `public_key` (base64, as the instance publishes it): without one, the
    key inside the file is used and the reason names it, to be compared by hand."""
    from labelop.releases.manifest import SignedFile, Unreadable

    try:
        read = SignedFile([signed] if isinstance(signed, bytes) else signed)
        if any(key >= "tasks" for key in read.header):
            return False, "not a LabelOp signed snapshot: unexpected manifest keys"
        digest = hashlib.sha256(manifest_head(read.header))
        tasks = 0
        for row in read.tasks():
            digest.update((b"," if tasks else b"") + canonical(row))
            tasks += 1
        digest.update(b"]}")
        envelope = read.envelope
        if envelope.get("format") != FORMAT:
            return False, "not a LabelOp signed snapshot: no format"
        if digest.hexdigest() != envelope["sha256"]:
            return False, "the manifest's SHA-256 does not match: it was changed"
        if public_key is not None and public_key != envelope["public_key"]:
            return False, "signed by another key than the one given"
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(envelope["public_key"]))
        key.verify(base64.b64decode(envelope["signature"]), bytes.fromhex(envelope["sha256"]))
    except InvalidSignature:
        return False, "the signature does not match the manifest and the public key"
    except (Unreadable, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        return False, f"not a LabelOp signed snapshot: {exc}"
    if public_key is None:
        return True, (f"hash and signature verify ({tasks} tasks) with the key inside the "
                      f"file, {envelope['public_key']}: compare it with the instance's "
                      "(GET /api/v1/instance/public-key) or pass it with --public-key")
    return True, f"hash and signature verify ({tasks} tasks), signed by the given key"
