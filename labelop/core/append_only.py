"""Database triggers that make a table append-only, on SQLite and PostgreSQL.

Used by migrations (audit events now, snapshots later). Whoever can drop a trigger can
also rewrite rows; the hash chain is what detects that (audit verify names the row).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

# Every append-only table; test fixtures lift these triggers only to empty the database.
APPEND_ONLY_TABLES = ["audit_auditevent", "releases_snapshot"]
# Rows that may still change while this holds, once (a snapshot a job is writing is sealed
# when done); no row is ever deleted.
MUTABLE_WHILE = {"releases_snapshot": (
    "OLD.status = 'pending' AND NEW.status IN ('sealed', 'failed') "
    "AND NEW.project_id = OLD.project_id AND NEW.name = OLD.name")}

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION labelop_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def install_sql(table: str, vendor: str, unless: str | None = None) -> list[str]:
    """The triggers of an append-only table; with `unless`, an UPDATE is let through while
    that condition on the old row holds (each migration names the condition of its time)."""
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
            + (f"WHEN NOT ({unless}) " if unless and op == "UPDATE" else "")
            + f"BEGIN SELECT RAISE(ABORT, '{op} on {table} is refused: the table is "
            "append-only'); END"
            for op in ("UPDATE", "DELETE")
        ]
    if vendor == "postgresql":
        refuse = "EXECUTE FUNCTION labelop_refuse_change()"
        rows = ([f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE DELETE ON {table} "
                 f"FOR EACH ROW {refuse}",
                 f"CREATE OR REPLACE TRIGGER {table}_sealed BEFORE UPDATE ON {table} "
                 f"FOR EACH ROW WHEN (NOT ({unless})) {refuse}"] if unless else
                [f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON "
                 f"{table} FOR EACH ROW {refuse}"])
        return [_PG_FUNCTION, *rows,
                f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT {refuse}"]
    raise RuntimeError(f"LabelOp runs on SQLite or PostgreSQL, not {vendor}")


def uninstall_sql(table: str, vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{op}" for op in ("update", "delete")]
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_sealed ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]


def install(connection: BaseDatabaseWrapper, table: str, unless: str | None = None) -> None:
    with connection.cursor() as cursor:
        for statement in install_sql(table, connection.vendor, unless):
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper, table: str) -> None:
    with connection.cursor() as cursor:
        for statement in uninstall_sql(table, connection.vendor):
            cursor.execute(statement)
