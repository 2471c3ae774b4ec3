"""The instance's Ed25519 key: it signs snapshot manifests; anyone checks them with the
public key alone (GET /api/v1/instance/public-key, or the copy inside each signed file)."""

from __future__ import annotations

import base64
import hashlib
import json
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


def sign(manifest: dict) -> bytes:
    """The signed file: the manifest, its SHA-256, the signature and the public key."""
    digest = hashlib.sha256(canonical(manifest)).hexdigest()
    signature = base64.b64encode(private_key().sign(bytes.fromhex(digest))).decode()
    return canonical({"format": FORMAT, "manifest": manifest, "sha256": digest,
                      "signature": signature, "public_key": public_key_b64()})


def verify(signed: bytes, public_key: str | None = None) -> tuple[bool, str]:
    """(ok, reason) for a signed file, from its bytes alone. Who signed is proven only
    against `public_key` (base64, as the instance publishes it): without one, the key inside
    the file is used and the reason names it, to be compared by hand."""
    try:
        envelope = json.loads(signed)
        manifest = envelope["manifest"]
        if not isinstance(manifest, dict) or not isinstance(manifest.get("tasks"), list):
            return False, "not a LabelOp signed snapshot: no manifest"
        digest = hashlib.sha256(canonical(manifest)).hexdigest()
        if digest != envelope["sha256"]:
            return False, "the manifest's SHA-256 does not match: it was changed"
        if public_key is not None and public_key != envelope["public_key"]:
            return False, "signed by another key than the one given"
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(envelope["public_key"]))
        key.verify(base64.b64decode(envelope["signature"]), bytes.fromhex(digest))
    except InvalidSignature:
        return False, "the signature does not match the manifest and the public key"
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return False, f"not a LabelOp signed snapshot: {exc}"
    tasks = len(manifest["tasks"])
    if public_key is None:
        return True, (f"hash and signature verify ({tasks} tasks) with the key inside the "
                      f"file, {envelope['public_key']}: compare it with the instance's "
                      "(GET /api/v1/instance/public-key) or pass it with --public-key")
    return True, f"hash and signature verify ({tasks} tasks), signed by the given key"
