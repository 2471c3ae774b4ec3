"""Is this instance working? The public `/health` answer for load balancers and monitoring,
and the fuller `labelop check` an operator runs before starting a deployment.

`/health` answers 200 while the database answers (503 when it does not: that server can do
nothing); storage or queue trouble makes it `degraded`, still 200, since every server shares
it. It names no bucket, path or error text: it is public. `labelop check` says everything.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema

router = Router(tags=["health"])

QUEUE_WAIT_LIMIT = timedelta(minutes=5)  # a job queued longer: no worker is taking jobs
STORAGE_EVERY = 30.0  # seconds between storage probes of one server process


@dataclass
class Check:
    name: str
    ok: bool
    detail: str  # for the operator: may name paths, hosts and errors


# -- the checks --------------------------------------------------------------------------------

def database() -> Check:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    ms = (time.perf_counter() - started) * 1000
    return Check("database", True, f"{connection.vendor}, answered in {ms:.1f} ms")


def migrations() -> Check:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in pending[:3])
        return Check("migrations", False, f"{len(pending)} not applied ({names}"
                     f"{', ...' if len(pending) > 3 else ''}): run `labelop migrate`")
    return Check("migrations", True, "all applied")


def storage() -> Iterator[Check]:
    """Every location stores and returns a probe object; customer keys are at their source
    and are the keys the locations were set up with."""
    from labelop.storage import keys
    from labelop.storage.backends import StorageError
    from labelop.storage.models import Encryption, StorageLocation
    from labelop.storage.services import backend_for

    locations = list(StorageLocation.objects.order_by("pk"))
    if not locations:
        yield Check("storage", True, f"no location yet: the first upload makes one in "
                    f"{settings.DATA_DIR / 'objects'}")
    for location in locations:
        name = f"storage {location.name}"
        where = backend_for(location).where()
        try:
            backend_for(location).check()
            if location.encryption == Encryption.CUSTOMER:
                keys.customer_kek(location.customer_key_source,
                                  location.customer_key_fingerprint)
        except (StorageError, OSError, keys.KeyUnavailable) as exc:
            yield Check(name, False, f"{where}: {exc}")
            continue
        yield Check(name, True, f"{where}, {location.encryption} encryption"
                    + (", the default" if location.is_default else ""))


def queue() -> Check:
    from labelop.jobs.models import Job, JobStatus
    from labelop.jobs.services import STALE_AFTER

    now = timezone.now()
    oldest = (Job.objects.filter(status=JobStatus.QUEUED).order_by("created_at")
              .values_list("created_at", flat=True).first())
    queued = Job.objects.filter(status=JobStatus.QUEUED).count()
    running = Job.objects.filter(status=JobStatus.RUNNING)
    stalled = running.filter(heartbeat_at__lt=now - STALE_AFTER).count()
    waited = (now - oldest) if oldest else timedelta(0)
    detail = (f"{queued} queued (oldest {int(waited.total_seconds())} s), "
              f"{running.count()} running, {stalled} silent for over "
              f"{int(STALE_AFTER.total_seconds() // 60)} min")
    return Check("queue", waited <= QUEUE_WAIT_LIMIT and not stalled, detail)


def data_dir() -> Check:
    """The data dir and the instance secret readable by this account only."""
    path = settings.DATA_DIR
    loose = [p for p in (path, path / "secret_key", path / "keys")
             if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077]
    if loose:
        return Check("data dir", False, "others may read " + ", ".join(map(str, loose))
                     + ": chmod go-rwx")
    if not os.access(path, os.W_OK):
        return Check("data dir", False, f"{path} is not writable by this account")
    return Check("data dir", True, str(path))


def settings_in_use() -> Check:
    problems = []
    if settings.DEBUG:
        problems.append("LABELOP_DEBUG is on: error pages show code and settings")
    public = settings.ENV.public_url
    if public and public.startswith("http://") and "://127.0.0.1" not in public \
            and "://localhost" not in public:
        problems.append(f"LABELOP_PUBLIC_URL {public} is not https: sign-ins cross the "
                        "network in clear")
    if problems:
        return Check("settings", False, "; ".join(problems))
    return Check("settings", True, f"database {connection.vendor}, public URL "
                 f"{public or 'unset (loopback only)'}")


def deployment() -> Iterator[Check]:
    """What `labelop check` runs, in order; a check that cannot run fails with the reason."""
    steps: list[Callable[[], Any]] = [settings_in_use, data_dir, database, migrations, queue,
                                      storage]
    for step in steps:
        try:
            result = step()
            results = [result] if isinstance(result, Check) else list(result)
        except Exception as exc:  # reported; the next check still runs
            results = [Check(step.__name__.replace("_", " "), False,
                             f"{type(exc).__name__}: {exc}")]
        yield from results
        if step in (database, migrations) and not all(r.ok for r in results):
            return  # the checks after these need the database and its tables


# -- the endpoint ----------------------------------------------------------------------------

class PartOut(Schema):
    ok: bool


class HealthOut(Schema):
    status: str  # ok | degraded
    database: str
    storage: PartOut
    queue: PartOut


_probed: dict[str, float | bool] = {"at": 0.0, "ok": True}
_probing = threading.Lock()


def _storage_ok() -> bool:
    """The last storage probe of this process, done again when older than STORAGE_EVERY
    (a public endpoint must not write to storage at every call)."""
    with _probing:
        if time.monotonic() - float(_probed["at"]) > STORAGE_EVERY:
            _probed["ok"] = all(check.ok for check in storage())
            _probed["at"] = time.monotonic()
        return bool(_probed["ok"])


@router.get("/health", auth=None, response=HealthOut, operation_id="core_health_get",
            summary="Liveness: database, storage and job queue (503 when the database is "
                    "down)")
def health(request: HttpRequest, response: HttpResponse) -> dict:
    database()  # a failure answers 503 database_unavailable (core/api.py)
    stored, queued = _storage_ok(), queue().ok
    return {"status": "ok" if stored and queued else "degraded",
            "database": connection.vendor, "storage": {"ok": stored}, "queue": {"ok": queued}}
