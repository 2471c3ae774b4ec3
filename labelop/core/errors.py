"""Domain errors and their one mapping to RFC 9457 problem+json responses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"


class DomainError(Exception):
    """A refusal with a stable code; services raise these, the API maps them to HTTP."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    """Absent or hidden: the caller cannot tell which."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The caller sees the resource but may not do this to it."""

    status = 403
    code = "forbidden"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Invalid(DomainError):
    """Well-formed input that breaks a domain rule."""

    status = 422
    code = "invalid"


class Throttled(DomainError):
    status = 429
    code = "throttled"


def problem(status: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    """Build one application/problem+json response."""
    body = {
        "type": f"urn:labelop:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def from_domain_error(exc: DomainError) -> JsonResponse:
    return problem(exc.status, exc.code, exc.detail, **exc.extra)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF refusals as problem+json for the API, a plain page elsewhere."""
    detail = "CSRF verification failed: send the csrftoken cookie and the X-CSRFToken header."
    if request.path.startswith("/api/"):
        return problem(403, "csrf_failed", detail)
    return HttpResponse(detail, status=403, content_type="text/plain")
