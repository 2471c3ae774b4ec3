"""Every operator setting, read once from LABELOP_* variables, typed, failing fast.

docs/deploy.md documents each of these; nothing else in the code reads os.environ.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


class ConfigError(RuntimeError):
    """A setting is present but unusable; the message names it."""


def _int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Env:
    data_dir: Path
    database_url: str | None
    public_url: str | None
    debug: bool
    secure_cookies: bool
    login_failure_limit: int
    login_cooloff_minutes: int
    max_json_body_bytes: int
    token_default_days: int
    trusted_proxy_count: int
    import_roots: tuple[Path, ...]
    max_image_pixels: int
    max_upload_bytes: int
    import_workers: int
    max_request_bytes: int
    max_shapes: int
    inference_threads: int
    redaction_cells: int
    export_days: int
    snapshot_inline_tasks: int

    @classmethod
    def read(cls) -> Env:
        cells = os.environ.get("LABELOP_REDACTION_CELLS", "")
        if cells.isdigit() and int(cells) > 3:  # more keeps features (test_redaction.py)
            raise ConfigError("LABELOP_REDACTION_CELLS must be at most 3: more average colours "
                              "per region would keep recognisable features")
        public_url = os.environ.get("LABELOP_PUBLIC_URL") or None
        if public_url and not public_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"LABELOP_PUBLIC_URL must start with http:// or https://, got {public_url!r}")
        return cls(
            data_dir=Path(os.environ.get("LABELOP_DATA_DIR") or "labelop-data").resolve(),
            database_url=os.environ.get("LABELOP_DATABASE_URL") or None,
            public_url=public_url.rstrip("/") if public_url else None,
            debug=_bool("LABELOP_DEBUG", False),
            # Secure cookies need HTTPS; the default follows the public URL's scheme.
            secure_cookies=_bool(
                "LABELOP_SECURE_COOKIES", bool(public_url and public_url.startswith("https://"))
            ),
            login_failure_limit=_int("LABELOP_LOGIN_FAILURE_LIMIT", 5, minimum=1),
            login_cooloff_minutes=_int("LABELOP_LOGIN_COOLOFF_MINUTES", 15, minimum=1),
            max_json_body_bytes=_int("LABELOP_MAX_JSON_BODY_BYTES", 1_048_576, minimum=1024),
            token_default_days=_int("LABELOP_TOKEN_DEFAULT_DAYS", 90, minimum=1),
            trusted_proxy_count=_int("LABELOP_TRUSTED_PROXY_COUNT", 0),
            import_roots=tuple(Path(p).resolve() for p in
                               os.environ.get("LABELOP_IMPORT_ROOTS", "").split(":") if p),
            max_image_pixels=_int("LABELOP_MAX_IMAGE_PIXELS", 150_000_000, minimum=1),
            max_upload_bytes=_int("LABELOP_MAX_UPLOAD_BYTES", 256 * 1024 * 1024, minimum=1024),
            import_workers=_int("LABELOP_IMPORT_WORKERS", os.cpu_count() or 1, minimum=1),
            max_request_bytes=_int("LABELOP_MAX_REQUEST_BYTES", 2 * 1024**3, minimum=1024**2),
            max_shapes=_int("LABELOP_MAX_SHAPES", 2000, minimum=1),
            inference_threads=_int("LABELOP_INFERENCE_THREADS", 0),
            redaction_cells=_int("LABELOP_REDACTION_CELLS", 3, minimum=1),
            export_days=_int("LABELOP_EXPORT_DAYS", 7, minimum=1),
            snapshot_inline_tasks=_int("LABELOP_SNAPSHOT_INLINE_TASKS", 5000),
        )


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data dir (mode 0700) if missing and return it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return data_dir


def write_once(path: Path, data: bytes) -> None:
    """Create `path` (mode 0600) holding `data` unless it exists: written aside, then linked
    into place, so that concurrent first starts agree on one content."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def instance_secret(data_dir: Path, name: str, nbytes: int = 50) -> str:
    """Read the named secret from the data dir, generating it (mode 0600) on first use.

    No secret ever has a default value in the code: a fresh data dir gets fresh secrets.
    """
    ensure_data_dir(data_dir)
    path = data_dir / name
    if not path.exists():
        write_once(path, secrets.token_urlsafe(nbytes).encode())
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"{path} is empty; delete it to generate a new secret")
    return value
