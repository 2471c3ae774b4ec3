"""The `labelop` command: serve, worker, accounts, tokens and the audit log from the shell."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from labelop.projects.models import Project


def _setup(data_dir: str | None = None) -> None:
    if data_dir:
        os.environ["LABELOP_DATA_DIR"] = str(Path(data_dir).resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelop.config.settings")
    import django

    django.setup()


def _fail(message: str) -> NoReturn:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


@click.group()
@click.option("--data-dir", envvar="LABELOP_DATA_DIR", type=click.Path(file_okay=False),
              help="Where the database, secrets and local objects live [./labelop-data].")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None) -> None:
    """LabelOp: self-hosted, privacy-first image annotation."""
    ctx.obj = {"data_dir": data_dir}


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--data-dir", "serve_data_dir", type=click.Path(file_okay=False),
              help="Same as the global --data-dir.")
@click.option("--workers", default=2, show_default=True, type=int, help="Web worker processes.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
@click.option("--job-workers", default=1, show_default=True, type=int,
              help="Job worker processes started beside the web server (0: none).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, serve_data_dir: str | None, workers: int,
          threads: int, job_workers: int) -> None:
    """Migrate, create the first site admin on an empty instance, serve with gunicorn."""
    _setup(serve_data_dir or ctx.obj["data_dir"])
    from django.conf import settings

    from labelop.accounts.services import bootstrap_site_admin
    from labelop.config.server import run_gunicorn

    _migrate()
    first = bootstrap_site_admin()
    if first:
        username, password = first
        click.secho("\n  First start: a site admin account was created.", bold=True)
        click.echo(f"  username: {username}\n  password: {password}")
        click.echo("  This password is shown only now; you will choose your own at first "
                   "sign-in.\n")
    click.echo(f"LabelOp on http://{host}:{port}  (data: {settings.DATA_DIR}, "
               f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
    env = {**os.environ, "LABELOP_DATA_DIR": str(settings.DATA_DIR)}
    children = [subprocess.Popen([sys.executable, "-m", "labelop", "worker"], env=env)
                for _ in range(job_workers)]
    try:
        run_gunicorn(host=host, port=port, workers=workers, threads=threads)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


@main.command()
@click.option("--interval", default=1.0, show_default=True, help="Seconds between queue polls.")
@click.pass_context
def worker(ctx: click.Context, interval: float) -> None:
    """Run background jobs from the database queue (run as many as you like, anywhere). A job
    whose worker died runs again in a live one."""
    _setup(ctx.obj["data_dir"])
    from django.core.management import call_command

    from labelop.jobs.recovery import recover_forever, worker_id, worker_lock

    name = worker_id()
    stop = threading.Event()
    with worker_lock(name) as own:  # held before the first claim: the others see us alive
        watch = threading.Thread(target=recover_forever, args=(stop, own), daemon=True)
        watch.start()
        try:
            call_command("db_worker", "--no-reload", f"--interval={interval}",
                         f"--worker-id={name}")
        finally:
            stop.set()


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check a deployment before starting it: settings, data dir, database, migrations, job
    queue and every storage location (with its key). Exits 1 when one fails."""
    _setup(ctx.obj["data_dir"])
    from labelop.core.health import deployment

    failed = 0
    for result in deployment():
        failed += not result.ok
        mark = click.style("ok  ", fg="green") if result.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark}  {result.name}: {result.detail}")
    if failed:
        _fail(f"{failed} check(s) failed.")


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply database migrations (serve does this itself)."""
    _setup(ctx.obj["data_dir"])
    _migrate()
    click.echo("Database is up to date.")


@main.command()
@click.argument("name")
@click.option("--site-admin", is_flag=True, help="Manages the instance; sees no project data.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def createuser(ctx: click.Context, name: str, site_admin: bool, password_stdin: bool) -> None:
    """Create an account. Without --password-stdin a one-time password is printed."""
    _setup(ctx.obj["data_dir"])
    from labelop.accounts.services import user_create
    from labelop.core.errors import DomainError

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        _, generated = user_create(actor=None, username=name, site_admin=site_admin,
                                   password=password)
    except DomainError as exc:
        _fail(exc.detail)
    click.echo(f"Created {name}{' (site admin)' if site_admin else ''}.")
    if generated:
        click.echo(f"One-time password (must be changed at first sign-in): {generated}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option("--project", type=int, help="Limit the token to one project (by number).")
@click.option("--expires-in-days", type=click.IntRange(1, 3650))
@click.pass_context
def token_create(ctx: click.Context, username: str, name: str, project: int | None,
                 expires_in_days: int | None) -> None:
    """Create an API token for USERNAME and print it once."""
    _setup(ctx.obj["data_dir"])
    from labelop.accounts.models import User
    from labelop.accounts.services import token_create as create
    from labelop.core.errors import DomainError
    from labelop.permissions import Actor

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        _fail(f"No active user named {username!r}.")
    try:
        _, raw = create(actor=Actor(user=user), name=name, project_id=project,
                        expires_in_days=expires_in_days)
    except DomainError as exc:
        _fail(exc.detail)
    click.echo(raw)


@main.command()
@click.argument("project_id", metavar="PROJECT", type=int)
@click.pass_context
def readiness(ctx: click.Context, project_id: int) -> None:
    """The readiness checks of PROJECT; exits 1 when one fails."""
    _setup(ctx.obj["data_dir"])
    from labelop.privacy.readiness import checks

    found = checks(_project(project_id))
    for check in found:
        click.echo(f"{check.status.upper():5} {check.name}: {check.reason}")
    if any(c.status == "fail" for c in found):
        ctx.exit(1)


@main.command("import")
@click.argument("project_id", metavar="PROJECT", type=int)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes decoding images [LABELOP_IMPORT_WORKERS, default: all cores].")
@click.pass_context
def import_(ctx: click.Context, project_id: int, paths: tuple[str, ...], workers: int | None
            ) -> None:
    """Ingest image files and folders into a project (operator access), with progress."""
    _setup(ctx.obj["data_dir"])
    from django.conf import settings
    from tqdm import tqdm

    from labelop.assets.services import import_files
    from labelop.core.errors import DomainError

    project = _project(project_id)

    def files() -> Iterator[Path]:
        """Walked (twice: a count, then the work) rather than listed: flat memory."""
        for path in map(Path, paths):
            if path.is_file():
                yield path
                continue
            for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
                dirnames.sort()
                yield from (p for name in sorted(filenames) if (p := Path(dirpath, name)).is_file())

    total = sum(1 for _ in files())
    with tqdm(total=total, unit="image", desc=f"importing into {project.name}") as bar:
        try:
            # The operator named these paths: links among them are followed on purpose.
            report = import_files(project=project,
                                  files=((p.name, str(p.resolve())) for p in files()),
                                  created_by=None, via="cli",
                                  workers=workers or settings.LABELOP_IMPORT_WORKERS,
                                  progress=lambda n: bar.update(n - bar.n))
        except DomainError as exc:
            _fail(exc.detail)
    click.echo(f"{report.counts['created']} imported, {report.counts['duplicates']} already "
               f"there, {report.counts['rejected']} refused.")
    for item in report.rejected:
        click.echo(f"  refused {item['name']}: {item['error']['message']}", err=True)


@main.group()
def keys() -> None:
    """Encryption keys of the storage locations."""


@keys.command("rotate")
@click.option("--location", "location_name", help="Re-wrap one location's data keys only.")
@click.option("--customer-key-source", help="The new customer key: env:VARIABLE or file:/path.")
@click.pass_context
def keys_rotate(ctx: click.Context, location_name: str | None,
                customer_key_source: str | None) -> None:
    """Rotate the instance key (re-wrapping every server-mode data key and re-sealing the
    storage credentials), or move one customer-key location to a new key. Images are never
    re-encrypted; a crash midway loses nothing and running it again finishes the job."""
    _setup(ctx.obj["data_dir"])
    from labelop.core.errors import DomainError
    from labelop.storage.models import StorageLocation
    from labelop.storage.services import instance_key_rotate, location_rewrap

    try:
        if location_name is None:
            if customer_key_source:
                _fail("--customer-key-source needs --location.")
            for name, count in instance_key_rotate(actor=None).items():
                click.echo(f"{name}: {count} data keys re-wrapped")
            click.echo("New instance key in use; storage credentials re-sealed.")
            return
        location = StorageLocation.objects.filter(name=location_name).first()
        if location is None:
            _fail(f"No storage location named {location_name!r}.")
        count = location_rewrap(actor=None, location=location,
                                new_customer_key_source=customer_key_source)
    except DomainError as exc:
        _fail(exc.detail)
    click.echo(f"{location_name}: {count} data keys re-wrapped")


@main.group()
def storage() -> None:
    """Storage locations."""


@storage.command("sweep")
@click.option("--location", "location_name", help="One location only (default: all).")
@click.option("--older-than-hours", default=1.0, show_default=True,
              help="Leave younger objects alone: their rows may still be committing.")
@click.option("--delete", is_flag=True, help="Delete them (audited); without it, list only.")
@click.pass_context
def storage_sweep(ctx: click.Context, location_name: str | None, older_than_hours: float,
                  delete: bool) -> None:
    """Objects no row names, left by a process killed between storing an object and
    recording it: listed, or deleted with --delete."""
    _setup(ctx.obj["data_dir"])
    from datetime import timedelta

    from labelop.storage.models import StorageLocation
    from labelop.storage.sweep import storage_sweep as sweep

    locations = StorageLocation.objects.order_by("name")
    if location_name is not None:
        locations = locations.filter(name=location_name)
        if not locations:
            _fail(f"No storage location named {location_name!r}.")
    for location in locations:
        keys = sweep(actor=None, location=location, delete=delete,
                     older_than=timedelta(hours=older_than_hours))
        for key in keys:
            click.echo(f"{location.name}: {key}")
        click.echo(f"{location.name}: {len(keys)} unnamed objects"
                   f"{' deleted' if delete else ''}")


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Recompute the hash chain; exit 1 and name the first broken event if it fails."""
    _setup(ctx.obj["data_dir"])
    from labelop.audit.services import chain_verify

    result = chain_verify(actor=None)
    if result.ok:
        click.echo(f"OK: {result.events} events, head #{result.head_seq} {result.head_hash}")
        return
    _fail(f"BROKEN at event #{result.first_broken_seq}: {result.reason}")


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--project", type=int, help="Only this project's events.")
@click.pass_context
def audit_export(ctx: click.Context, fmt: str, project: int | None) -> None:
    """Write every event (operator access: the whole log) to standard output."""
    _setup(ctx.obj["data_dir"])
    from labelop.audit.export import ExportFormat, serialize
    from labelop.audit.models import AuditEvent
    from labelop.audit.selectors import audit_event_stream

    events = AuditEvent.objects.all()
    if project is not None:
        events = events.filter(project_id=project)
    for chunk in serialize(audit_event_stream(events), ExportFormat(fmt)):
        sys.stdout.write(chunk)


