"""Redshift's statements on real PostgreSQL: what PostgreSQL can run of the Redshift load path.

No Redshift cluster is reachable here. ``StandInConnection`` wraps a real psycopg2 connection to
PostgreSQL and hands every statement ``RedshiftWarehouse`` sends to the server, with the few
differences of Redshift emulated, each the way AWS documents it:

- **Names** ("Names and identifiers", ``enable_case_sensitive_identifier``): ASCII letters of quoted
  identifiers are folded to lower case unless the session set the parameter on. Catalog look-ups
  by parameter are not folded, as on Redshift: a loader that looks up an unfolded name misses.
- **COPY from S3**: the manifest is read from the store, every entry must be ``mandatory`` with the
  object's exact ``meta.content_length``; a Parquet COPY is positional (no column list allowed; the
  file's columns go into the table's columns in order, and a different count fails, as
  "Unmatched number of columns between table and file" does); the CSV method's gzipped files are
  parsed with ``NULL AS`` (text columns into a text stage, then cast: VARBYTE hex decoded).
  ``pg_last_copy_count()`` answers the last COPY's rows.
- **DDL**: ``VARBYTE(n)`` becomes ``BYTEA``; ``DISTKEY``/``SORTKEY`` lines are dropped;
  ``CREATE OR REPLACE VIEW`` is refused unless the new query yields the identical columns (names
  and types) of the existing view ("CREATE VIEW"; PostgreSQL would accept columns appended).

SYS/STL views do not exist here: their queries fail as on a server without them. Nothing else is
changed; every other statement runs on PostgreSQL as sent.
"""

from __future__ import annotations

import gzip
import io
import json
import re

import psycopg2
import pytest

from s3rb_tui.engine.core.events import LogEvent
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.warehouses.files import ChunkReader, csv_chunks
from s3rb_tui.settings import build_settings

_COPY = re.compile(r"^COPY (?P<dest>\S+)(?: \((?P<cols>[^)]*)\))?\nFROM '(?P<url>[^']+)'\n(?P<rest>.*)$", re.S)


