"""Values a warehouse cannot hold as MySQL does, and what the loader does with them before the COPY.

MySQL (MariaDB) text may hold NUL (U+0000) and its JSON is text: ``"\\u0000"`` escapes and duplicate
keys are kept as written, and JSON_EXTRACT/JSON_VALUE read the **first** of duplicate keys. The
policy per warehouse, applied to each batch before it is sent, so a load never stops on such a
value (before this, one NUL blocked a PostgreSQL table for ever, later clean rows too, with an
error that named no column):

- **PostgreSQL**: text cannot hold NUL, JSONB cannot hold ``\\u0000`` and keeps the *last* of
  duplicate keys. NUL in text becomes U+FFFD (the replacement character); a JSON value with a
  ``\\u0000`` escape or a duplicate key is re-serialised with the first value of each key (MySQL's
  reading) and U+FFFD for NUL. Every change is reported: table, column, how many values, and the
  keys of the first rows.
- **Redshift**: VARCHAR cannot hold NUL either (COPY fails on it); JSON is VARCHAR text, kept as
  written. The same text rule applies wherever the loader sends the values itself (the CSV method).
- **DuckDB**: holds all of it exactly (NUL in VARCHAR, JSON text verbatim, reading the first of
  duplicate keys as MySQL does): nothing is changed. Only DECIMAL wider than 38 digits, which
  DuckDB keeps as text, gets one spelling: MySQL's, with every digit of the scale
  (``0.000000000000000000000000000001``, never ``1E-30`` beside ``1.500000000000000000000000000000``).

Cost: text columns are scanned for a zero byte with numpy (``_may_hold_nul``: 4.8 ms for 56 MB of
text); only JSON columns are parsed in Python
(about 12 µs per 77-byte document on this machine, measured with 200,000 documents; values without
a change keep their original text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPLACEMENT = "\ufffd"
SAMPLE_KEYS = 3
BatchFix = Callable[[pa.RecordBatch], pa.RecordBatch]


@dataclass
class ValueRepairs:
    """What the loader changed so the warehouse could hold the values (for warnings)."""

    table: str
    key_columns: tuple[str, ...] = ()
    found: dict[tuple[str, str], list] = field(default_factory=dict)  # (column, what) -> [count, sample keys]

    def note(self, column: str, what: str, n: int, keys: list[str]) -> None:
        entry = self.found.setdefault((column, what), [0, []])
        entry[0] += n
        entry[1].extend(keys[: SAMPLE_KEYS - len(entry[1])])

    def warnings(self) -> list[str]:
        out = []
        for (column, what), (n, keys) in self.found.items():
            where = f" (first rows: {'; '.join(keys)})" if keys else ""
            out.append(f"{self.table} column {column}: {n:,} value(s) {what}{where}")
        return out


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _may_hold_nul(col: pa.Array) -> bool:
    """A zero byte anywhere in the column's character buffer (a slice's buffer may reach beyond
    it: a hit is confirmed by ``match_substring``). Measured on 200,000 rows x 10 text columns
    (56 MB): 4.8 ms, where ``match_substring`` alone took 316 ms — as long as writing the file."""
    data = col.buffers()[2]
    return data is not None and data.size > 0 and not np.frombuffer(data, dtype=np.uint8).all()


def _nul_mask(col: pa.Array) -> pa.Array | None:
    """Which values hold NUL, or None when none does."""
    if not _may_hold_nul(col):
        return None
    mask = pc.fill_null(pc.match_substring(col, "\x00"), False)
    return mask if pc.any(mask).as_py() else None


def _keys_of(batch: pa.RecordBatch, rows: list[int], key_columns: tuple[str, ...], offset: int) -> list[str]:
    names = [k for k in key_columns if k in batch.schema.names]
    if not names:
        return [f"row {offset + i + 1} of the file" for i in rows[:SAMPLE_KEYS]]
    out = []
    for i in rows[:SAMPLE_KEYS]:
        out.append(", ".join(f"{k}={batch.column(batch.schema.get_field_index(k))[i].as_py()!r}" for k in names))
    return out


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _fix_json(text: str) -> tuple[str | None, bool, bool]:
    """(new text or None when unchanged, had a duplicate key, had NUL)."""
    duplicates = 0

    def first_wins(pairs: list[tuple[str, Any]]) -> dict:
        nonlocal duplicates
        d = dict(pairs)
        if len(d) != len(pairs):  # a duplicate key: MySQL reads the first one
            duplicates += 1
            d = {}
            for k, v in pairs:
                d.setdefault(k, v)
        return d

    try:
        doc = json.loads(text, object_pairs_hook=first_wins)
    except ValueError:
        return None, False, False  # not JSON: left to the warehouse, which names the column
    nul = "\\u0000" in text
    if not duplicates and not nul:
        return None, False, False
    if nul:
        doc = _without_nul(doc)
    return json.dumps(doc, ensure_ascii=False), duplicates > 0, nul


class PostgresValues:
    """The PostgreSQL rule (module docstring) as a batch -> batch function for one file."""

    def __init__(self, repairs: ValueRepairs, json_columns: set[str], text_holder: str = "PostgreSQL text"):
        self.repairs = repairs
        self.json_columns = json_columns
        self.text_holder = text_holder  # who cannot hold NUL, for the warning (Redshift's CSV method uses the text rule too)
        self.offset = 0  # rows of the file before this batch (for keyless tables' messages)

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays, changed = list(batch.columns), False
        for i, f in enumerate(batch.schema):
            if not _is_text(f.type):
                continue
            col = arrays[i]
            if f.name in self.json_columns:
                col, hit = self._json(batch, f.name, col)
                changed |= hit
            mask = _nul_mask(col)
            if mask is not None:
                rows = pc.indices_nonzero(mask).to_pylist()
                self.repairs.note(f.name, f"held NUL bytes, which {self.text_holder} cannot: stored with U+FFFD in their place",
                                  len(rows), _keys_of(batch, rows, self.repairs.key_columns, self.offset))
                col = pc.replace_substring(col, "\x00", REPLACEMENT)
                changed = True
            arrays[i] = col
        self.offset += batch.num_rows
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema) if changed else batch

    def _json(self, batch: pa.RecordBatch, name: str, col: pa.Array) -> tuple[pa.Array, bool]:
        values = col.to_pylist()
        dups: list[Any] = []
        nuls: list[Any] = []
        for i, v in enumerate(values):
            if v is None:
                continue
            new, dup, nul = _fix_json(v)
            if new is not None:
                values[i] = new
                (dups if dup else nuls).append(i)
                if dup and nul:
                    nuls.append(i)
        if dups:
            self.repairs.note(name, "had duplicate JSON keys: loaded with the first value of each key, as MySQL reads them "
                              "(JSONB would keep the last)", len(dups), _keys_of(batch, dups, self.repairs.key_columns, self.offset))
        if nuls:
            self.repairs.note(name, "had \\u0000 in JSON strings, which JSONB cannot hold: stored as U+FFFD",
                              len(nuls), _keys_of(batch, nuls, self.repairs.key_columns, self.offset))
        if not dups and not nuls:
            return col, False
        return pa.array(values, col.type), True


NUL_TEXT_KEY = b"s3rb.text_with_nul"  # Parquet key-value metadata: JSON list of text columns holding NUL


def mark_nul_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with ``NUL_TEXT_KEY`` naming its text columns that hold NUL (none: unchanged).

    Written by the backup into each file's footer, so a loader that never reads the values — a
    Redshift COPY straight from S3, which fails on NUL — knows from the footer which files need
    the text rule (the Redshift loader sends those by its CSV method, through ``PostgresValues``).
    One numpy scan per text column (``_may_hold_nul``)."""
    found = [f.name for f, col in zip(batch.schema, batch.columns) if _is_text(f.type) and _nul_mask(col) is not None]
    if not found:
        return batch
    return batch.replace_schema_metadata({**(batch.schema.metadata or {}), NUL_TEXT_KEY: json.dumps(found).encode()})


def nul_text_columns(metadata: dict | None) -> tuple[str, ...]:
    """The columns ``mark_nul_text`` named in a file's key-value metadata."""
    raw = (metadata or {}).get(NUL_TEXT_KEY)
    return tuple(json.loads(raw)) if raw else ()


def decimal_text(col: pa.Array) -> pa.Array:
    """A DECIMAL wider than 38 digits as MySQL spells it: positional, every digit of the scale
    (Arrow's cast writes ``1E-30`` for some values and positional text for others)."""
    return pa.array([None if v is None else format(v, "f") for v in col.to_pylist()], pa.string())
