"""A hot query compiled once per process.

On a small read, Django spends longer building and compiling a queryset than the database
takes to answer it: for the editor's task read on PostgreSQL, about 40% of the request
(docs/benchmarks.md, labelling). A `Prepared` query is built once with marker values; each
call runs its SQL with the real values and makes model instances as Django's ModelIterable
does, select_related and annotations included.

Only values may vary: the build must pass each argument to the query as a plain parameter
(`pk=task_id`, not `name__contains=name`, which Django rewrites; that is refused when the
query is first compiled). Anything else the build reads is fixed at its first call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=Model)

_BIGINT = (-(2**63), 2**63 - 1)
# A value no real query passes, one per argument, by the argument's type.
_MARKERS: dict[type, Callable[[int], Any]] = {
    int: lambda i: -(7_000_000_000_000 + i),
    str: lambda i: f"\x1flabelop-prepared-{i}",
}


@dataclass(frozen=True)
class _Compiled:
    alias: str
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]  # argument -> where its value goes in params
    compiler: SQLCompiler  # what turns rows into instances: klass_info, annotation_col_map
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
        with connections[compiled.alias].cursor() as cursor:
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
        markers = {name: _MARKERS[kind](i) for i, (name, kind) in enumerate(self._kinds.items())}
        queryset = self._build(**markers)
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()  # also fills select, klass_info and annotation_col_map
        slots = {name: tuple(i for i, p in enumerate(params) if p == marker)
                 for name, marker in markers.items()}
        missing = [name for name, positions in slots.items() if not positions]
        if missing:
            raise ValueError(f"{', '.join(missing)}: not a plain parameter of the query")
        columns = compiler.klass_info["select_fields"]
        fields = slice(columns[0], columns[-1] + 1)
        self._compiled = _Compiled(
            alias=queryset.db, sql=sql, params=tuple(params), slots=slots, compiler=compiler,
            converters=compiler.get_converters(
                [column[0] for column in compiler.select[:compiler.col_count]]),
            init_list=[column[0].target.attname for column in compiler.select[fields]],
            fields=fields,
            # Django 5.2's signature; the stubs already describe 6.0's (fetch_mode).
            populators=get_related_populators(  # type: ignore[call-arg]
                compiler.klass_info, compiler.select, queryset.db))
        return self._compiled
