"""Envelope encryption of stored objects: AES-256-GCM in chunks, data keys wrapped by a KEK.

Every object gets its own 256-bit data key (DEK, see data_key). The object is encrypted in 64 KiB
chunks so that nothing is ever buffered whole; each chunk's nonce is a random per-object
prefix plus the chunk number, and its associated data says whether it is the last chunk,
so chunks cannot be reordered, dropped or cut off the end without failing authentication.
The DEK is wrapped (AES-256-GCM) by a key-encryption key: the instance key (`server` mode)
or a key the customer holds (`customer` mode), with the object's key as associated data so
a wrapped DEK cannot be moved to another object. The wrapped DEK lives beside the object,
so a bucket plus its key is enough to recover the images.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK = 64 * 1024
TAG = 16
MAGIC = b"LOPE1"
HEADER = len(MAGIC) + 8  # magic + nonce prefix


class CorruptObject(Exception):
    """Ciphertext or wrapped key failed authentication: altered, truncated or wrong key."""


@dataclass(frozen=True)
class Kek:
    """A key-encryption key and its public identifier (never the key itself)."""

    id: str
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("a key-encryption key is 32 bytes (AES-256)")


def data_key(kek: Kek, object_key: str) -> bytes:
    """The data key of an object: HMAC-SHA256 of its key under the KEK, so it is unique per
    object and unpredictable without the KEK, yet two writers of the same object (the same
    content, as keys derive from it) pick the same key. Then whichever ciphertext and
    whichever wrapped key land last still belong together: nonces stay random per write."""
    return hmac.new(kek.key, b"labelop-dek:" + object_key.encode(), hashlib.sha256).digest()


def wrap(kek: Kek, dek: bytes, object_key: str) -> bytes:
    """The sidecar: the DEK encrypted under the KEK, bound to the object's key."""
    nonce = os.urandom(12)
    wrapped = AESGCM(kek.key).encrypt(nonce, dek, object_key.encode())
    return json.dumps({"v": 1, "kek": kek.id, "nonce": base64.b64encode(nonce).decode(),
                       "dek": base64.b64encode(wrapped).decode()}).encode()


def sidecar_kek_id(sidecar: bytes) -> str:
    try:
        return str(json.loads(sidecar)["kek"])
    except (ValueError, KeyError, TypeError):
        raise CorruptObject("the wrapped data key is unreadable") from None


def unwrap(kek: Kek, sidecar: bytes, object_key: str) -> bytes:
    try:
        doc = json.loads(sidecar)
        nonce, wrapped = base64.b64decode(doc["nonce"]), base64.b64decode(doc["dek"])
        return AESGCM(kek.key).decrypt(nonce, wrapped, object_key.encode())
    except (ValueError, KeyError, TypeError, InvalidTag):
        raise CorruptObject("the data key does not unwrap with this key") from None


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _frames(buffer: bytearray, size: int) -> tuple[list[bytes], int]:
    """Whole frames of `size` in `buffer` that are certainly not the last one."""
    count = (len(buffer) - 1) // size if buffer else 0
    return [bytes(buffer[i * size:(i + 1) * size]) for i in range(count)], count * size


def encrypt(chunks: Iterable[bytes], dek: bytes) -> Iterator[bytes]:
    """Encrypt a byte stream (any chunking) into header + sealed 64 KiB chunks."""
    aead, prefix = AESGCM(dek), os.urandom(8)
    yield MAGIC + prefix
    index, pending = 0, bytearray()
    for piece in chunks:
        pending += piece
        frames, used = _frames(pending, CHUNK)
        for frame in frames:
            yield aead.encrypt(_nonce(prefix, index), frame, b"\x00")
            index += 1
        del pending[:used]
    yield aead.encrypt(_nonce(prefix, index), bytes(pending), b"\x01")


def decrypt(chunks: Iterable[bytes], dek: bytes) -> Iterator[bytes]:
    """Decrypt what encrypt() produced, chunk by chunk; raise CorruptObject on any change."""
    aead = AESGCM(dek)
    buffer, prefix, index = bytearray(), b"", 0
    try:
        for piece in chunks:
            buffer += piece
            if not prefix:
                if len(buffer) < HEADER:
                    continue
                if buffer[: len(MAGIC)] != MAGIC:
                    raise CorruptObject("not an encrypted LabelOp object")
                prefix = bytes(buffer[len(MAGIC):HEADER])
                del buffer[:HEADER]
            frames, used = _frames(buffer, CHUNK + TAG)
            for frame in frames:
                yield aead.decrypt(_nonce(prefix, index), frame, b"\x00")
                index += 1
            del buffer[:used]
        if not prefix or len(buffer) < TAG:
            raise CorruptObject("the encrypted object is truncated")
        yield aead.decrypt(_nonce(prefix, index), bytes(buffer), b"\x01")
    except InvalidTag:
        raise CorruptObject("the encrypted object failed authentication") from None


def encrypted_size(plain_size: int) -> int:
    chunks = max(1, -(-plain_size // CHUNK))
    return HEADER + plain_size + chunks * TAG
