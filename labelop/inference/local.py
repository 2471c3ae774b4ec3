"""Local models: found through the `labelop.models` entry points (ours and any package a team
installs), weights pinned by SHA-256 and checked before loading, run by onnxruntime on the
CPU inside this deployment. Nothing here opens a socket."""

from __future__ import annotations

import hashlib
import logging
import threading
from abc import ABC, abstractmethod
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from PIL import Image

GROUP = "labelop.models"
logger = logging.getLogger(__name__)


class WeightsMismatch(Exception):
    """The weights file is not the one the model pins: it is not loaded."""


class LocalModel(ABC):
    """A model that runs in this deployment. Subclasses name their weights and pinned hash
    and turn an image into shapes (the annotation format, each with a `score`)."""

    name: str
    version: str
    kind: str  # what it finds: "faces", "text regions", "objects", "tags"
    labels: tuple[str, ...] = ()
    weights_sha256: str
    runtime = "onnxruntime (CPU)"
    runs = "local"
    url = ""
    reads_text = False  # whether `predict` honours a text pattern

    def __init__(self) -> None:
        self._session: Any = None
        self._lock = threading.Lock()

    @abstractmethod
    def weights(self) -> Path:
        """The weights file, inside an installed package."""

    def session(self) -> Any:
        """The onnxruntime session, made once per process after the hash check."""
        with self._lock:
            if self._session is None:
                data = self.weights().read_bytes()
                found = hashlib.sha256(data).hexdigest()
                if found != self.weights_sha256:
                    raise WeightsMismatch(
                        f"The weights of {self.name} ({self.weights()}) have SHA-256 {found}, "
                        f"not the pinned {self.weights_sha256}: refusing to load them.")
                self._session = self.make_session(data)
            return self._session

    def make_session(self, weights: bytes) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # the exporters' harmless initializer warnings
        options.intra_op_num_threads = threads()
        return onnxruntime.InferenceSession(weights, options,
                                            providers=["CPUExecutionProvider"])

    @abstractmethod
    def predict(self, image: Image.Image, *, pattern: str | None = None) -> list[dict]:
        """Shapes found in the image; `pattern` (a text shape, see builtin.text_pattern) only
        for models that read text (inference_start refuses it for the others)."""


def threads() -> int:
    from django.conf import settings

    return settings.LABELOP_INFERENCE_THREADS


@cache
def local_models() -> dict[str, LocalModel]:
    """Every installed local model by name (one instance each per process)."""
    found: dict[str, LocalModel] = {}
    for point in entry_points(group=GROUP):
        try:
            model = point.load()()
        except Exception:  # one broken plugin must not take the others (or /models) down
            logger.exception("the model entry point %s does not load", point.value)
            continue
        found[model.name] = model
    return found
