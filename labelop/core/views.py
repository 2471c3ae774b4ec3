"""Error pages: problem+json under /api/, plain HTML elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from labelop.core.errors import problem


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problem(404, "not_found", "Not found.")
    return render(request, "core/error.html", {"title": "Not found",
                  "message": "This page does not exist, or you may not see it."}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problem(500, "internal_error", "The server failed; the error was logged.")
    return render(request, "core/error.html", {"title": "Server error",
                  "message": "Something failed on the server; it was logged."}, status=500)
