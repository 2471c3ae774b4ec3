"""A hot query compiled once per process.

On a small read, Django spends longer building and compiling a queryset than the database
takes to answer it: for the editor's task read on PostgreSQL, about 40% of the request
(docs/benchmarks.md, labelling). A `Prepared` query is built once with marker values; each
call runs its SQL with the real values and makes model instances as Django's ModelIterable
does, select_related and annotations included.

Only values may vary: the build must pass each argument to the query as a plain parameter
(`pk=task_id`, not `name__contains=name` nor `pk=min(task_id, n)`). The first call compiles
the build twice, with two sets of markers, and refuses it unless the two differ in exactly
the arguments' places. Anything else the build reads is fixed at its first call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)

_BIGINT = (-(2**63), 2**63 - 1)
# Values no real query passes, one per argument and turn, by the argument's type: positive
# 32-bit ints (a negative or larger one is out of some fields' range, and Django drops the
# condition), strings of other lengths and cases in the two turns.
_MARKERS: dict[type, Callable[[int, int], Any]] = {
    int: lambda i, turn: 2_100_000_000 + 1000 * turn + i,
    str: lambda i, turn: f"\x1fLabelOp-Prepared-{i}" if turn else f"\x1fprepared{i}",
}


@dataclass(frozen=True)
class _Compiled:
    alias: str
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]  # argument -> where its value goes in params
    compiler: SQLCompiler  # what turns rows into instances: klass_info, annotation_col_map
    locks: bool  # select_for_update: only inside a transaction, as Django requires
    converters: dict
    init_list: list[str]
    fields: slice
    populators: list


class Prepared(Generic[M]):
    """`build(**markers)` makes the queryset; `kinds` names each argument's type."""

    def __init__(self, build: Callable[..., QuerySet[M]], **kinds: type) -> None:
        self._build, self._kinds = build, kinds
        self._compiled: _Compiled | None = None

    def all(self, **values: Any) -> list[M]:
        """The rows for these values, as model instances."""
        compiled = self._compiled or self._compile()
        if any(not _BIGINT[0] <= values[name] <= _BIGINT[1]
               for name, kind in self._kinds.items() if kind is int):
            return []  # no row has such an id; as the ORM does, not a database error
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            for position in positions:
                params[position] = values[name]
        connection = connections[compiled.alias]
        if compiled.locks and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction.")
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        model = compiled.compiler.klass_info["model"]
        found = []
        for row in rows:
            obj = model.from_db(compiled.alias, compiled.init_list, row[compiled.fields])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in compiled.compiler.annotation_col_map.items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found

    def one(self, **values: Any) -> M | None:
        """The row for these values (a query by a unique key), or None."""
        found = self.all(**values)
        return found[0] if found else None

    def _compile(self) -> _Compiled:
        queryset, compiler, sql, params = self._sql(0)
        _, _, other_sql, other_params = self._sql(1)
        first, second = self._markers(0), self._markers(1)
        slots = {name: tuple(i for i, p in enumerate(params) if p == marker)
                 for name, marker in first.items()}
        # The second turn's markers put in the first turn's places must give the second
        # turn's query exactly: nothing else moved with them, nothing rewrote them.
        expected = list(params)
        for name, positions in slots.items():
            for i in positions:
                expected[i] = second[name]
        if other_sql != sql or not all(slots.values()) or other_params != expected:
            raise ValueError("each argument must be a plain parameter of the query")
        columns = compiler.klass_info["select_fields"]
        fields = slice(columns[0], columns[-1] + 1)
        self._compiled = _Compiled(
            alias=queryset.db, sql=sql, params=tuple(params), slots=slots, compiler=compiler,
            locks=queryset.query.select_for_update,
            converters=compiler.get_converters(
                [column[0] for column in compiler.select[:compiler.col_count]]),
            init_list=[column[0].target.attname for column in compiler.select[fields]],
            fields=fields,
            # Django 5.2's signature; the stubs already describe 6.0's (fetch_mode).
            populators=get_related_populators(  # type: ignore[call-arg]
                compiler.klass_info, compiler.select, queryset.db))
        return self._compiled

    def _markers(self, turn: int) -> dict[str, Any]:
        return {name: _MARKERS[kind](i, turn) for i, (name, kind) in
                enumerate(self._kinds.items())}

    def _sql(self, turn: int) -> tuple[QuerySet[M], SQLCompiler, str, list]:
        queryset = self._build(**self._markers(turn))
        if (queryset._iterable_class is not ModelIterable
                or queryset._prefetch_related_lookups):  # type: ignore[attr-defined]
            raise ValueError("a prepared query makes model instances, without prefetches")
        compiler = queryset.query.get_compiler(using=queryset.db)
        try:  # also fills select, klass_info and annotation_col_map
            sql, params = compiler.as_sql()
        except (EmptyResultSet, FullResultSet) as exc:  # Django dropped a condition
            raise ValueError("each argument must be a plain parameter of the query") from exc
        return queryset, compiler, sql, list(params)
