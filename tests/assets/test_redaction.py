"""Redaction is irreversible: on a real photograph, the face the detector finds is gone from
the rendition (the same detector finds none) and what is left inside the region keeps no
detail of the original, whatever the method."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage import data as photos

from labelop.assets import redaction
from labelop.assets.models import Rendition
from labelop.audit.models import AuditEvent
from labelop.inference.local import local_models
from tests.conftest import World, api_for, session_api
from tests.inference.test_local_models import _astronaut_task

# Correlation of the region's grey levels with the original's, at most: a head-shaped blob of
# a few average colours stays below it; a blur that keeps eyes and mouth does not (0.9+).
MAX_CORRELATION = 0.6
# Correlation of the fine detail (the image minus its own blur), at most: none is left.
MAX_DETAIL_CORRELATION = 0.15


def _grey(image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(image.crop(box).convert("L"), dtype=float)


def _detail(image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    crop = image.crop(box).convert("L")
    blurred = crop.filter(ImageFilter.GaussianBlur(4))
    return np.asarray(crop, dtype=float) - np.asarray(blurred, dtype=float)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return 0.0 if a.std() == 0 or b.std() == 0 else float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("cells", [1, 2, 3])
@pytest.mark.parametrize("method", ["blur", "pixelate", "fill"])
def test_the_suggested_face_is_gone_from_the_rendition(method: str, cells: int,
                                                        settings) -> None:
    settings.LABELOP_REDACTION_CELLS = cells
    faces = local_models()["faces"]
    original = Image.fromarray(photos.astronaut())
    [face] = faces.predict(original)
    region = {**face, "method": method}
    box = (int(face["x"]), int(face["y"]), int(face["x"] + face["w"]),
           int(face["y"] + face["h"]))

    rendered = redaction.render(original, [region])

    assert faces.predict(rendered) == []
    assert _corr(_grey(original, box), _grey(rendered, box)) <= MAX_CORRELATION
    assert abs(_corr(_detail(original, box), _detail(rendered, box))) <= MAX_DETAIL_CORRELATION
    outside = (0, 300, 512, 512)  # below the face: untouched
    assert np.array_equal(_grey(original, outside), _grey(rendered, outside))


def test_more_colours_than_the_cap_would_keep_the_face(settings) -> None:
    # Why LABELOP_REDACTION_CELLS stops at 3: at 4 the region keeps the face's structure.
    settings.LABELOP_REDACTION_CELLS = 4
    original = Image.fromarray(photos.astronaut())
    [face] = local_models()["faces"].predict(original)
    box = (int(face["x"]), int(face["y"]), int(face["x"] + face["w"]),
           int(face["y"] + face["h"]))
    rendered = redaction.render(original, [{**face, "method": "pixelate"}])
    assert _corr(_grey(original, box), _grey(rendered, box)) > MAX_CORRELATION


def test_a_polygon_region_redacts_inside_it_only() -> None:
    original = Image.fromarray(photos.camera()).convert("RGB")
    triangle = {"type": "redaction", "method": "fill", "points": [[100, 100], [300, 100],
                                                                   [100, 300]]}
    rendered = redaction.render(original, [triangle])
    assert rendered.getpixel((120, 120)) == (0, 0, 0)
    assert rendered.getpixel((290, 290)) == original.getpixel((290, 290))


def _face_redacted(world: World, method: str):
    """The astronaut's task in the world's project, its face a redaction region."""
    task = _astronaut_task(world)
    face = local_models()["faces"].predict(Image.fromarray(photos.astronaut()))[0]
    face.pop("score")
    saved = api_for(world.users["annotator"]).call(
        "PUT", f"/tasks/{task.pk}/annotation", {"shapes": [{**face, "method": method}]},
        **{"If-Match": "0"})
    assert saved.status_code == 200, saved.content
    return task


def test_the_api_serves_the_redacted_rendition_with_no_metadata(world: World, data_dir) -> None:
    task = _face_redacted(world, "pixelate")
    path = f"/images/{task.asset_id}/redacted"

    # An owner takes the rendition anywhere (exports are theirs); a non-owner of a local_only
    # project only in the editor, as the original (a region is easily shrunk).
    response = api_for(world.users["owner"]).get(path)
    assert api_for(world.users["annotator"]).get(path).json()["code"] == "raw_download_forbidden"
    in_editor = session_api(world.users["annotator"]).get(path, **{"Sec-Fetch-Dest": "image"})

    assert response.status_code == 200
    assert in_editor.content == response.content
    assert response["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert not image.getexif()
    assert "exif" not in image.info
    assert "icc_profile" not in image.info
    assert local_models()["faces"].predict(image) == []
    event = AuditEvent.objects.filter(action="image.viewed").latest("pk")
    assert '"redacted"' in str(event.details)
    # Made once for these regions, then read back.
    assert Rendition.objects.count() == 1
    assert api_for(world.users["outsider"]).get(path).status_code == 404


def test_a_project_can_show_non_owners_only_the_rendition(world: World, data_dir) -> None:
    task = _face_redacted(world, "blur")
    content = f"/images/{task.asset_id}/content"
    editor = {"Sec-Fetch-Dest": "image"}
    annotator = session_api(world.users["annotator"])
    faces = local_models()["faces"]
    before = _image(annotator.get(content, **editor))
    assert len(faces.predict(before)) == 1  # the original, in the editor

    tightened = api_for(world.users["owner"]).call(
        "PUT", f"/projects/{world.project.pk}/policy",
        {"controls": {"non_owners_see_redacted": True}})
    assert tightened.status_code == 200, tightened.content

    seen = annotator.get(content, **editor)
    assert seen["Content-Type"] == "image/jpeg"
    assert faces.predict(_image(seen)) == []
    thumb = _bytes(annotator.get(f"/images/{task.asset_id}/thumbnail", **editor))
    owners_thumb = _bytes(session_api(world.users["owner"]).get(
        f"/images/{task.asset_id}/thumbnail", **editor))
    assert thumb != owners_thumb
    owner_sees = _image(session_api(world.users["owner"]).get(content, **editor))
    assert len(faces.predict(owner_sees)) == 1

    # Removing the region does not bring the face back: every region ever saved is burned in.
    saved = api_for(world.users["annotator"]).call(
        "PUT", f"/tasks/{task.pk}/annotation", {"shapes": []}, **{"If-Match": "1"})
    assert saved.status_code == 200, saved.content
    assert faces.predict(_image(annotator.get(content, **editor))) == []


def _bytes(response) -> bytes:
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _image(response) -> Image.Image:
    return Image.open(io.BytesIO(_bytes(response)))


def test_sixteen_bit_scans_are_redacted_in_their_own_range() -> None:
    grey = np.asarray(Image.fromarray(photos.astronaut()).convert("L"), dtype=np.uint16) * 200
    scan = Image.fromarray(grey)  # 16-bit, values far above 255
    assert scan.mode.startswith("I;16")
    [face] = local_models()["faces"].predict(scan)

    rendered = redaction.render(scan, [{**face, "method": "pixelate"}])

    assert rendered.mode == "RGB"
    assert local_models()["faces"].predict(rendered) == []
    assert np.asarray(rendered).std() > 20  # not washed out to white


@pytest.mark.parametrize(("value", "ok"), [("1", True), ("3", True), ("4", False), ("0", False)])
def test_the_strength_setting_is_bounded(monkeypatch: pytest.MonkeyPatch, value: str,
                                         ok: bool) -> None:
    from labelop.config.env import ConfigError, Env

    monkeypatch.setenv("LABELOP_REDACTION_CELLS", value)
    if ok:
        assert Env.read().redaction_cells == int(value)
    else:
        with pytest.raises(ConfigError, match="LABELOP_REDACTION_CELLS"):
            Env.read()
