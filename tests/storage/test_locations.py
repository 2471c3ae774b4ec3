"""Locations on a real disk and a real S3-compatible server; keys the customer holds."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import boto3
import pytest

from labelop.storage import services
from labelop.storage.keys import KeyUnavailable, fingerprint
from labelop.storage.models import Encryption, StorageLocation
from tests.conftest import World, api_for
from tests.images import jpeg

pytestmark = pytest.mark.usefixtures("data_dir")
PLAIN = os.urandom(200_000)


def _local(tmp_path: Path, encryption: Encryption, **kw) -> StorageLocation:
    return services.location_create(actor=None, name=f"disk-{encryption}", kind="local",
                                    params={"path": str(tmp_path / f"objects-{encryption}")},
                                    encryption=encryption, **kw)


def _files_text(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("encryption", [Encryption.SERVER, Encryption.NONE])
def test_local_objects_round_trip_and_ciphertext_hides_the_plaintext(
        db, tmp_path: Path, encryption: Encryption) -> None:
    location = _local(tmp_path, encryption)

    services.object_put(location, "p1/obj", [PLAIN[:1000], PLAIN[1000:]])

    assert b"".join(services.object_read(location, "p1/obj")) == PLAIN
    on_disk = _files_text(Path(location.params["path"]))
    assert (PLAIN[5000:5064] in on_disk) is (encryption == Encryption.NONE)


def test_s3_objects_are_ciphertext_in_the_bucket(db, bucket: dict) -> None:
    location = services.location_create(actor=None, name="bucket", kind="s3", params=bucket,
                                        encryption=Encryption.SERVER)
    image = jpeg(seed=3, size=(300, 200))

    services.object_put(location, "p1/img", [image])

    assert b"".join(services.object_read(location, "p1/img")) == image
    raw = boto3.client("s3", endpoint_url=bucket["endpoint_url"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    stored = raw.get_object(Bucket=bucket["bucket"], Key="p1/img")["Body"].read()
    assert image[100:164] not in stored
    assert stored.startswith(b"LOPE1")
    keys = {o["Key"] for o in raw.list_objects_v2(Bucket=bucket["bucket"])["Contents"]}
    assert keys == {"p1/img"}  # the probe object was removed
    meta = raw.head_object(Bucket=bucket["bucket"], Key="p1/img")["Metadata"]
    assert set(meta) == {"labelop-dek"}  # the wrapped data key travels with the object


def test_s3_credentials_are_sealed_in_the_database(db, bucket: dict) -> None:
    location = services.location_create(actor=None, name="bucket", kind="s3", params=bucket,
                                        encryption=Encryption.SERVER)
    row = StorageLocation.objects.filter(pk=location.pk).values().get()
    assert "secret_access_key" not in row["params"]
    assert "testing" not in row["sealed_secrets"]
    assert services.unseal(row["sealed_secrets"])["secret_access_key"] == "testing"


def test_an_unreachable_location_is_refused_with_the_reason(db) -> None:
    from labelop.core.errors import Invalid

    with pytest.raises(Invalid) as refused:
        services.location_create(actor=None, name="nowhere", kind="s3", params={
            "endpoint_url": "http://127.0.0.1:9", "bucket": "b", "access_key_id": "a",
            "secret_access_key": "b"}, encryption=Encryption.SERVER)
    assert refused.value.code == "storage_unreachable"
    assert not StorageLocation.objects.filter(name="nowhere").exists()


def _key_env(monkeypatch, name: str) -> bytes:
    key = os.urandom(32)
    monkeypatch.setenv(name, base64.b64encode(key).decode())
    return key


def test_withdrawing_a_customer_key_makes_objects_unreadable_until_it_returns(
        db, tmp_path: Path, monkeypatch) -> None:
    key = _key_env(monkeypatch, "LOP_TEST_KEY")
    location = _local(tmp_path, Encryption.CUSTOMER, customer_key_source="env:LOP_TEST_KEY")
    services.object_put(location, "p1/obj", [PLAIN])
    assert location.customer_key_fingerprint == fingerprint(key)
    assert base64.b64encode(key).decode() not in str(StorageLocation.objects.values().get())

    monkeypatch.delenv("LOP_TEST_KEY")
    with pytest.raises(KeyUnavailable, match="withdrawn"):
        services.object_read(location, "p1/obj")
    monkeypatch.setenv("LOP_TEST_KEY", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(KeyUnavailable, match="fingerprint"):
        services.object_read(location, "p1/obj")

    monkeypatch.setenv("LOP_TEST_KEY", key.hex())  # back (in another encoding)
    assert b"".join(services.object_read(location, "p1/obj")) == PLAIN


def test_customer_key_rotation_rewraps_without_reencrypting(db, tmp_path: Path,
                                                             monkeypatch) -> None:
    _key_env(monkeypatch, "LOP_OLD_KEY")
    location = _local(tmp_path, Encryption.CUSTOMER, customer_key_source="env:LOP_OLD_KEY")
    for i in range(3):
        services.object_put(location, f"p1/obj{i}", [PLAIN])
    root = Path(location.params["path"])
    ciphertext_before = (root / "p1/obj0").read_bytes()
    new_key_file = tmp_path / "new.key"
    new_key_file.write_bytes(os.urandom(32))

    count = services.location_rewrap(actor=None, location=location,
                                     new_customer_key_source=f"file:{new_key_file}")
    monkeypatch.delenv("LOP_OLD_KEY")  # the old key is gone for good

    assert count == 3
    assert (root / "p1/obj0").read_bytes() == ciphertext_before  # images untouched
    location.refresh_from_db()
    assert location.customer_key_source == f"file:{new_key_file}"
    assert b"".join(services.object_read(location, "p1/obj2")) == PLAIN
    assert services.location_rewrap(actor=None, location=location) == 0  # nothing left


def test_instance_key_rotation_rewraps_server_locations_and_reseals(db, tmp_path: Path,
                                                                    bucket: dict) -> None:
    local = _local(tmp_path, Encryption.SERVER)
    remote = services.location_create(actor=None, name="bucket", kind="s3", params=bucket,
                                      encryption=Encryption.SERVER)
    services.object_put(local, "p1/a", [PLAIN])
    services.object_put(remote, "p1/b", [PLAIN])
    raw = boto3.client("s3", endpoint_url=bucket["endpoint_url"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    before = raw.get_object(Bucket=bucket["bucket"], Key="p1/b")

    counts = services.instance_key_rotate(actor=None)

    assert counts == {"disk-server": 1, "bucket": 1}
    after = raw.get_object(Bucket=bucket["bucket"], Key="p1/b")
    assert after["Body"].read() == before["Body"].read()  # ciphertext untouched
    assert after["Metadata"] != before["Metadata"]  # the data key re-wrapped
    services._backends.clear()
    remote.refresh_from_db()
    assert b"".join(services.object_read(remote, "p1/b")) == PLAIN
    assert b"".join(services.object_read(local, "p1/a")) == PLAIN


def test_a_missing_or_keyless_object_is_a_clear_refusal(db, tmp_path: Path) -> None:
    location = _local(tmp_path, Encryption.SERVER)
    services.object_put(location, "p1/obj", [PLAIN])
    (Path(location.params["path"]) / "p1/obj.dek").unlink()

    with pytest.raises(services.ObjectUnavailable, match="no wrapped data key"):
        services.object_read(location, "p1/obj")
    with pytest.raises(services.ObjectUnavailable, match="missing"):
        services.object_read(location, "p1/other")


def test_locations_api_is_for_site_admins(world: World, tmp_path: Path) -> None:
    body = {"name": "scans", "kind": "local", "params": {"path": str(tmp_path / "scans")},
            "encryption": "server"}

    assert api_for(world.users["owner"]).post("/storage/locations", body).status_code == 403
    created = api_for(world.users["site_admin"]).post("/storage/locations", body)

    assert created.status_code == 201
    assert created.json()["key_holder"].startswith("this LabelOp instance")
    assert created.json()["where"] == f"the directory {tmp_path / 'scans'} on this server"


def test_two_writers_of_one_object_never_leave_a_mismatched_pair(db, tmp_path: Path) -> None:
    """Writers of the same content race (duplicates in one import): any mix of one's
    ciphertext with the other's wrapped key must still decrypt."""
    location = _local(tmp_path, Encryption.SERVER)
    root = Path(location.params["path"])
    services.object_put(location, "p1/same", [PLAIN])
    first = ((root / "p1/same").read_bytes(), (root / "p1/same.dek").read_bytes())
    services.object_put(location, "p1/same", [PLAIN])
    second = (root / "p1/same").read_bytes()

    (root / "p1/same").write_bytes(second)
    (root / "p1/same.dek").write_bytes(first[1])  # ciphertext of one, wrapped key of the other

    assert first[0] != second  # fresh nonces on every write
    assert b"".join(services.object_read(location, "p1/same")) == PLAIN
