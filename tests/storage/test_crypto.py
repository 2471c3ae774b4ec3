from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelop.storage import crypto

DEK = bytes(range(32))


def _cut(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3 * crypto.CHUNK + 10), st.integers(1, 200_000),
       st.integers(1, 200_000))
def test_round_trip_with_any_chunking(data: bytes, write_piece: int, read_piece: int) -> None:
    sealed = b"".join(crypto.encrypt(_cut(data, write_piece), DEK))
    assert len(sealed) == crypto.encrypted_size(len(data))
    assert b"".join(crypto.decrypt(_cut(sealed, read_piece), DEK)) == data


@pytest.mark.parametrize("damage", ["flip", "truncate_chunk", "truncate_byte", "swap", "extend"])
def test_any_change_to_the_ciphertext_is_detected(damage: str) -> None:
    data = os.urandom(3 * crypto.CHUNK + 100)
    sealed = bytearray(b"".join(crypto.encrypt([data], DEK)))
    frame = crypto.CHUNK + crypto.TAG
    if damage == "flip":
        sealed[crypto.HEADER + 10] ^= 1
    elif damage == "truncate_chunk":
        sealed = sealed[:crypto.HEADER + 2 * frame]  # whole chunks dropped from the end
    elif damage == "truncate_byte":
        sealed = sealed[:-1]
    elif damage == "swap":
        a = bytes(sealed[crypto.HEADER:crypto.HEADER + frame])
        sealed[crypto.HEADER:crypto.HEADER + frame] = sealed[crypto.HEADER + frame:
                                                            crypto.HEADER + 2 * frame]
        sealed[crypto.HEADER + frame:crypto.HEADER + 2 * frame] = a
    else:
        sealed += b"\x00" * 40

    with pytest.raises(crypto.CorruptObject):
        b"".join(crypto.decrypt([bytes(sealed)], DEK))


def test_a_wrapped_key_is_bound_to_its_object_and_its_kek() -> None:
    kek = crypto.Kek("server:a", os.urandom(32))
    sidecar = crypto.wrap(kek, DEK, "p1/abc")

    assert crypto.unwrap(kek, sidecar, "p1/abc") == DEK
    with pytest.raises(crypto.CorruptObject):
        crypto.unwrap(kek, sidecar, "p1/other")
    with pytest.raises(crypto.CorruptObject):
        crypto.unwrap(crypto.Kek("server:b", os.urandom(32)), sidecar, "p1/abc")
    assert DEK not in sidecar


def test_concurrent_first_use_agrees_on_one_instance_key(data_dir) -> None:
    import threading

    from labelop.storage import keys

    found, start = [], threading.Barrier(8)

    def first_use() -> None:
        start.wait()
        found.append(keys.instance_kek().id)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(found) == 8
    assert len(set(found)) == 1
    assert len(list((data_dir / "keys").glob("*.key"))) == 1
