"""The signed snapshot file, written and read as a stream: a 100k-task project takes the
same memory as a small one.

The file is the canonical JSON (signing.canonical) of
`{"format", "manifest", "public_key", "sha256", "signature"}`. Canonical keys are sorted, and
`tasks` sorts after every other manifest key, so the manifest is its header's keys, then the
task rows; its SHA-256 (what the signature covers) is known once the last row is written, and
the three keys that carry it sort after "manifest". One pass writes the file, one reads it.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from labelop.releases import signing

CHUNK = 1 << 20
MAX_VALUE = 256 << 20  # the largest single value (one task row) a reader buffers
_ENVELOPE = frozenset({"format", "public_key", "sha256", "signature"})
_NUMBER = frozenset("0123456789+-.eE")
_PREFIX = b'{"format":' + json.dumps(signing.FORMAT).encode() + b',"manifest":'


@dataclass
class Written:
    """A signed file spooled to a temporary file, and what it proves."""

    file: IO[bytes]
    header: dict[str, Any]  # the manifest without its tasks
    size: int
    sha256: str  # of the canonical manifest: what the signature covers
    signature: str

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        yield from iter(lambda: self.file.read(CHUNK), b"")


def write(header: dict[str, Any], rows: Iterable[dict[str, Any]], *,
          counts: Any = None) -> Written:
    """Sign `header` + its task `rows`. `counts(header)` may fill the header from what the
    rows showed (it runs after the last row, before the header is written)."""
    if any(key >= "tasks" for key in header):
        raise ValueError("every manifest key must sort before 'tasks'")
    with tempfile.TemporaryFile() as body:
        first = True
        for row in rows:
            body.write((b"" if first else b",") + signing.canonical(row))
            first = False
        if counts is not None:
            counts(header)
        head = signing.manifest_head(header)
        digest = hashlib.sha256(head)
        body.seek(0)
        for block in iter(lambda: body.read(CHUNK), b""):
            digest.update(block)
        digest.update(b"]}")
        sha256 = digest.hexdigest()
        signature = signing.signature_of(sha256)
        out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
        out.write(_PREFIX + head)
        body.seek(0)
        shutil.copyfileobj(body, out, CHUNK)
        out.write(b"]}," + signing.canonical({"public_key": signing.public_key_b64(),
                                              "sha256": sha256, "signature": signature})[1:])
        size = out.tell()
    return Written(file=out, header=header, size=size, sha256=sha256, signature=signature)


class Unreadable(ValueError):
    """Not a signed snapshot file: its JSON is broken, or it is not shaped like one."""


def _put(into: dict[str, Any], key: str, value: Any) -> None:
    if key in into:  # JSON readers disagree on which of two equal keys counts
        raise Unreadable(f"the key {key!r} appears twice")
    into[key] = value


class SignedFile:
    """A signed file read as a stream: `header` (the manifest without its tasks) at once,
    the task rows from `tasks()`, then `envelope` (format, public_key, sha256, signature)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._decode = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buf, self._pos, self._eof = "", 0, False
        self.envelope: dict[str, Any] = {}
        self.header: dict[str, Any] = {}
        self._consumed = False
        self._expect("{")
        while True:
            key = self._key()
            if key is None:
                raise Unreadable("the file has no manifest")
            if key == "manifest":
                break
            if key not in _ENVELOPE:
                raise Unreadable(f"the file has an unexpected key {key!r}")
            _put(self.envelope, key, self._value())
        self._expect("{")
        while (key := self._key()) != "tasks":
            if key is None:
                raise Unreadable("the manifest has no tasks")
            _put(self.header, key, self._value())
        self._expect("[")

    def tasks(self) -> Iterator[dict[str, Any]]:
        """Each task row in order (once); the envelope is complete after the last."""
        if self._consumed:
            raise RuntimeError("the tasks of a signed file are read once")
        self._consumed = True
        if self._peek() == "]":
            self._pos += 1
        else:
            while True:
                row = self._value()
                if not isinstance(row, dict):
                    raise Unreadable("a task row is not an object")
                yield row
                if self._next_of(",]") == "]":
                    break
        # "tasks" sorts last: the manifest ends with it. Anything after it would be read by
        # other JSON readers (the last of two equal keys wins) but is not what was hashed.
        self._expect("}")
        while (key := self._key()) is not None:
            if key not in _ENVELOPE:
                raise Unreadable(f"the file has an unexpected key {key!r}")
            _put(self.envelope, key, self._value())
        self._peek()
        if self._pos < len(self._buf) or self._more():
            raise Unreadable("something follows the end of the file's JSON")

    # -- a JSON object reader over a stream: the C scanner parses each value -------------

    def _more(self) -> bool:
        """Read one more chunk into the buffer; False at the end of the stream."""
        if self._eof:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self._eof = True
            text = self._decode.decode(b"", final=True)
        else:
            text = self._decode.decode(chunk)
        self._buf = self._buf[self._pos:] + text
        self._pos = 0
        return True

    def _peek(self) -> str:
        """The next non-blank character ('' at the end)."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n":
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return ""

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise Unreadable(f"expected {char!r} at character {self._pos}")
        self._pos += 1

    def _next_of(self, chars: str) -> str:
        found = self._peek()
        if not found or found not in chars:
            raise Unreadable(f"expected one of {chars!r}")
        self._pos += 1
        return found

    def _key(self) -> str | None:
        """The next key of the object being read, or None (and the object closed) at its end."""
        char = self._peek()
        if char == ",":
            self._pos += 1
            char = self._peek()
        if char == "}":
            self._pos += 1
            return None
        key = self._value()
        if not isinstance(key, str):
            raise Unreadable("an object key is not a string")
        self._expect(":")
        return key

    def _value(self) -> Any:
        """The next JSON value. A number at the buffer's end may be cut short ("1.5" of
        "1.5e3"), so a value is taken only once something that cannot continue a number
        follows it, or the stream ended."""
        self._peek()
        while True:
            try:
                value, end = self._json.raw_decode(self._buf, self._pos)
                if self._eof or (end < len(self._buf) and self._buf[end] not in _NUMBER):
                    self._pos = end
                    return value
            except json.JSONDecodeError as exc:
                # Cut short, the scanner stops near the buffer's end; well before it, the
                # JSON itself is broken.
                if self._eof or exc.pos + CHUNK < len(self._buf):
                    raise Unreadable(f"broken JSON: {exc.msg}") from None
            if len(self._buf) - self._pos > MAX_VALUE:
                raise Unreadable("a value in the file is larger than any snapshot holds")
            self._more()