@main.command()
def openapi() -> None:
    """Print the OpenAPI document (committed as openapi.json)."""
    _setup()
    import json

    from labelop.core.api import api

    click.echo(json.dumps(api.get_openapi_schema(), indent=2, sort_keys=True))


@main.group()
def snapshot() -> None:
    """Snapshots: signed manifests of a project's reviewed work."""


def _project(project_id: int) -> Project:
    """The project by number (after _setup), or exit saying there is none."""
    from labelop.projects.models import Project

    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        _fail(f"No project number {project_id}.")
    return project


@snapshot.command("create")
@click.argument("project_id", metavar="PROJECT", type=int)
@click.argument("name")
@click.pass_context
def snapshot_create(ctx: click.Context, project_id: int, name: str) -> None:
    """Snapshot PROJECT now as NAME (operator access), with progress; prints its SHA-256."""
    _setup(ctx.obj["data_dir"])
    from tqdm import tqdm

    from labelop.annotations.models import Task
    from labelop.core.errors import DomainError
    from labelop.releases.services import entering_states, snapshot_create

    project = _project(project_id)
    total = Task.objects.filter(project=project, state__in=entering_states(project)).count()
    with tqdm(total=total, unit="task", desc=f"snapshot of {project.name}") as bar:
        try:
            made = snapshot_create(actor=None, project=project, name=name,
                                   progress=lambda done: bar.update(done - bar.n))
        except DomainError as exc:
            _fail(exc.detail)
        bar.update(total - bar.n)
    click.echo(f"snapshot {made.pk} {made.name!r}: {made.tasks} tasks, {made.shapes} shapes, "
               f"sha256 {made.sha256}")


