"""One uploaded label file, a zip or a single plain file, read in memory member by member.
Nothing is ever extracted to disk, so a member named "../../etc/passwd" is only a name; sizes
are counted as the bytes come out, because a decompression bomb's header lies."""

from __future__ import annotations

import lzma
import zipfile
import zlib
from pathlib import Path
from types import TracebackType
from typing import IO

from labelop.releases.formats import FormatError

MiB = 1024 * 1024
MEMBER_CAP = 512 * MiB
TOTAL_CAP = 2048 * MiB
MAX_MEMBERS = 1_000_000
CHUNK = MiB
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members; an empty zip
# What a failing member can raise while it decompresses: bad data, a CRC mismatch, an
# unsupported method, a truncated file.
BROKEN = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError, EOFError,
          OSError, ValueError, RuntimeError)


def safe_name(raw: str) -> str:
    """A member name as a plain relative path: forward slashes, no "..", no root or drive."""
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in {"", ".", ".."}]
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":
        parts = parts[1:]
    return "/".join(parts)


def _junk(name: str) -> bool:
    """What macOS's Finder adds to the zips it makes: resource forks, not label files."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1].startswith("._")


class Archive:
    """The upload at `path`: its file names, and each one's bytes within the caps."""

    def __init__(self, path: str | Path, *, name: str | None = None,
                 member_cap: int = MEMBER_CAP, total_cap: int = TOTAL_CAP,
                 max_members: int = MAX_MEMBERS) -> None:
        self.path = Path(path)
        self.member_cap, self.total_cap = member_cap, total_cap
        self.plain_name = safe_name(name or "") or "upload"
        self._read_so_far = 0
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, zipfile.ZipInfo] = {}
        with self.path.open("rb") as f:
            if f.read(4) in ZIP_MAGIC:
                self._open_zip(max_members)

    def _open_zip(self, max_members: int) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
        except BROKEN as exc:
            raise FormatError(f"The upload looks like a zip but cannot be opened ({exc})."
                              ) from None
        infos = self._zip.infolist()
        if len(infos) > max_members:
            self._zip.close()
            raise FormatError(f"The zip holds {len(infos)} files; at most {max_members} are read.")
        for info in infos:
            name = safe_name(info.filename)
            if name and not info.is_dir() and not _junk(name):
                self._members.setdefault(name, info)  # a repeated name: the first one counts

    @property
    def is_zip(self) -> bool:
        return self._zip is not None

    def names(self) -> list[str]:
        return list(self._members) if self._zip is not None else [self.plain_name]

    def read(self, name: str, *, limit: int | None = None) -> bytes:
        """The member's bytes (the whole upload for a plain file); FormatError past a cap,
        `limit` narrowing the per-file cap for files that are small by nature."""
        cap = min(limit or self.member_cap, self.member_cap)
        if self._zip is None:
            if name != self.plain_name:
                raise KeyError(name)
            with self.path.open("rb") as f:
                return self._drain(f, name, cap)
        info = self._members[name]
        if info.flag_bits & 0x1:
            raise FormatError(f"{name} is encrypted in the zip; upload it without a password.")
        if info.file_size > cap:
            raise self._too_big(name, cap)
        try:
            with self._zip.open(info) as f:
                return self._drain(f, name, cap)
        except BROKEN as exc:
            raise FormatError(f"{name} cannot be unpacked from the zip ({exc}).") from None

    def _drain(self, f: IO[bytes], name: str, cap: int) -> bytes:
        chunks, size = [], 0
        while block := f.read(min(CHUNK, cap + 1 - size)):
            size += len(block)
            if size > cap:
                raise self._too_big(name, cap)
            self._read_so_far += len(block)
            if self._read_so_far > self.total_cap:
                raise FormatError(f"The upload unpacks to more than {self.total_cap // MiB} MiB; "
                                  "split it into smaller uploads.")
            chunks.append(block)
        return b"".join(chunks)

    @staticmethod
    def _too_big(name: str, cap: int) -> FormatError:
        shown = f"{cap // MiB} MiB" if cap >= MiB else f"{cap} bytes"
        return FormatError(f"{name} unpacks to more than {shown}; label files are never that big.")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
