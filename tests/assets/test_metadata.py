"""Metadata is stripped without touching a single decoded pixel."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from labelop.assets.ingest import prepare, sanitize_name
from labelop.assets.metadata import Refused
from tests import images

# width, length, bits, compression, photometric, strips, rows/strip, strip bytes, planar...
TIFF_STRUCTURE = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338, 339}
SECRETS = [b"SecretCam", b"Jane Patient", b"Dr Secret", b"patient 4711", b"ward 3",
           b"DOE^JOHN", b"Exif\x00\x00", b"xmpmeta", b"GPS"]


@pytest.mark.parametrize(("name", "make", "fmt"), [
    ("jpeg", images.jpeg, "JPEG"),
    ("png", images.png, "PNG"),
    ("png-rgba", lambda: images.png(mode="RGBA"), "PNG"),
    ("png-16bit-grey", images.png16, "PNG"),
    ("tiff-16bit-grey", images.tiff16, "TIFF"),
    ("webp", images.webp, "WEBP"),
    ("bmp", images.bmp, "BMP"),
])
def test_stripping_is_lossless_and_leaves_no_metadata(name: str, make, fmt: str) -> None:
    original = make()

    prepared = prepare(original)

    assert prepared.format == fmt
    assert images.pixels(prepared.data) == images.pixels(original)
    for secret in SECRETS:
        assert secret not in prepared.data, f"{secret!r} survived in {name}"
    stored = Image.open(io.BytesIO(prepared.data))
    if fmt == "TIFF":  # a TIFF's IFD is its structure; only structural tags may remain
        assert set(stored.getexif()) <= TIFF_STRUCTURE
    else:
        assert dict(stored.getexif()) == {}
    assert not {k for k in stored.info if k not in ("dpi", "jfif", "jfif_version", "jfif_unit",
                                                      "jfif_density", "compression", "loop",
                                                      "background", "transparency", "aspect",
                                                      "resolution")}


def test_stripped_names_are_recorded_without_values() -> None:
    prepared = prepare(images.jpeg())

    assert {"EXIF", "XMP", "comment", "Make", "Model", "Artist", "GPSGPSLatitude"} <= set(
        prepared.removed)
    assert not any("SecretCam" in name or "Jane" in name for name in prepared.removed)


def test_exif_orientation_is_kept_as_a_field_and_applied_to_the_thumbnail() -> None:
    prepared = prepare(images.jpeg(orientation=6, size=(96, 64)))

    assert prepared.orientation == 6
    assert (prepared.width, prepared.height) == (96, 64)  # stored pixels as they came
    thumb = Image.open(io.BytesIO(prepared.thumbnail))
    assert thumb.width < thumb.height  # rotated for display


def test_sixteen_bit_depth_is_kept() -> None:
    prepared = prepare(images.png16())
    assert prepared.mode == "I;16"
    assert Image.open(io.BytesIO(prepared.data)).mode == "I;16"


@pytest.mark.parametrize(("data", "code"), [
    (b"", "empty_file"),
    (b"<html><script>alert(1)</script></html>", "unsupported_format"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "unsupported_format"),
    (b"PK\x03\x04 not an image", "unsupported_format"),
    (images.jpeg()[:400], "corrupt"),
    (images.jpeg()[:-300], "truncated"),
    (images.png()[:-40], "truncated"),
    (images.png_with_dimensions(100_000, 100_000), "too_many_pixels"),
    (images.png_with_dimensions(0, 0), "corrupt"),
    (images.polyglot_jpeg_zip(), "trailing_data"),
    (images.png() + b"<?php system($_GET['c']); ?>", "trailing_data"),
])
def test_bad_files_are_refused_with_a_reason(data: bytes, code: str) -> None:
    with pytest.raises(Refused) as refused:
        prepare(data)
    assert refused.value.code == code
    assert refused.value.message


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\scan.png", "scan.png"),
    ("a\x00b\x1b[31m.png", "ab[31m.png"),
    (".hidden.jpg", "hidden.jpg"),
    ("\u202eevil.gnp.jpg", "evil.gnp.jpg"),
    ("", "image"),
])
def test_names_are_sanitized(raw: str, clean: str) -> None:
    assert sanitize_name(raw) == clean
