"""One side of a verify (the source table, or the warehouse relation it is compared with): the
queries of a key-range segment, built from the canonical row text (``engine/core/checksum.py``) and the
keyset module's key expressions (``sources/keyset.py``: the same ``(k1, k2) > (v1, v2)`` a backup
pages with, so a segment edge means on each side what that side's ORDER BY means).

A segment is ``(lo, hi)``: keys strictly after ``lo`` and at most ``hi`` (None: open). Its
checksum is (rows, sum of the rows' 60-bit hashes, sum of the side kinds' hashes); a fetch
returns its rows as ``{key text: SideRow}`` — bounded by the bisection's fetch size, never by
the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, Sequence

from s3rb_tui.engine.core.checksum import SEPARATOR, CanonicalSQL, Field, side_text, text_hash
from s3rb_tui.engine.core.type_rules import TableSchema
from s3rb_tui.engine.sources.keyset import Clause, Keyset, json_safe

Segment = tuple["tuple[Any, ...] | None", "tuple[Any, ...] | None"]
Buckets = tuple[int, "tuple[int, ...]"]  # (modulus, residues): keys whose bucket number mod modulus is one of them
LOOKUP_CHUNK = 200  # keys per equality lookup (an OR of ANDs: every dialect's planner uses the key)


def _safe(value: Any) -> Any:
    return json_safe(bytes(value) if isinstance(value, memoryview) else value)


class Queries(Protocol):
    def rows(self, sql: str, params: list[Any]) -> list[tuple]: ...

    def stream(self, sql: str, params: list[Any], size: int = 10_000) -> Iterator[list[tuple]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Checksum:
    rows: int
    total: int
    side_total: int = 0


@dataclass(frozen=True)
class SideRow:
    key: tuple[Any, ...]  # JSON-safe key values as this side's driver returned them
    values: tuple[str, ...]  # canonical text per compared field
    late: bool = False  # source only: the row's cursor is past the watermark (not yet synced)


class Side:
    """``relation``: what FROM reads (a table, or an append table's ``_latest`` view);
    ``where``: a filter every query of this side adds (the watermark's bound, ``--since``);
    ``late``: source only, an SQL truth value "this row is past the watermark" with its parameters."""

    def __init__(self, name: str, canon: CanonicalSQL, keyset: Keyset, relation: str, schema: TableSchema,
                 fields: Sequence[Field], key_fields: Sequence[Field], where: Clause | None = None,
                 late: Clause | None = None, raw_select: Callable[[Field], str] | None = None):
        self.name, self.canon, self.keyset, self.relation, self.schema = name, canon, keyset, relation, schema
        self.fields, self.key_fields = list(fields), list(key_fields)
        self.where, self.late = where, late
        self.sql_fields = [f for f in self.fields if f.in_sql]
        self.side_fields = [f for f in self.fields if not f.in_sql]
        self.raw_select = raw_select or (lambda f: self.keyset.ref(f.name))
        self.key_text = canon.row_text(self.key_fields, self.keyset.ref)
        self.row_text = canon.row_text(self.key_fields + [f for f in self.sql_fields if f not in self.key_fields], self.keyset.ref)
        self.pk = tuple(f.name for f in self.key_fields)

    # --- predicates ------------------------------------------------------------------
    def _range(self, seg: Segment, filtered: bool = True) -> Clause:
        lo, hi = seg
        parts: list[str] = []
        params: list[Any] = []
        if lo is not None:
            sql, more = self.keyset.key_after(self.pk, lo)
            parts.append(sql)
            params += more
        if hi is not None:
            sql, more = self.keyset.key_after(self.pk, hi)
            parts.append(f"NOT {sql}")
            params += more
        if filtered and self.where is not None:
            parts.append(f"({self.where[0]})")
            params += self.where[1]
        return (" AND ".join(parts) or "1 = 1"), params

    def _equal(self, keys: Sequence[Sequence[Any]]) -> Clause:
        ors, params = [], []
        for key in keys:
            ands = []
            for name, value in zip(self.pk, key):
                sql, more = self.keyset.rules.equal(self.keyset.ref(name), self.schema.column(name), value)
                ands.append(sql)
                params += more
            ors.append("(" + " AND ".join(ands) + ")")
        return "(" + " OR ".join(ors) + ")", params

    def _bucket(self, buckets: "Buckets") -> Clause:
        """Rows in ``buckets`` (modulus, residues), filtered like every query of this side."""
        mod, residues = buckets
        where, params = self._range((None, None))
        b = f"MOD({self.canon.bucket(self.key_text)}, {int(mod)})"
        return f"{where} AND {b} IN ({', '.join(str(int(r)) for r in residues)})", params

    def bucket_checksums(self, q: Queries, parent: "Buckets | None", modulus: int) -> dict[int, Checksum]:
        """Checksums of the buckets of ``modulus`` (within ``parent``'s buckets): one scan, grouped."""
        where, params = self._bucket(parent) if parent is not None else self._range((None, None))
        b = f"MOD({self.canon.bucket(self.key_text)}, {int(modulus)})"
        rows = q.rows(f"SELECT {b}, COUNT(*), {self.canon.hash_sum(self.row_text)} FROM {self.relation} WHERE {where} GROUP BY {b}",
                      params)
        side: dict[int, int] = {}
        if self.side_fields:
            raw = ", ".join(self.raw_select(f) for f in self.side_fields)
            for chunk in q.stream(f"SELECT {b}, {self.key_text}, {raw} FROM {self.relation} WHERE {where}", params):
                for row in chunk:
                    side[int(row[0])] = side.get(int(row[0]), 0) + text_hash(self._side_line(row[1], row[2:]))
        return {int(r): Checksum(int(n), int(total or 0), side.get(int(r), 0)) for r, n, total in rows}

    def fetch_buckets(self, q: Queries, buckets: "Buckets") -> dict[str, SideRow]:
        select, params = self._select(False)
        where, more = self._bucket(buckets)
        return self._rows(q.rows(f"SELECT {select} FROM {self.relation} WHERE {where}", params + more), False)

    # --- queries ---------------------------------------------------------------------
    def checksum(self, q: Queries, seg: Segment) -> Checksum:
        where, params = self._range(seg)
        rows, total = q.rows(f"SELECT COUNT(*), {self.canon.hash_sum(self.row_text)} FROM {self.relation} WHERE {where}", params)[0]
        side_total = 0
        if self.side_fields and rows:
            raw = ", ".join(self.raw_select(f) for f in self.side_fields)
            for chunk in q.stream(f"SELECT {self.key_text}, {raw} FROM {self.relation} WHERE {where}", params):
                for row in chunk:
                    side_total += text_hash(self._side_line(row[0], row[1:]))
        return Checksum(int(rows), int(total or 0), side_total)

    def _side_line(self, key_text: str, raw: Sequence[Any]) -> str:
        return SEPARATOR.join([key_text] + [side_text(f.kind, v) for f, v in zip(self.side_fields, raw)])

    def bounds(self, q: Queries, seg: Segment) -> tuple[Any, Any] | None:
        """(smallest, largest) value of a single-column key in the segment (None: no rows)."""
        where, params = self._range(seg)
        ref = self.keyset.ref(self.pk[0])
        lo, hi = q.rows(f"SELECT MIN({ref}), MAX({ref}) FROM {self.relation} WHERE {where}", params)[0]
        return None if lo is None else (_safe(lo), _safe(hi))

    def every_nth_key(self, q: Queries, seg: Segment, step: int) -> list[tuple[Any, ...]]:
        """The keys at positions step, 2*step, ... of the segment in key order (streamed: memory is
        the keys kept)."""
        where, params = self._range(seg)
        cols = ", ".join(self.keyset.ref(k) for k in self.pk)
        out, seen = [], 0
        for chunk in q.stream(f"SELECT {cols} FROM {self.relation} WHERE {where} ORDER BY {self.keyset.key_order_by()}", params):
            for row in chunk:
                seen += 1
                if seen % step == 0:
                    out.append(tuple(_safe(v) for v in row))
        return out

    def _select(self, with_late: bool) -> tuple[str, list[Any]]:
        cols = [self.key_text] + [self.keyset.ref(k) for k in self.pk]
        cols += [self.canon.field(f, self.keyset.ref(f.name)) for f in self.sql_fields]
        cols += [self.raw_select(f) for f in self.side_fields]
        params: list[Any] = []
        if with_late and self.late is not None:
            cols.append(f"CASE WHEN {self.late[0]} THEN 1 ELSE 0 END")
            params = list(self.late[1])
        return ", ".join(cols), params

    def _rows(self, rows: list[tuple], with_late: bool) -> dict[str, SideRow]:
        n_key, n_sql = len(self.pk), len(self.sql_fields)
        fix = self.canon.fix_field
        out = {}
        for row in rows:
            values = tuple(fix(f.kind, v) for f, v in zip(self.sql_fields, row[1 + n_key:1 + n_key + n_sql]))
            side = tuple(side_text(f.kind, v) for f, v in zip(self.side_fields, row[1 + n_key + n_sql:]))
            late = bool(row[-1]) if with_late and self.late is not None else False
            out[row[0]] = SideRow(tuple(_safe(v) for v in row[1:1 + n_key]), values + side, late)
        return out

    def fetch(self, q: Queries, seg: Segment) -> dict[str, SideRow]:
        select, params = self._select(False)
        where, more = self._range(seg)
        return self._rows(q.rows(f"SELECT {select} FROM {self.relation} WHERE {where}", params + more), False)

    def lookup(self, q: Queries, keys: Sequence[Sequence[Any]]) -> dict[str, SideRow]:
        """The rows with exactly these keys, unfiltered (a key the other side has outside its order,
        or past the watermark: ``SideRow.late``)."""
        out: dict[str, SideRow] = {}
        select, params = self._select(True)
        for i in range(0, len(keys), LOOKUP_CHUNK):
            where, more = self._equal(keys[i:i + LOOKUP_CHUNK])
            out.update(self._rows(q.rows(f"SELECT {select} FROM {self.relation} WHERE {where}", params + more), True))
        return out

    def count(self, q: Queries, where: Clause | None = None) -> int:
        sql = f"SELECT COUNT(*) FROM {self.relation}"
        if where is not None:
            sql += f" WHERE {where[0]}"
        return int(q.rows(sql, list(where[1]) if where else [])[0][0])

    @property
    def compared(self) -> list[str]:
        return [f.name for f in self.sql_fields] + [f.name for f in self.side_fields]
