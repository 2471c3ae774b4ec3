"""The production WSGI server: gunicorn with threaded workers, run in-process."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from labelop.config.wsgi import application

        return application


def run_gunicorn(*, host: str, port: int, workers: int, threads: int) -> None:
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 20,
        "keepalive": 5,
        # Header limits: oversized request lines and headers are refused before Django.
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "control_socket_disable": True,  # a socket in $HOME is one more thing to secure
    }).run()
