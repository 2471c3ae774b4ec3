from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.parametrize("path", ["/login", "/api/v1/health", "/api/v1/me"])
def test_security_headers_on_every_response(db: None, path: str) -> None:
    response = Client().get(path)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def test_api_docs_are_served_without_any_cdn(db: None) -> None:
    html = Client().get("/api/v1/docs").content.decode()
    assert "cdn" not in html.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in html
