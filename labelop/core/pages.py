"""Shared plumbing for server-rendered pages: who is signed in, and domain errors as pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views import View

from labelop.core.auth import session_actor
from labelop.core.errors import DomainError, NotFound


class PageView(View):
    """A page for a signed-in person; `self.actor` is set before the handler runs.

    People whose password was set by someone else are sent to the password page first.
    Domain errors raised by services become a message (on POST) or an error page.
    """

    allow_pending_password = False

    def return_to(self, **kwargs: Any) -> str:
        """Where a refused form post sends the person back to (with the reason shown)."""
        return self.request.path

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return redirect(f"/login?{urlencode({'next': request.get_full_path()})}")
        if user.must_change_password and not self.allow_pending_password:  # type: ignore[union-attr]
            return redirect("/password")
        self.actor = session_actor(request)
        try:
            return super().dispatch(request, *args, **kwargs)
        except NotFound:
            return error_page(request, 404, "Not found",
                              "This page does not exist, or you may not see it.")
        except (OperationalError, InterfaceError):  # as the API's 503 database_unavailable
            return error_page(request, 503, "Database unavailable",
                              "The database could not complete this request; nothing of it "
                              "was kept. Reload the page in a moment.")
        except DomainError as exc:
            if request.method == "POST":
                messages.error(request, exc.detail)
                return HttpResponseRedirect(self.return_to(**kwargs))
            return error_page(request, exc.status, "Not allowed", exc.detail)


_FORM_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only, below 2**63


def form_id(value: str | None) -> int | None:
    """A positive integer from a form field, or None for anything else (no 500 on "²")."""
    return int(value) if value and _FORM_ID.fullmatch(value) else None


def error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    return render(request, "core/error.html", {"title": title, "message": message},
                  status=status)


def form_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{field}: "
        for error in errors:
            messages.error(request, f"{label}{error}")


def post_and_redirect(request: HttpRequest, form: Any, action: Callable[[dict], str | None],
                      to: str) -> HttpResponse:
    """Validate `form`, run `action` with its cleaned data, flash its message, redirect."""
    if form.is_valid():
        done = action(form.cleaned_data)
        if done:
            messages.success(request, done)
    else:
        form_errors(request, form)
    return HttpResponseRedirect(to)
