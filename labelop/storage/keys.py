"""Where key-encryption keys come from: the instance keyring, and keys customers hold.

The instance keyring lives in `<data dir>/keys/` (one file per key, mode 0600, and a
`current` pointer); rotation adds a key and re-wraps, old keys stay readable until retired.
A customer key is never stored by LabelOp: the location records where to read it (an
environment variable or a file the operator mounts) and the SHA-256 fingerprint it must
have. Take the key away and that location's objects cannot be decrypted; put it back and
they can.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings

from labelop.core.errors import DomainError, Invalid
from labelop.storage.crypto import Kek


class KeyUnavailable(DomainError):
    status = 503
    code = "storage_key_unavailable"


def fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"labelop-kek:" + key).hexdigest()


def _decode_key(text: bytes, where: str) -> bytes:
    """32 raw bytes, or 32 bytes as hex or base64 text."""
    if len(text) == 32:
        return text
    stripped = text.strip()
    candidates = []
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        candidates.append(bytes.fromhex(stripped.decode("ascii")))
    with contextlib.suppress(ValueError, binascii.Error):
        candidates.append(base64.b64decode(stripped, validate=True))
    for key in candidates:
        if len(key) == 32:
            return key
    raise Invalid(f"{where} does not hold a 256-bit key (32 bytes, raw, hex or base64).",
                  code="bad_key")


# ---------------------------------------------------------------- instance keyring

def _keyring_dir() -> Path:
    path = Path(settings.DATA_DIR) / "keys"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _write_secret(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """Write a 0600 file atomically. With replace=False only the first writer wins (across
    threads and processes): returns False if the file already existed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _server_kek(key: bytes) -> Kek:
    return Kek(id=f"server:{fingerprint(key)[:16]}", key=key)


def instance_kek() -> Kek:
    """The current instance key, created on first use."""
    ring = _keyring_dir()
    current = ring / "current"
    if not current.exists():  # first use: many threads or processes may race to here
        key = os.urandom(32)
        kek = _server_kek(key)
        key_file = ring / f"{kek.id.split(':')[1]}.key"
        _write_secret(key_file, base64.b64encode(key))
        if not _write_secret(current, kek.id.encode(), replace=False):
            key_file.unlink()  # another writer's key became current; ours was never used
    kek_id = current.read_text().strip()
    return instance_kek_by_id(kek_id)


def instance_kek_by_id(kek_id: str) -> Kek:
    path = _keyring_dir() / f"{kek_id.removeprefix('server:')}.key"
    if not kek_id.startswith("server:") or not path.exists():
        raise KeyUnavailable(f"The instance key {kek_id} is not in the keyring "
                             f"({_keyring_dir()}).")
    return _server_kek(_decode_key(path.read_bytes(), str(path)))


def instance_kek_rotate() -> Kek:
    """Add a new instance key and make it current (callers then re-wrap)."""
    instance_kek()
    key = os.urandom(32)
    kek = _server_kek(key)
    _write_secret(_keyring_dir() / f"{kek.id.split(':')[1]}.key", base64.b64encode(key))
    _write_secret(_keyring_dir() / "current", kek.id.encode())
    return kek


# ---------------------------------------------------------------- customer keys

def parse_source(source: str) -> tuple[str, str]:
    kind, _, ref = source.partition(":")
    if kind not in ("env", "file") or not ref:
        raise Invalid("A customer key source is 'env:VARIABLE' or 'file:/absolute/path'.",
                      code="bad_key_source")
    if kind == "file" and not os.path.isabs(ref):
        raise Invalid("A customer key file must be an absolute path.", code="bad_key_source")
    return kind, ref


def read_customer_key(source: str) -> bytes:
    """The key material at `source`, or KeyUnavailable if it is not there now."""
    kind, ref = parse_source(source)
    if kind == "env":
        raw = os.environ.get(ref)
        if not raw:
            raise KeyUnavailable(f"The customer key is withdrawn: ${ref} is not set.")
        return _decode_key(raw.encode(), f"${ref}")
    try:
        data = Path(ref).read_bytes()
    except OSError:
        raise KeyUnavailable(f"The customer key is withdrawn: {ref} cannot be read.") from None
    return _decode_key(data, ref)


def customer_kek(source: str, expected_fingerprint: str) -> Kek:
    key = read_customer_key(source)
    if fingerprint(key) != expected_fingerprint:
        raise KeyUnavailable("The customer key at its source is not the key this location was "
                             "set up with (fingerprint mismatch).")
    return Kek(id=f"customer:{expected_fingerprint[:16]}", key=key)
