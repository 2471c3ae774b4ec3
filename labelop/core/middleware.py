"""Response headers that Django's SecurityMiddleware does not set."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Everything from our own origin, nothing inline, no frames, no plugins. The editor draws
# images from blob: URLs; Swagger UI at /api/v1/docs ships with ninja and is served locally.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Adds CSP, a restrictive Permissions-Policy and, unless the response chose its own
    (static files do), `Cache-Control: no-store`: pages, answers, manifests and exports hold
    people's data, and no browser cache or proxy on the way should keep a copy.

    A header string does not need a library; django-csp would add nonces we do not use.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        response.headers.setdefault("Cache-Control", "no-store")
        return response


class RequestSizeMiddleware:
    """Refuse a body larger than LABELOP_MAX_REQUEST_BYTES before anything reads it (Django
    bounds form fields, not the files of a multipart upload)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = settings.LABELOP_MAX_REQUEST_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.limit:
            from labelop.core.errors import problem

            return problem(413, "body_too_large",
                           f"The request body is larger than {self.limit:,} bytes.")
        return self.get_response(request)


class ClientAddressMiddleware:
    """Behind N trusted reverse proxies, the client is the Nth address from the right of
    X-Forwarded-For (each proxy appends the peer it saw). REMOTE_ADDR is rewritten so that
    login throttling and the audit log see the client, not the proxy. With no trusted
    proxy configured the header is ignored: any client can write it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.hops = settings.LABELOP_TRUSTED_PROXY_COUNT

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.hops:
            chain = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            chain = [a for a in chain if a]
            if len(chain) >= self.hops:
                with contextlib.suppress(ValueError):
                    request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(chain[-self.hops]))
        return self.get_response(request)
