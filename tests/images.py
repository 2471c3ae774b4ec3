"""Test images made with Pillow, with real EXIF/GPS/XMP/text metadata, and hostile files."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
       b'02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/'
       b'elements/1.1/"><dc:creator>Dr Secret</dc:creator></rdf:Description></rdf:RDF>'
       b'</x:xmpmeta>')


def noise(size: tuple[int, int] = (96, 64), mode: str = "RGB", seed: int = 1) -> Image.Image:
    rng = random.Random(seed)
    bands = len(Image.new(mode, (1, 1)).getbands())
    data = bytes(rng.randrange(256) for _ in range(size[0] * size[1] * bands))
    return Image.frombytes(mode, size, data)


def exif(orientation: int = 1) -> Image.Exif:
    info = Image.Exif()
    info[ExifTags.Base.Make] = "SecretCam"
    info[ExifTags.Base.Model] = "Model 7"
    info[ExifTags.Base.Orientation] = orientation
    info[ExifTags.Base.Artist] = "Jane Patient"
    info[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 17.0, 40.0)}
    return info


def jpeg(seed: int = 1, orientation: int = 1, size: tuple[int, int] = (96, 64),
         metadata: bool = True) -> bytes:
    out = io.BytesIO()
    extra = {"exif": exif(orientation), "comment": b"patient 4711", "xmp": XMP} if metadata else {}
    noise(size, seed=seed).save(out, format="JPEG", quality=90, **extra)
    return out.getvalue()


def png(seed: int = 1, mode: str = "RGB") -> bytes:
    info = PngInfo()
    info.add_text("Author", "Jane Patient")
    info.add_itxt("Comment", "ward 3", lang="en")
    out = io.BytesIO()
    noise(mode=mode, seed=seed).save(out, format="PNG", pnginfo=info, exif=exif())
    return out.getvalue()


def png16(seed: int = 1) -> bytes:
    rng = random.Random(seed)
    image = Image.new("I;16", (40, 30))
    image.putdata([rng.randrange(65536) for _ in range(40 * 30)])
    info = PngInfo()
    info.add_text("PatientName", "DOE^JOHN")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def tiff16(seed: int = 2) -> bytes:
    rng = random.Random(seed)
    image = Image.new("I;16", (40, 30))
    image.putdata([rng.randrange(65536) for _ in range(40 * 30)])
    out = io.BytesIO()
    image.save(out, format="TIFF", compression="tiff_lzw",
               tiffinfo={315: "Dr Secret", 270: "chest, patient 4711", 306: "2026:01:02 03:04:05"})
    return out.getvalue()


def webp(seed: int = 1) -> bytes:
    out = io.BytesIO()
    noise(seed=seed).save(out, format="WEBP", lossless=True, exif=exif().tobytes(), xmp=XMP)
    return out.getvalue()


def bmp(seed: int = 1) -> bytes:
    out = io.BytesIO()
    noise(seed=seed).save(out, format="BMP")
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_dimensions(width: int, height: int) -> bytes:
    """A tiny file whose header claims any size: a decompression bomb, or 0x0."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def polyglot_jpeg_zip() -> bytes:
    """A JPEG that is also a ZIP archive (data appended after the end-of-image marker)."""
    zip_file = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(zip_file, "w") as z:
        z.writestr("payload.html", "<script>alert(1)</script>")
    return jpeg(seed=9, metadata=False) + zip_file.getvalue()


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.mode, image.size, image.tobytes()