@snapshot.command("list")
@click.argument("project_id", metavar="PROJECT", type=int)
@click.pass_context
def snapshot_list(ctx: click.Context, project_id: int) -> None:
    """PROJECT's snapshots, newest first."""
    _setup(ctx.obj["data_dir"])
    from labelop.releases.selectors import snapshot_list

    cursor: str | None = None
    while True:
        page = snapshot_list(actor=None, project=_project(project_id), cursor=cursor)
        for s in page.items:
            click.echo(f"{s.pk:>6}  {s.created_at:%Y-%m-%d %H:%M}  {s.status:7}  "
                       f"{s.tasks:>8} tasks  {s.sha256[:16] or '-':16}  {s.name}")
        if not page.next:
            break
        cursor = page.next


@snapshot.command("diff")
@click.argument("first", type=int)
@click.argument("second", type=int)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True)
@click.pass_context
def snapshot_diff(ctx: click.Context, first: int, second: int, fmt: str) -> None:
    """What changed from snapshot FIRST to SECOND: the release report."""
    _setup(ctx.obj["data_dir"])
    import json

    from labelop.core.errors import DomainError
    from labelop.releases import diff
    from labelop.releases.selectors import snapshot_get

    try:
        a = snapshot_get(actor=None, snapshot_id=first, sealed=True)
        b = snapshot_get(actor=None, snapshot_id=second, sealed=True)
        report = diff.release_report(actor=None, a=a, b=b, format=fmt)
    except DomainError as exc:
        _fail(exc.detail)
    click.echo(diff.as_markdown(report) if fmt == "markdown"
               else json.dumps(report, indent=2, ensure_ascii=False))


