"""A model server on loopback standing in for an external (HTTP) model endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ModelServer:
    """A model server: answers every POST with `answer` (or a redirect to `redirect_to`)."""

    url: str = ""
    received: list[dict] = field(default_factory=list)
    answer: dict = field(default_factory=lambda: {"shapes": [
        {"type": "bbox", "label": "car", "x": 4, "y": 5, "w": 20, "h": 10, "score": 0.91}]})
    redirect_to: str | None = None


def serve(state: ModelServer) -> Iterator[ModelServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append({"path": self.path, "type": self.headers["Content-Type"],
                                   "bytes": len(body)})
            if state.redirect_to:
                self.send_response(307)
                self.send_header("Location", state.redirect_to)
                self.end_headers()
                return
            payload = json.dumps(state.answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/detect"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
