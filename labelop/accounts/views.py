from __future__ import annotations

from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views import View

from labelop.accounts import forms, selectors, services
from labelop.core.auth import session_actor
from labelop.core.errors import DomainError
from labelop.core.pages import PageView, form_errors
from labelop.permissions import Action, can
from labelop.projects.selectors import project_list


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                         require_https=request.is_secure())
    return target if ok and target.startswith("/") else "/"


class LoginView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "accounts/login.html",
                      {"form": forms.LoginForm(), "next": _safe_next(request)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.LoginForm(request.POST)
        if not form.is_valid():
            form_errors(request, form)
            return redirect("login")
        try:
            user = services.session_login(request=request, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, exc.detail)
            retry = forms.LoginForm(initial={"username": form.cleaned_data["username"]})
            return render(request, "accounts/login.html",
                          {"form": retry, "next": _safe_next(request)}, status=exc.status)
        return redirect("/password" if user.must_change_password else _safe_next(request))


class LogoutView(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            from labelop.permissions import Actor

            services.session_logout(request=request, actor=Actor(user=request.user))  # type: ignore[arg-type]
        logout(request)
        return redirect("login")


class PasswordChangeView(PageView):
    allow_pending_password = True

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "accounts/password.html", {"form": forms.PasswordChangeForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.PasswordChangeForm(request.POST)
        if not form.is_valid():
            form_errors(request, form)
            return redirect("password")
        services.password_change(actor=self.actor, current=form.cleaned_data["current_password"],
                                 new=form.cleaned_data["new_password"], request=request)
        messages.success(request, "Your password was changed.")
        return redirect("/")


class TokenListView(PageView):
    def _form(self, data: dict | None = None) -> forms.TokenCreateForm:
        form = forms.TokenCreateForm(data)
        projects = project_list(actor=self.actor, limit=500).items
        form.fields["project"].choices = [("", "All my projects")] + [  # type: ignore[attr-defined]
            (p.pk, p.name) for p in projects]
        return form

    def _page(self, request: HttpRequest, new_token: str | None = None) -> HttpResponse:
        tokens = selectors.token_list(actor=self.actor, limit=200).items
        return render(request, "accounts/tokens.html",
                      {"form": self._form(), "tokens": tokens, "new_token": new_token})

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self._form(request.POST)
        if not form.is_valid():
            form_errors(request, form)
            return redirect("tokens")
        _, raw = services.token_create(actor=self.actor, name=form.cleaned_data["name"],
                                       project_id=form.cleaned_data["project"],
                                       expires_in_days=form.cleaned_data["expires_in_days"])
        # Shown in this answer only; the secret is never stored anywhere, the session included.
        return self._page(request, new_token=raw)


class TwoFactorView(PageView):
    """Enrol an authenticator app: start, scan the QR code (or type the secret), confirm with
    a code, keep the recovery codes (shown in that answer only)."""

    def _page(self, request: HttpRequest, recovery_codes: list[str] | None = None
              ) -> HttpResponse:
        status = selectors.two_factor(actor=self.actor)
        qr = (segno.make(status.pending_uri, error="m").svg_inline(scale=5, border=2)
              if status.pending_uri else None)
        return render(request, "accounts/two_factor.html", {
            "status": status, "qr": mark_safe(qr) if qr else None,  # noqa: S308 (our own SVG)
            "recovery_codes": recovery_codes})

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("step") == "begin":
            services.totp_begin(actor=self.actor)
            return redirect("two-factor")
        codes = services.totp_confirm(actor=self.actor, code=request.POST.get("code", "")[:32],
                                      request=request)
        messages.success(request, "Two-factor authentication is on; this session is signed in "
                                  "with it.")
        self.actor.second_factor = True
        return self._page(request, recovery_codes=codes)


class TokenRevokeView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return "/tokens"

    def post(self, request: HttpRequest, token_id: int) -> HttpResponse:
        token = services.token_revoke(actor=self.actor, token_id=token_id)
        messages.success(request, f"Token {token.name!r} was revoked.")
        return HttpResponseRedirect("/tokens")


class UserListView(PageView):
    def _page(self, request: HttpRequest, new_user: dict | None = None) -> HttpResponse:
        users = selectors.user_list(actor=self.actor, limit=500).items
        return render(request, "accounts/users.html",
                      {"users": users, "form": forms.UserCreateForm(), "new_user": new_user})

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.UserCreateForm(request.POST)
        if not form.is_valid():
            form_errors(request, form)
            return redirect("users")
        user, password = services.user_create(actor=self.actor,
                                              username=form.cleaned_data["username"],
                                              site_admin=form.cleaned_data["site_admin"])
        # The one-time password is shown in this answer only, never stored in the session.
        return self._page(request, new_user={"username": user.username, "password": password})


class UserActiveView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return "/users"

    def post(self, request: HttpRequest, username: str) -> HttpResponse:
        active = request.POST.get("active") == "1"
        services.user_set_active(actor=self.actor, username=username, active=active)
        messages.success(request, f"{username} is now {'active' if active else 'deactivated'}.")
        return HttpResponseRedirect("/users")


def nav_context(request: HttpRequest) -> dict:
    """What the navigation shows; decided by the policy, not by the template."""
    user = request.user
    if not user.is_authenticated:
        return {}
    actor = session_actor(request)
    return {"nav_users": can(actor, Action.USER_MANAGE),
            "nav_storage": can(actor, Action.STORAGE_MANAGE)}