def fold_quoted(text: str) -> str:
    """Lower-case the ASCII letters of every double-quoted identifier outside string literals."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            j = i + 1
            while j < n:
                if text[j] == "'" and j + 1 < n and text[j + 1] == "'":
                    j += 2
                    continue
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            out.append(text[i:j + 1])
            i = j + 1
        elif ch == '"':
            j = text.index('"', i + 1)
            out.append(text[i:j + 1].lower())
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class StandInCursor:
    def __init__(self, conn: "StandInConnection"):
        self._conn = conn
        self._cur = conn.raw.cursor()
        self._result: list | None = None

    # --- what psycopg2.extras needs of a cursor ------------------------------------------
    @property
    def connection(self):
        return self._conn.raw

    def mogrify(self, *args, **kwargs):
        return self._cur.mogrify(*args, **kwargs)

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._cur.close()

    def close(self):
        self._cur.close()

    # --- statements -----------------------------------------------------------------------
    def execute(self, statement, params=None):
        text = statement.decode() if isinstance(statement, bytes) else statement
        self._result = None
        m = re.match(r"^SET enable_case_sensitive_identifier TO (true|false)$", text.strip(), re.I)
        if m:
            self._conn.case_sensitive = m.group(1).lower() == "true"
            return
        if text.strip() == "SELECT pg_last_copy_count()":
            self._result = [(self._conn.last_copy_count,)]
            return
        if not self._conn.case_sensitive:
            text = fold_quoted(text)
        copy = _COPY.match(text)
        if copy and copy.group("url").startswith("s3://"):
            self._conn.last_copy_count = self._copy(copy)
            return
        view = re.match(r"^CREATE OR REPLACE VIEW (\S+) AS\n(.*)$", text, re.S)
        if view:
            self._refuse_changed_view(view.group(1), view.group(2))
        text = re.sub(r"VARBYTE\(\d+\)", "BYTEA", text, flags=re.I)
        text = re.sub(r"\n(DISTKEY|SORTKEY)\([^)]*\)", "", text)
        self._cur.execute(text, params)

    def fetchone(self):
        if self._result is not None:
            return self._result.pop(0) if self._result else None
        return self._cur.fetchone()

    def fetchall(self):
        if self._result is not None:
            rows, self._result = self._result, []
            return rows
        return self._cur.fetchall()

    def _refuse_changed_view(self, view: str, query: str) -> None:
        self._cur.execute("SELECT to_regclass(%s)", (view,))
        if self._cur.fetchone()[0] is None:
            return
        def shape(sql, params=None):
            self._cur.execute(sql, params)
            return [(d.name, d.type_code) for d in self._cur.description]
        if shape(f"SELECT * FROM {view} LIMIT 0") != shape(f"SELECT * FROM ({query}) q LIMIT 0"):
            raise psycopg2.errors.InvalidTableDefinition(f"cannot change number of columns in view {view} (CREATE OR REPLACE VIEW "
                                                         "needs the identical columns)")

    # --- COPY … FROM 's3://…' MANIFEST ------------------------------------------------------
    def _manifest_files(self, url: str) -> list[str]:
        store = self._conn.store
        manifest = json.loads(store.get(url.split("/", 3)[3])[0])
        keys = []
        for e in manifest["entries"]:
            key = e["url"].split("/", 3)[3]
            info = store.head(key)
            if not e.get("mandatory") or info is None or e.get("meta", {}).get("content_length") != info.size:
                raise psycopg2.errors.InvalidParameterValue(f"manifest entry {e} is not a mandatory file of its exact length")
            keys.append(key)
        return keys

    def _copy(self, m: re.Match) -> int:
        dest, cols, rest = m.group("dest"), m.group("cols"), m.group("rest")
        files = self._manifest_files(m.group("url"))
        if "FORMAT AS PARQUET" in rest:
            if cols:
                raise psycopg2.errors.SyntaxError("column list is not supported for COPY from columnar data formats")
            total = 0
            for key in files:  # positional: the file's columns into the table's, in order
                reader = ChunkReader(csv_chunks(self._conn.store, key, None))
                self._cur.copy_expert(f"COPY {dest} FROM STDIN WITH (FORMAT csv)", reader)
                total += self._cur.rowcount
            return total
        null = re.search(r"NULL AS '((?:[^'\\]|\\.)*)'", rest).group(1).replace("\\\\", "\\")
        names = [c.strip() for c in cols.split(",")] if cols else None
        self._cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                          "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (dest,))
        types = dict(self._cur.fetchall())
        names = [n.strip('"') for n in names] if names else list(types)
        text_stage = ", ".join(f'"{n}" TEXT' for n in names)
        self._cur.execute(f'CREATE TEMP TABLE "s3rb_standin_csv" ({text_stage})')
        total = 0
        for key in files:
            body = gzip.decompress(self._conn.store.get(key)[0])
            self._cur.copy_expert(f"COPY \"s3rb_standin_csv\" FROM STDIN WITH (FORMAT csv, NULL '{null}')", io.BytesIO(body))
            total += self._cur.rowcount
        casts = ", ".join(f"decode(\"{n}\", 'hex')" if types[n] == "bytea" else f'"{n}"::{types[n]}' for n in names)
        self._cur.execute(f"INSERT INTO {dest} ({', '.join(chr(34) + n + chr(34) for n in names)}) SELECT {casts} FROM \"s3rb_standin_csv\"")
        self._cur.execute('DROP TABLE "s3rb_standin_csv"')
        return total


class StandInConnection:
    """A psycopg2 connection to PostgreSQL that speaks to ``RedshiftWarehouse`` like a cluster."""

    def __init__(self, raw, store):
        self.raw = raw
        self.store = store
        self.case_sensitive = False  # Redshift's default; the warehouse sets it off explicitly anyway
        self.last_copy_count = -1

    def cursor(self) -> StandInCursor:
        return StandInCursor(self)

    def commit(self):
        self.raw.commit()

    def rollback(self):
        self.raw.rollback()

    def close(self):
        self.raw.close()

    @property
    def autocommit(self):
        return self.raw.autocommit

    @autocommit.setter
    def autocommit(self, value):
        self.raw.autocommit = value


def open_standin(settings, store):
    """A RedshiftWarehouse on the PostgreSQL that REDSHIFT_HOST/PORT/… name, loading from ``store``."""
    from s3rb_tui.engine.warehouses.postgres import connect
    from s3rb_tui.engine.warehouses.redshift import RedshiftWarehouse

    raw = connect(settings)
    where = f"{settings.str('REDSHIFT_HOST')}:{settings.int('REDSHIFT_PORT')}/{settings.str('REDSHIFT_DATABASE')} (PostgreSQL stand-in)"
    return RedshiftWarehouse(StandInConnection(raw, store), settings, store, where)


def standin_workspace(settings):
    """A Workspace whose warehouse is the stand-in (everything else as configured)."""
    from s3rb_tui.engine.wiring.workspace import Workspace

    class StandInWorkspace(Workspace):
        def open_warehouse(self, reading: bool = False, log=None):  # Workspace.open_warehouse's signature (reading: the same stand-in)
            wh = open_standin(self.settings, self.store)
            if log is not None:
                wh.log = log
            return wh

    return StandInWorkspace(settings)


class Logged(list):
    """The statements the warehouse logged (debug lines with a ``statement``), as a JobContext sink."""

    def __bool__(self):  # a sink, even while empty
        return True

    def __call__(self, event):
        if isinstance(event, LogEvent) and "statement" in event.fields:
            self.append(event.fields["statement"])


@pytest.fixture
def standin(pg_db, make_env):
    """make(**settings) -> (workspace whose warehouse is the stand-in, JobContext, logged statements)."""
    def make(**overrides):
        settings = build_settings(make_env(WAREHOUSE_DIALECT="redshift", **overrides))
        logged = Logged()
        return standin_workspace(settings), JobContext("test", sink=logged), logged
    return make
