"""The one NinjaAPI instance, its error handling, and the routers of every app."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from labelop.core.auth import signed_in
from labelop.core.errors import DomainError, from_domain_error, problem

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="LabelOp API",
    version="1",
    description="Self-hosted, privacy-first image annotation. Errors are RFC 9457 "
                "application/problem+json with a stable `code`.",
    auth=signed_in(),
    urls_namespace="api",
    docs_url="/docs",
)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return from_domain_error(exc)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors
    ]
    return problem(422, "invalid_request", "The request does not match the schema.",
                   errors=errors)


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(401, "not_authenticated",
                   "Sign in, or send a valid API token as 'Authorization: Bearer <token>'.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(exc.status_code, "http_error", str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, "not_found", "Not found.")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem(413, "body_too_large", "The request body is larger than this server accepts.")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    # A connection the database dropped (restart, failover), a lock or statement timeout: the
    # transaction in progress rolled back; the server replaces a broken connection at the end
    # of this request, so the client's retry normally succeeds.
    logger.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
    response = problem(503, "database_unavailable",
                       "The database could not complete this request (connection lost, busy or "
                       "timed out); what it was doing was rolled back. Retry shortly.")
    response["Retry-After"] = "1"
    return response


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "internal_error", "The server failed; the error was logged.")


def _register_routers() -> None:
    from labelop.accounts.api import auth_router, me_router, tokens_router, users_router
    from labelop.annotations.api import router as labeling_router
    from labelop.assets.api import router as assets_router
    from labelop.audit.api import router as audit_router
    from labelop.core.health import router as health_router
    from labelop.inference.api import router as inference_router
    from labelop.jobs.api import router as jobs_router
    from labelop.privacy.api import router as privacy_router
    from labelop.projects.api import router as projects_router
    from labelop.releases.api import router as releases_router
    from labelop.review.api import router as review_router
    from labelop.storage.api import router as storage_router

    api.add_router("/auth", auth_router)
    api.add_router("/me", me_router)
    api.add_router("/tokens", tokens_router)
    api.add_router("/users", users_router)
    api.add_router("/projects", projects_router)
    api.add_router("/audit", audit_router)
    api.add_router("", health_router)
    api.add_router("", assets_router)
    api.add_router("", storage_router)
    api.add_router("/jobs", jobs_router)
    api.add_router("", labeling_router)
    api.add_router("", review_router)
    api.add_router("", privacy_router)
    api.add_router("", inference_router)
    api.add_router("", releases_router)


_register_routers()
