"""What load tests share: statements run on the test's MariaDB database, and queries against the
test's warehouse (DuckDB file or PostgreSQL database), read back without the engine's code."""

from __future__ import annotations

from tests.support import mariadb, postgres


def mysql(server, db, *statements):
    """Run ``statements`` in order on database ``db`` of ``server`` (autocommit)."""
    conn = mariadb.connect(server, db)
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s)
    finally:
        conn.close()



class Warehouse:
    """Queries against the test's warehouse, whichever it is."""

    def __init__(self, dialect, tmp_path, request):
        self.dialect = dialect
        if dialect == "duckdb":
            self.path = tmp_path / "wh.duckdb"
            self.env = {"WAREHOUSE_DIALECT": "duckdb", "DUCKDB_PATH": str(self.path)}
        else:
            self.pg = request.getfixturevalue("pg_db")
            self.env = {"WAREHOUSE_DIALECT": "postgres", "REDSHIFT_HOST": self.pg["host"], "REDSHIFT_PORT": str(self.pg["port"]),
                        "REDSHIFT_USER": self.pg["user"], "REDSHIFT_PASSWORD": self.pg["password"], "REDSHIFT_DATABASE": self.pg["dbname"]}

    def q(self, sql):
        if self.dialect == "duckdb":
            import duckdb

            con = duckdb.connect(str(self.path), read_only=True)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        conn = postgres.connect(self.pg, self.pg["dbname"])
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def run(self, *statements):
        """Run ``statements`` in order on the warehouse, committed (changes behind the engine's back)."""
        if self.dialect == "duckdb":
            import duckdb

            con = duckdb.connect(str(self.path))
            try:
                for s in statements:
                    con.execute(s)
            finally:
                con.close()
            return
        conn = postgres.connect(self.pg, self.pg["dbname"])
        try:
            with conn.cursor() as cur:
                for s in statements:
                    cur.execute(s)
            conn.commit()
        finally:
            conn.close()

    def hex(self, h):
        return f"'\\x{h}'::bytea" if self.dialect == "postgres" else "from_hex('" + h + "')"
