"""A database that drops the connection or refuses work answers 503, and nothing is half-done."""

from __future__ import annotations

import pytest
from django.db import close_old_connections, connection

from tests.conftest import World, api_for


def _break_the_connection() -> None:
    """A real fault of the database in use: PostgreSQL ends this session's backend (as a
    restart does); SQLite's connection is made read-only, so the next write is refused."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        import psycopg

        pid = connection.connection.info.backend_pid
        with psycopg.connect(_dsn(), autocommit=True) as c:
            c.execute("SELECT pg_terminate_backend(%s)", [pid])
    else:
        connection.connection.execute("PRAGMA query_only = ON")


def _dsn() -> str:
    s = connection.settings_dict
    return (f"host={s['HOST']} port={s['PORT'] or 5432} user={s['USER']} "
            f"dbname={s['NAME']}" + (f" password={s['PASSWORD']}" if s["PASSWORD"] else ""))


@pytest.mark.django_db(transaction=True)
def test_a_dropped_connection_answers_503_then_the_next_request_succeeds() -> None:
    from tests.conftest import build_world

    world: World = build_world()
    api = api_for(world.users["owner"])
    project = world.project.pk
    _break_the_connection()

    response = api.post("/projects", {"name": "after the fault"})

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
    assert response["Retry-After"] == "1"
    close_old_connections()  # what the server does when the failed request ends
    if connection.vendor == "sqlite":
        connection.close()  # the read-only switch lives on that connection only
    assert api.get(f"/projects/{project}").status_code == 200
    names = [p["name"] for p in api.get("/projects").json()["items"]]
    assert "after the fault" not in names
