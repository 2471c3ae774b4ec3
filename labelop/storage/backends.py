"""Storage backends, a registry of classes that each declare their parameters.

A backend stores opaque objects under keys, each with an optional small metadata value (an
encrypted object's wrapped data key). Writes are atomic: a reader sees the whole new object
or none of it (local: write aside, fsync, rename; S3: a single PUT or a completed multipart
upload). Metadata lives where the store keeps it cheapest: in the object's own S3 metadata
(one request writes or reads both; re-wrapping is a server-side copy), beside the file on
disk. Secret parameters are declared so the caller can keep them encrypted.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from labelop.core.addresses import Refused, vetted_target
from labelop.core.errors import Invalid

READ_SIZE = 256 * 1024
META = ".dek"  # local metadata files: the object's key plus this suffix
S3_META = "labelop-dek"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,500}$")


class StorageError(Exception):
    """The backend could not do what was asked (unreachable, denied, missing)."""


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    secret: bool = False
    required: bool = True


def _b64(meta: bytes) -> str:  # S3 metadata travels as HTTP headers: ASCII only
    return base64.b64encode(meta).decode("ascii")


def _checked_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"not a valid object key: {key!r}")
    return key


class Backend(ABC):
    kind: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]

    def __init__(self, **params: Any) -> None:
        self.config = params

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        known = {p.name for p in cls.params}
        unknown = set(params) - known
        if unknown:
            raise Invalid(f"Unknown {cls.kind} parameters: {', '.join(sorted(unknown))}.",
                          code="bad_storage_params")
        missing = [p.name for p in cls.params if p.required and not params.get(p.name)]
        if missing:
            raise Invalid(f"Missing {cls.kind} parameters: {', '.join(missing)}.",
                          code="bad_storage_params")
        return {k: v for k, v in params.items() if v not in (None, "")}

    @abstractmethod
    def where(self) -> str:
        """Where the objects live, in words, for the storage report and the data path."""

    @abstractmethod
    def writer(self, key: str, meta: bytes | None = None
               ) -> contextlib.AbstractContextManager[IO[bytes]]:
        """A file to write the object into; it appears under `key` (with `meta`) only on
        clean exit."""

    @abstractmethod
    def open(self, key: str, start: int = 0, length: int | None = None
             ) -> tuple[bytes | None, Iterator[bytes]]:
        """The object's metadata and its bytes (from `start`, `length` of them) in pieces;
        StorageError if it is missing."""

    def read(self, key: str) -> Iterator[bytes]:
        return self.open(key)[1]

    @abstractmethod
    def get_meta(self, key: str) -> bytes | None: ...

    @abstractmethod
    def set_meta(self, key: str, meta: bytes) -> None:
        """Replace an object's metadata without rewriting its bytes through this process."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def list_objects(self, prefix: str = "") -> Iterator[tuple[str, float]]:
        """Every object's key and when it was last written (seconds since the epoch)."""

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        return (key for key, _ in self.list_objects(prefix))

    @abstractmethod
    def written(self, key: str) -> float | None:
        """When the object was last written (seconds since the epoch); None if it is gone."""

    def sweep(self) -> int:
        """Remove what crashed writes left behind; nothing to do where writes are atomic
        on the server (S3 shows no object until its upload completes)."""
        return 0

    def check(self) -> None:
        """Write, read and delete a probe object; raise StorageError if any step fails."""
        probe = f"labelop-probe/{os.urandom(8).hex()}"
        with self.writer(probe) as f:
            f.write(b"probe")
        if b"".join(self.read(probe)) != b"probe":
            raise StorageError("the probe object read back differently")
        self.delete(probe)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.writer(key) as f:
            f.write(data)

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self.read(key))


class LocalBackend(Backend):
    kind = "local"
    params = (Param("path", "Directory (absolute path)"),)

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        params = super().validate(params)
        if not os.path.isabs(str(params["path"])):
            raise Invalid("A local location needs an absolute directory path.",
                          code="bad_storage_params")
        return params

    @property
    def root(self) -> Path:
        return Path(self.config["path"])

    def _path(self, key: str) -> Path:
        return self.root / _checked_key(key)

    def where(self) -> str:
        return f"the directory {self.root} on this server"

    @contextlib.contextmanager
    def writer(self, key: str, meta: bytes | None = None) -> Iterator[IO[bytes]]:
        with self._file(key) as f:
            yield f
        if meta is not None:  # the object first: a key without its object is harmless
            self.set_meta(key, meta)

    @contextlib.contextmanager
    def _file(self, key: str) -> Iterator[IO[bytes]]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The writer's pid is in the name so that sweep() can tell a crashed write's leftover
        # from a write in progress.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".incoming-{os.getpid()}-")
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def open(self, key: str, start: int = 0, length: int | None = None
             ) -> tuple[bytes | None, Iterator[bytes]]:
        meta = self.get_meta(key)
        try:
            f = self._path(key).open("rb")
        except FileNotFoundError:
            raise StorageError(f"object {key} is missing") from None
        f.seek(start)
        return meta, self._chunks(f, length)

    @staticmethod
    def _chunks(f: IO[bytes], length: int | None) -> Iterator[bytes]:
        left = math.inf if length is None else length
        with f:
            while left > 0 and (chunk := f.read(int(min(left, READ_SIZE)))):
                left -= len(chunk)
                yield chunk

    def get_meta(self, key: str) -> bytes | None:
        try:
            return self._path(key + META).read_bytes()
        except FileNotFoundError:
            return None

    def set_meta(self, key: str, meta: bytes) -> None:
        with self._file(key + META) as f:
            f.write(meta)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def written(self, key: str) -> float | None:
        try:
            return self._path(key).stat().st_mtime
        except FileNotFoundError:
            return None

    def sweep(self) -> int:
        """Remove temporary files left by writers that died (kill -9, power loss)."""
        removed = 0
        for tmp in self.root.rglob(".incoming-*"):
            try:
                pid = int(tmp.name.split("-")[1])
                os.kill(pid, 0)
                continue  # still running: its write is in progress
            except (ValueError, IndexError, ProcessLookupError):
                pass
            except PermissionError:
                continue
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
        return removed

    def delete(self, key: str) -> None:
        for path in (self._path(key), self._path(key + META)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def list_objects(self, prefix: str = "") -> Iterator[tuple[str, float]]:
        base = self.root
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".incoming-") or name.endswith(META):
                    continue
                path = Path(dirpath, name)
                key = str(path.relative_to(base))
                if key.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                        yield key, path.stat().st_mtime


