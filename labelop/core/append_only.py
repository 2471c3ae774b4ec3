"""Database triggers that make a table append-only, on SQLite and PostgreSQL.

Used by migrations (audit events now, snapshots later). Whoever can drop a trigger can
also rewrite rows; the hash chain is what detects that (audit verify names the row).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

# Every append-only table; test fixtures lift these triggers only to empty the database.
APPEND_ONLY_TABLES = ["audit_auditevent", "releases_snapshot"]

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION labelop_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def install_sql(table: str, vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{op} on {table} is refused: the table is append-only');"
            " END"
            for op in ("UPDATE", "DELETE")
        ]
    if vendor == "postgresql":
        return [
            _PG_FUNCTION,
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION labelop_refuse_change()",
            f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION labelop_refuse_change()",
        ]
    raise RuntimeError(f"LabelOp runs on SQLite or PostgreSQL, not {vendor}")


def uninstall_sql(table: str, vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{op}" for op in ("update", "delete")]
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]


def install(connection: BaseDatabaseWrapper, table: str) -> None:
    with connection.cursor() as cursor:
        for statement in install_sql(table, connection.vendor):
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper, table: str) -> None:
    with connection.cursor() as cursor:
        for statement in uninstall_sql(table, connection.vendor):
            cursor.execute(statement)
