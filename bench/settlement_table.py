"""Build the 51-column settlement table (the manual's ``settlement_normal_delivery_detail``) in MariaDB.

Shared by the benchmarks: ``build(conn_args, database, rows)`` creates ``database`` (if missing),
(re)creates the table with the demo's column list (``s3rb_tui.demo_data.DELIVERY_COLUMNS``: IDs,
VARCHARs, a dozen DECIMAL(10,4)/(15,4), DATETIMEs, TINYINT flags, NULL-heavy columns) and fills
it server-side from MariaDB's sequence engine (``seq_1_to_N``), so a million rows take seconds,
not a Python loop. Values are deterministic functions of the row number. ``update_at`` is stamped
every five minutes (about 300 rows share each value: the case keyset extraction must get right),
and an index on ``(update_at, ID)`` serves keyset pagination, as on the production table.

Run directly: ``python bench/settlement_table.py --rows 100000 --database s3rb_bench``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3rb_tui.demo_data import DELIVERY, DELIVERY_COLUMNS  # noqa: E402

TABLE = DELIVERY
CHUNK = 250_000  # rows per INSERT ... SELECT (keeps the undo log of one statement modest)

# One SQL expression per column, over the sequence number ``seq``.
_BASE = "TIMESTAMP'2026-01-01 00:00:00'"
_EXPR = {
    "ID": "seq",
    "billing_num": "CONCAT('BILL-', LPAD(seq DIV 3, 10, '0'), '-', seq MOD 3)",
    "partner_id": "1 + seq MOD 200",
    "customer_id": "100000 + (seq * 7919) MOD 50000",
    "carrier_id": "1 + seq MOD 17",
    "ant_parcel_no": "CONCAT('BAUNI', LPAD(300014750000000 + (seq DIV 4) * 7, 15, '0'))",
    "tracking_num": "CONCAT('TRK', LPAD((seq * 2654435761) MOD 10000000000, 10, '0'))",
    "order_num": "IF(seq MOD 10 = 0, NULL, CONCAT('ORD-', seq DIV 2))",
    "parcel_scan_time": f"{_BASE} + INTERVAL (seq * 37) MOD 3888000 SECOND",
    "pickup_time": f"{_BASE} + INTERVAL ((seq * 37) MOD 3888000 + 3600) SECOND",
    "delivered_time": f"IF(seq MOD 5 < 2, NULL, {_BASE} + INTERVAL ((seq * 37) MOD 3888000 + 86400) SECOND)",
    "origin_zone": "ELT(1 + seq MOD 4, 'SYD', 'MEL', 'BNE', 'PER')",
    "dest_zone": "ELT(1 + (seq DIV 4) MOD 6, 'SYD', 'MEL', 'BNE', 'PER', 'ADL', 'HBA')",
    "dest_postcode": "LPAD(800 + (seq * 31) MOD 7000, 4, '0')",
    "dest_city": "ELT(1 + (seq DIV 4) MOD 8, 'Sydney', 'Melbourne', 'Brisbane', 'Perth', 'Adelaide', 'Hobart', 'Canberra', 'Darwin')",
    "dest_state": "ELT(1 + (seq DIV 4) MOD 8, 'NSW', 'VIC', 'QLD', 'WA', 'SA', 'TAS', 'ACT', 'NT')",
    "service_type": "ELT(1 + seq MOD 4, 'STANDARD', 'EXPRESS', 'ECONOMY', 'SAME_DAY')",
    "package_type": "ELT(1 + seq MOD 5, 'SATCHEL', 'BOX', 'TUBE', 'PALLET', 'ENVELOPE')",
    "piece_count": "1 + seq MOD 3",
    "actual_weight": "((seq * 13) MOD 30000) / 1000",
    "dimensional_weight": "((seq * 17) MOD 40000) / 1000",
    "chargeable_weight": "GREATEST((seq * 13) MOD 30000, (seq * 17) MOD 40000) / 1000",
    "length_cm": "((seq * 3) MOD 12000) / 100",
    "width_cm": "((seq * 5) MOD 8000) / 100",
    "height_cm": "((seq * 7) MOD 6000) / 100",
    "base_price": "((seq * 101) MOD 500000) / 10000",
    "weight_surcharge": "IF(seq MOD 3 = 0, NULL, ((seq * 103) MOD 90000) / 10000)",
    "fuel_surcharge": "((seq * 107) MOD 70000) / 10000",
    "remote_area_fee": "IF(seq MOD 9 = 0, ((seq * 109) MOD 150000) / 10000, NULL)",
    "residential_fee": "IF(seq MOD 2 = 0, 3.5000, NULL)",
    "oversize_fee": "IF(seq MOD 20 = 0, ((seq * 113) MOD 250000) / 10000, NULL)",
    "signature_fee": "IF(seq MOD 6 = 0, 2.2500, NULL)",
    "insurance_fee": "IF(seq MOD 7 = 0, ((seq * 127) MOD 30000) / 10000, NULL)",
    "cod_amount": "IF(seq MOD 11 = 0, ((seq * 131) MOD 50000000) / 10000, NULL)",
    "declared_value": "((seq * 137) MOD 100000000) / 10000",
    "discount_amount": "IF(seq MOD 4 = 0, -((seq * 139) MOD 50000) / 10000, NULL)",
    "tax_amount": "((seq * 149) MOD 80000) / 10000",
    "gross_price": "((seq * 151) MOD 2000000) / 10000",
    "net_price": "((seq * 157) MOD 1800000) / 10000",
    "currency": "'AUD'",
    "latest_status": "ELT(1 + seq MOD 6, 'CREATED', 'PICKED_UP', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED', 'RETURNED')",
    "status_reason": "IF(seq MOD 6 = 5, ELT(1 + (seq DIV 6) MOD 4, 'Recipient refused', 'Address not found', 'Unclaimed at depot', 'Damaged in transit'), NULL)",
    "is_cod": "seq MOD 11 = 0",
    "is_insured": "seq MOD 7 = 0",
    "is_residential": "seq MOD 2",
    "is_billed": "IF(seq MOD 13 = 0, NULL, seq MOD 3 > 0)",
    "invoice_num": "IF(seq MOD 2 = 0, CONCAT('INV-', LPAD(seq DIV 50, 8, '0')), NULL)",
    "exception_code": "IF(seq MOD 25 = 0, ELT(1 + (seq DIV 25) MOD 5, 'ADDRESS_ISSUE', 'DAMAGED', 'NO_ACCESS', 'WEATHER_DELAY', 'CUSTOMS_HOLD'), NULL)",
    "remark": "IF(seq MOD 5 = 0, ELT(1 + (seq DIV 5) MOD 5, 'Leave at front door', 'Call on arrival', 'Fragile', 'Signature on glass', 'Reweighed at depot'), NULL)",
    "create_at": f"{_BASE} + INTERVAL (seq * 37) MOD 3888000 SECOND",
    # a five-minute settlement job stamps update_at: ~300 rows share each value at 1M rows
    "update_at": f"{_BASE} + INTERVAL (seq DIV 300) * 300 SECOND",
}
assert [c for c, _ in DELIVERY_COLUMNS] == list(_EXPR), "bench expressions out of step with demo_data.DELIVERY_COLUMNS"


def _ddl() -> str:
    cols = ",\n  ".join(f"`{name}` {sql}" for name, sql in DELIVERY_COLUMNS)
    return (f"CREATE TABLE `{TABLE}` (\n  {cols},\n  KEY `update_at_id` (`update_at`, `ID`)\n)"
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")


def build(conn_args: dict, database: str, rows: int, *, log=print) -> None:
    """(Re)create ``database``.``settlement_normal_delivery_detail`` holding ``rows`` rows."""
    conn = pymysql.connect(**conn_args, charset="utf8mb4", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            cur.execute(f"USE `{database}`")
            cur.execute(f"DROP TABLE IF EXISTS `{TABLE}`")
            cur.execute(_ddl())
            select = ", ".join(_EXPR[c] for c, _ in DELIVERY_COLUMNS)
            started = time.monotonic()
            for lo in range(1, rows + 1, CHUNK):
                hi = min(lo + CHUNK - 1, rows)
                cur.execute(f"INSERT INTO `{TABLE}` SELECT {select} FROM seq_{lo}_to_{hi}")
            cur.execute(f"ANALYZE TABLE `{TABLE}`")
            cur.fetchall()
            log(f"built {database}.{TABLE}: {rows:,} rows in {time.monotonic() - started:.1f}s")
            _flush_to_disk(cur, log)
    finally:
        conn.close()


def _flush_to_disk(cur, log) -> None:
    """Write the build's dirty pages now (``FLUSH TABLES .. FOR EXPORT``): left to InnoDB's page
    cleaner they are flushed while the first measurement runs, or linger for minutes."""
    cur.execute(f"FLUSH TABLES `{TABLE}` FOR EXPORT")
    cur.execute("UNLOCK TABLES")
    cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
    dirty = int(cur.fetchone()[1])
    if dirty:
        log(f"note: {dirty} InnoDB pages outside the table (undo log, other tables) are still dirty")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--database", default="s3rb_bench")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3306)
    p.add_argument("--user", default="root")
    p.add_argument("--password", default="")
    a = p.parse_args(argv)
    build(dict(host=a.host, port=a.port, user=a.user, password=a.password), a.database, a.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