class S3Backend(Backend):
    kind = "s3"
    params = (
        Param("endpoint_url", "Endpoint URL (empty for AWS)", required=False),
        Param("bucket", "Bucket"),
        Param("prefix", "Key prefix", required=False),
        Param("region", "Region", required=False),
        Param("access_key_id", "Access key ID", secret=True),
        Param("secret_access_key", "Secret access key", secret=True),
    )

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        """An endpoint on the private network is the usual case (MinIO, Ceph beside the
        servers); one on a link-local address is where cloud metadata services answer, and
        the probe would send them a request: refused, as for model endpoints."""
        params = super().validate(params)
        if params.get("endpoint_url"):
            try:
                vetted_target(str(params["endpoint_url"]), allow_private_network=True)
            except Refused as exc:
                raise Invalid(f"The endpoint URL is refused: {exc}",
                              code="storage_endpoint_refused") from None
        return params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        import boto3
        from botocore.config import Config

        self.client = boto3.client(
            "s3", endpoint_url=params.get("endpoint_url") or None,
            region_name=params.get("region") or "us-east-1",
            aws_access_key_id=params["access_key_id"],
            aws_secret_access_key=params["secret_access_key"],
            config=Config(retries={"max_attempts": 3, "mode": "standard"},
                          connect_timeout=5, read_timeout=60),
        )
        self.bucket = params["bucket"]
        self.prefix = (params.get("prefix") or "").strip("/")

    def _key(self, key: str) -> str:
        key = _checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def where(self) -> str:
        endpoint = self.config.get("endpoint_url") or "AWS S3"
        prefix = f"/{self.prefix}" if self.prefix else ""
        return f"the bucket {self.bucket}{prefix} at {endpoint}"

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StorageError(f"S3 refused: {code}") from None
        except BotoCoreError as exc:
            raise StorageError(f"S3 unreachable: {exc}") from None

    @contextlib.contextmanager
    def writer(self, key: str, meta: bytes | None = None) -> Iterator[IO[bytes]]:
        # Spooled in memory up to 8 MiB, on disk beyond; upload_fileobj uses multipart for
        # large objects, and S3 shows nothing under the key until the upload completes.
        extra = {"Metadata": {S3_META: _b64(meta)}} if meta is not None else {}
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as f:
            yield f  # type: ignore[misc]
            f.seek(0)
            self._call(self.client.upload_fileobj, Fileobj=f, Bucket=self.bucket,
                       Key=self._key(key), ExtraArgs=extra)

    def open(self, key: str, start: int = 0, length: int | None = None
             ) -> tuple[bytes | None, Iterator[bytes]]:
        extra = {}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            extra["Range"] = f"bytes={start}-{end}"
        response = self._call(self.client.get_object, Bucket=self.bucket, Key=self._key(key),
                              **extra)
        return self._meta(response), self._chunks(response["Body"])

    @staticmethod
    def _meta(response: dict) -> bytes | None:
        value = response.get("Metadata", {}).get(S3_META)
        return base64.b64decode(value) if value is not None else None

    @staticmethod
    def _chunks(body: Any) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(READ_SIZE)
        finally:
            body.close()

    def get_meta(self, key: str) -> bytes | None:
        return self._meta(self._call(self.client.head_object, Bucket=self.bucket,
                                     Key=self._key(key)))

    def set_meta(self, key: str, meta: bytes) -> None:
        # A copy onto itself inside the bucket: the image bytes never pass through here.
        full = self._key(key)
        self._call(self.client.copy_object, Bucket=self.bucket, Key=full,
                   CopySource={"Bucket": self.bucket, "Key": full},
                   Metadata={S3_META: _b64(meta)}, MetadataDirective="REPLACE")

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def written(self, key: str) -> float | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:
            return None
        return head["LastModified"].timestamp()

    def list_objects(self, prefix: str = "") -> Iterator[tuple[str, float]]:
        paginator = self.client.get_paginator("list_objects_v2")
        full = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(f"{self.prefix}/") if self.prefix else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", []):
                yield item["Key"][strip:], item["LastModified"].timestamp()


BACKENDS: dict[str, type[Backend]] = {b.kind: b for b in (LocalBackend, S3Backend)}
