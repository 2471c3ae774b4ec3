"""The signed file is written and read as a stream: whatever the chunk boundaries, the reader
sees what json.loads sees, and verification recomputes the signed hash from the rows."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelop.releases import manifest
from labelop.releases.signing import canonical, verify

pytestmark = pytest.mark.usefixtures("data_dir")

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
values = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12)
                      | st.floats(allow_nan=False, allow_infinity=False) | text,
                      lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(text, inner, max_size=4), max_leaves=12)
rows = st.lists(st.dictionaries(text, values, max_size=4).map(lambda d: {**d, "id": 1}),
                max_size=6)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=150, deadline=None)
@given(header=st.dictionaries(st.sampled_from(["counts", "labels", "name", "parent"]), values),
       rows=rows, cuts=st.lists(st.integers(0, 10**6), max_size=40))
def test_any_chunking_reads_back_what_was_signed(header: dict, rows: list[dict],
                                                 cuts: list[int]) -> None:
    written = manifest.write(dict(header), rows)
    with written.file:
        data = b"".join(written.chunks())
    whole = json.loads(data)
    assert whole["manifest"] == {**header, "tasks": rows}
    assert data == canonical(whole)  # the streamed file is the canonical form itself

    read = manifest.SignedFile(_chunks(data, cuts))
    assert read.header == header
    assert list(read.tasks()) == rows
    assert read.envelope == {k: whole[k] for k in ("format", "public_key", "sha256",
                                                   "signature")}
    assert verify(_chunks(data, cuts))[0] is True


@pytest.mark.parametrize("broken", [
    b"", b"[]", b'{"format":"x"}', b'{"manifest":{"name":"a"}}',
    b'{"manifest":{"tasks":[{"id":1},]}}', b'{"manifest":{"tasks":[1]}}',
    b'{"manifest":{"tasks":[]}} trailing', b'{"manifest":{"tasks":[{"id":1}', b"\xff\xfe"])
def test_a_broken_file_is_refused_with_a_reason(broken: bytes) -> None:
    ok, reason = verify(broken)
    assert ok is False
    assert reason.startswith("not a LabelOp signed snapshot")


def test_content_outside_what_was_signed_is_refused() -> None:
    written = manifest.write({"name": "v1"}, [{"id": 1, "label": "cat"}])
    with written.file:
        data = b"".join(written.chunks())
    assert verify(data)[0] is True
    forged_rows = data.replace(b',"public_key"', b',"tasks":[{"id":1,"label":"dog"}],"public_key"')
    twice = data.replace(b',"public_key"', b',"sha256":"00","public_key"')
    second = data.replace(b',"public_key"', b',"manifest":{"tasks":[]},"public_key"')
    for forged in (forged_rows, twice, second):
        ok, reason = verify(forged)
        assert ok is False, forged
        assert reason.startswith("not a LabelOp signed snapshot")
    deep = b'{"manifest":{"tasks":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}}"
    assert verify(deep)[0] is False
