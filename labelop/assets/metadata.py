"""Lossless metadata stripping, container by container.

JPEG, PNG and WebP are rewritten at the container level: metadata segments and chunks are
dropped and every byte of image data is copied as it was, so decoded pixels are identical.
TIFF keeps its pixel data in strips addressed by offsets, so it is rewritten by Pillow with
the same lossless compression (never JPEG-in-TIFF, which is refused). BMP carries none.
Whatever follows the image's end marker is refused, not trimmed: that is how polyglot files
(an image that is also a ZIP, HTML or script) are built.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

from PIL import ExifTags, Image, TiffTags


class Refused(Exception):
    """The file is refused; `code` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)  # both in args: refusals cross process boundaries
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass
class Stripped:
    data: bytes
    removed: list[str] = field(default_factory=list)


def sniff(head: bytes) -> str | None:
    """The container format from its magic bytes (never from the name or content type)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM":
        return "BMP"
    return None


def exif_names(image: Image.Image) -> list[str]:
    """Names (never values) of the EXIF tags present, GPS included."""
    exif = image.getexif()
    names = [ExifTags.TAGS.get(tag, f"0x{tag:04x}") for tag in exif]
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    names += [f"GPS{ExifTags.GPSTAGS.get(tag, f'0x{tag:04x}')}" for tag in gps]
    return sorted(set(names))


# ---------------------------------------------------------------- JPEG

_JPEG_APP_NAMES = {
    b"Exif\x00": "EXIF", b"http://ns.adobe.com/xap/1.0/\x00": "XMP",
    b"ICC_PROFILE\x00": "ICC profile", b"Photoshop 3.0\x00": "IPTC", b"MPF\x00": "MPF",
    b"http://ns.adobe.com/xmp/extension/\x00": "XMP",
}


def _jpeg_segment_name(marker: int, body: bytes) -> str | None:
    """The name of a metadata segment, or None for one that decoding needs."""
    if marker == 0xFE:
        return "comment"
    if marker == 0xE0 and body.startswith((b"JFIF\x00", b"JFXX\x00")):
        return None  # JFIF: density and the colour-space convention
    if marker == 0xEE and body.startswith(b"Adobe"):
        return None  # Adobe: the colour transform decoders need for CMYK/YCCK
    for prefix, name in _JPEG_APP_NAMES.items():
        if body.startswith(prefix):
            return name
    return f"APP{marker - 0xE0}"


def _jpeg_scan_end(data: bytes, pos: int) -> int:
    """End of entropy-coded data: the next marker that is not a stuffed byte or a restart."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise Refused("truncated", "The JPEG ends inside its image data.")
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def strip_jpeg(data: bytes) -> Stripped:
    out, removed, pos = [data[:2]], [], 2
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise Refused("truncated", "The JPEG's segments are cut off or corrupt.")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            out.append(data[pos:pos + 2])
            pos += 2
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[pos:pos + 2])
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0] if pos + 4 <= len(data) else 0
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise Refused("truncated", "The JPEG's segments are cut off or corrupt.")
        if marker == 0xDA:  # start of scan: header, then entropy-coded data
            end = _jpeg_scan_end(data, end)
            out.append(data[pos:end])
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE:
            name = _jpeg_segment_name(marker, data[pos + 4:end])
            if name is None:
                out.append(data[pos:end])
            else:
                removed.append(name)
        else:
            out.append(data[pos:end])
        pos = end
    _refuse_trailing(data[pos:], "JPEG")
    return Stripped(b"".join(out), removed)


def _refuse_trailing(rest: bytes, fmt: str) -> None:
    if rest.strip(b"\x00"):
        raise Refused("trailing_data", f"{len(rest)} bytes follow the end of the {fmt} image; "
                      "files that are also something else (polyglots) are refused.")


# ---------------------------------------------------------------- PNG

# Chunks that decoding or correct display needs; every other ancillary chunk is dropped.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT",
             b"pHYs", b"bKGD", b"hIST", b"acTL", b"fcTL", b"fdAT"}


def strip_png(data: bytes) -> Stripped:
    out, removed, pos = [data[:8]], [], 8
    while True:
        if pos + 12 > len(data):
            raise Refused("truncated", "The PNG ends before its IEND chunk.")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise Refused("truncated", "The PNG ends inside a chunk.")
        if kind in _PNG_KEEP:
            out.append(data[pos:end])
        else:
            keyword = ""
            if kind in (b"tEXt", b"zTXt", b"iTXt"):
                keyword = ":" + data[pos + 8:pos + 8 + min(length, 79)].split(b"\x00")[0].decode(
                    "latin-1")
            removed.append(kind.decode("latin-1") + keyword)
        pos = end
        if kind == b"IEND":
            break
    _refuse_trailing(data[pos:], "PNG")
    return Stripped(b"".join(out), removed)


# ---------------------------------------------------------------- WebP

_WEBP_DROP = {b"EXIF": "EXIF", b"XMP ": "XMP", b"ICCP": "ICC profile"}
_VP8X_METADATA_FLAGS = 0x20 | 0x08 | 0x04  # ICC, EXIF, XMP


def strip_webp(data: bytes) -> Stripped:
    riff_size = struct.unpack("<I", data[4:8])[0]
    if riff_size + 8 > len(data):
        raise Refused("truncated", "The WebP file is shorter than its header says.")
    out, removed, pos, end_of_riff = [], [], 12, riff_size + 8
    while pos + 8 <= end_of_riff:
        kind, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        end = pos + 8 + size + (size & 1)
        if end > end_of_riff:
            raise Refused("truncated", "The WebP file ends inside a chunk.")
        if kind in _WEBP_DROP:
            removed.append(_WEBP_DROP[kind])
        elif kind == b"VP8X":
            flags = data[pos + 8] & ~_VP8X_METADATA_FLAGS
            out.append(data[pos:pos + 8] + bytes([flags]) + data[pos + 9:end])
        else:
            out.append(data[pos:end])
        pos = end
    _refuse_trailing(data[end_of_riff:], "WebP")
    body = b"".join(out)
    return Stripped(b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body, removed)


# ---------------------------------------------------------------- TIFF and BMP

_TIFF_LOSSLESS = {"raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "tiff_deflate", None}
_TIFF_STRUCTURAL = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338, 339,
                    322, 323, 324, 325, 320, 274}


def strip_tiff(image: Image.Image) -> Stripped:
    if getattr(image, "n_frames", 1) > 1:
        raise Refused("multi_page", "Multi-page TIFF files are not supported; upload each page.")
    compression = image.info.get("compression")
    if compression not in _TIFF_LOSSLESS:
        raise Refused("lossy_tiff", f"TIFF with {compression} compression would have to be "
                      "re-encoded lossily to strip its metadata; convert it to PNG first.")
    removed = sorted({TiffTags.lookup(tag).name for tag in image.tag_v2  # type: ignore[attr-defined]
                      if tag not in _TIFF_STRUCTURAL})
    # A plain copy carries the pixels (and palette) but none of the source's tags, which
    # Pillow's TIFF writer would otherwise copy over.
    clean = image.copy()
    clean.info = {}
    buffer = io.BytesIO()
    clean.save(buffer, format="TIFF", compression=compression or "raw")
    return Stripped(buffer.getvalue(), removed)


def strip_bmp(data: bytes) -> Stripped:
    declared = struct.unpack("<I", data[2:6])[0] if len(data) >= 6 else 0
    if declared > len(data):
        raise Refused("truncated", "The BMP file is shorter than its header says.")
    _refuse_trailing(data[declared:], "BMP")
    return Stripped(data[:declared], [])
