from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from labelop.audit.context import client_ip


class RequestContextMiddleware:
    """Makes the client address available to audit.record() without threading it through.

    REMOTE_ADDR only: behind a reverse proxy, configure the proxy to set it (docs/deploy.md);
    trusting X-Forwarded-For from anyone would let a client forge its audited address.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = client_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            client_ip.reset(token)
