from __future__ import annotations

import json

from click.testing import CliRunner

from labelop.accounts.models import ApiToken, User
from labelop.audit.models import AuditEvent
from labelop.cli import main
from tests.conftest import Api, World


def test_createuser_reads_the_password_from_stdin(db: None) -> None:
    result = CliRunner().invoke(main, ["createuser", "dana", "--site-admin", "--password-stdin"],
                                input="a long enough passphrase\n")

    assert result.exit_code == 0, result.output
    user = User.objects.get(username="dana")
    assert user.is_site_admin
    assert user.check_password("a long enough passphrase")
    assert not user.must_change_password
    assert "a long enough passphrase" not in result.output
    assert AuditEvent.objects.get(action="user.created").actor_name == ""


def test_createuser_without_password_prints_a_one_time_one(db: None) -> None:
    result = CliRunner().invoke(main, ["createuser", "eve"])
    assert result.exit_code == 0
    assert User.objects.get(username="eve").must_change_password


def test_createuser_refuses_weak_passwords_and_taken_names(world: World) -> None:
    weak = CliRunner().invoke(main, ["createuser", "fred", "--password-stdin"], input="123\n")
    taken = CliRunner().invoke(main, ["createuser", "Owner", "--password-stdin"],
                               input="a long enough passphrase\n")
    assert (weak.exit_code, taken.exit_code) == (1, 1)
    assert not User.objects.filter(username="fred").exists()


def test_token_create_prints_a_working_scoped_token_once(world: World) -> None:
    result = CliRunner().invoke(main, ["token", "create", "outsider", "--project",
                                       str(world.other_project.pk), "--expires-in-days", "3"])

    assert result.exit_code == 0, result.output
    raw = result.output.strip()
    assert Api(raw).get("/me").json()["token_project"] == world.other_project.pk
    assert ApiToken.objects.get(user__username="outsider").digest != raw


def test_a_console_token_never_carries_a_second_factor(world: World) -> None:
    # Nobody typed a code at the console: a project requiring a second factor refuses it.
    result = CliRunner().invoke(main, ["token", "create", "owner", "--project",
                                       str(world.project.pk)])

    assert result.exit_code == 1
    assert "requires two-factor authentication" in result.output
    assert not ApiToken.objects.exists()


def test_token_create_for_a_project_the_user_is_not_in_fails(world: World) -> None:
    result = CliRunner().invoke(main, ["token", "create", "reviewer", "--project",
                                       str(world.other_project.pk)])
    assert result.exit_code == 1
    assert not ApiToken.objects.exists()


def test_audit_export_writes_jsonl(world: World) -> None:
    CliRunner().invoke(main, ["createuser", "gina"])

    result = CliRunner().invoke(main, ["audit", "export", "--format", "jsonl"])

    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows[-1]["action"] == "user.created"
    assert rows[-1]["target"] == "user:gina"


def test_keys_rotate_moves_a_customer_location_to_a_new_key(db, data_dir, tmp_path,
                                                            monkeypatch) -> None:
    import base64
    import os

    from labelop.storage import services

    monkeypatch.setenv("LOP_CLI_KEY", base64.b64encode(os.urandom(32)).decode())
    location = services.location_create(actor=None, name="vault", kind="local",
                                        params={"path": str(tmp_path / "vault")},
                                        encryption="customer",
                                        customer_key_source="env:LOP_CLI_KEY")
    services.object_put(location, "p1/x", [b"secret scan"])
    new_key = tmp_path / "new.key"
    new_key.write_text(os.urandom(32).hex())

    result = CliRunner().invoke(main, ["keys", "rotate", "--location", "vault",
                                       "--customer-key-source", f"file:{new_key}"])

    assert result.exit_code == 0, result.output
    assert "vault: 1 data keys re-wrapped" in result.output
    monkeypatch.delenv("LOP_CLI_KEY")
    location.refresh_from_db()
    assert b"".join(services.object_read(location, "p1/x")) == b"secret scan"
    unknown = CliRunner().invoke(main, ["keys", "rotate", "--location", "nowhere"])
    assert unknown.exit_code == 1
