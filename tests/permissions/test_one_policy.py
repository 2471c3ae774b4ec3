"""Permission decisions live only in labelop/permissions.

Endpoints, page views, selectors, forms and templates never read roles or the site-admin
flag; services may state invariants about memberships (a project keeps one owner), but
whether the caller may act is always require()'s answer. The raw superuser flag is read
only by the User model's is_site_admin, and that only by the policy.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "labelop"
ROLE_CHECK = re.compile(r"\.role\s*(==|!=|\bin\b)|Role\.(OWNER|REVIEWER|ANNOTATOR)\s*(==|!=)"
                        r"|\{%\s*if[^%]*\b(role|my_role)\b")
ADMIN_READ = re.compile(r"\bis_(superuser|staff)\b(?!\s*=)")
SITE_ADMIN_DECISION = re.compile(r"\bif\b[^\n]*\bis_site_admin\b")
DECISION_FREE = {"api.py", "views.py", "selectors.py", "forms.py", "schemas.py", "pages.py"}


def _lines(path: Path) -> list[tuple[int, str]]:
    return list(enumerate(path.read_text().splitlines(), 1))


def _rel(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_endpoints_views_selectors_and_templates_make_no_role_decisions() -> None:
    files = [p for p in PACKAGE.rglob("*")
             if p.name in DECISION_FREE or p.suffix == ".html"]
    offences = [f"{_rel(p)}:{n}: {line.strip()}" for p in files for n, line in _lines(p)
                if ROLE_CHECK.search(line) or SITE_ADMIN_DECISION.search(line)]
    assert offences == []


def test_only_the_user_model_reads_the_superuser_flag() -> None:
    offences = [f"{_rel(p)}:{n}: {line.strip()}" for p in PACKAGE.rglob("*.py")
                if "migrations" not in p.parts and p != PACKAGE / "accounts" / "models.py"
                for n, line in _lines(p) if ADMIN_READ.search(line)]
    assert offences == []


def test_only_the_policy_decides_on_site_admins() -> None:
    offences = [f"{_rel(p)}:{n}: {line.strip()}" for p in PACKAGE.rglob("*.py")
                if p != PACKAGE / "permissions" / "policy.py"
                for n, line in _lines(p) if SITE_ADMIN_DECISION.search(line)]
    assert offences == []