@snapshot.command("export")
@click.argument("snapshot_id", metavar="SNAPSHOT", type=int)
@click.option("--format", "fmt", type=click.Choice(["coco", "yolo", "voc", "labelop"]),
              required=True)
@click.option("--images", type=click.Choice(["none", "redacted", "original"]), default="none",
              show_default=True, help="Original images only where the profile lets owners.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True)
@click.pass_context
def snapshot_export(ctx: click.Context, snapshot_id: int, fmt: str, images: str,
                    output: str) -> None:
    """Export SNAPSHOT as a zip into OUTPUT (operator access), with progress."""
    _setup(ctx.obj["data_dir"])
    from tqdm import tqdm

    from labelop.core.errors import DomainError
    from labelop.jobs.services import job_run
    from labelop.releases.exports import export_download, export_run, export_start
    from labelop.releases.selectors import snapshot_get

    try:
        snapshot = snapshot_get(actor=None, snapshot_id=snapshot_id, sealed=True)
        export = export_start(actor=None, snapshot=snapshot, format=fmt, images=images,
                              background=False)
        assert export.job_id is not None
        with tqdm(total=snapshot.tasks, unit="task", desc=f"{fmt} export") as bar:
            job_run(export.job_id, lambda job: export_run(
                job, progress=lambda done, total: bar.update(done - bar.n)))
        export, data = export_download(actor=None, export_id=export.pk)
    except DomainError as exc:
        _fail(exc.detail)
    with open(output, "wb") as out:
        for block in data:
            out.write(block)
    click.echo(f"export {export.pk}: {export.size} bytes, sha256 {export.sha256} -> {output}")


@snapshot.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", default=None,
              help="The signer's Ed25519 public key (base64), as GET /api/v1/instance/"
                   "public-key gives it; without it the key inside the file is used.")
def snapshot_verify(path: str, public_key: str | None) -> None:
    """Check a snapshot file's SHA-256 and signature offline, from the file alone."""
    from labelop.releases.signing import verify  # no database, no settings needed

    with open(path, "rb") as f:  # read as a stream: a 100k-task file takes little memory
        ok, reason = verify(iter(lambda: f.read(1 << 20), b""), public_key)
    click.echo(f"{'OK' if ok else 'FAILED'}: {reason}")
    if not ok:
        raise SystemExit(1)
