"""The demo's source data: three settlement tables in SQLite, generated deterministically.

``generate(path, delivery_rows, anchor)`` creates ``settlement_normal_delivery_detail`` (the
manual's 51-column delivery table: one row per parcel status event, several per parcel, so the
latest-status views mean something), ``settlement_claim_detail`` and ``partner_info``. The random
generator has a fixed seed: the same row count and anchor give the same rows. Times lie in the 45
days before ``anchor``; ``update_at`` is stamped by a five-minute settlement job, so many rows share
one cursor value (the case keyset extraction must get right).

Storage conventions (see ``engine/sources/sqlite.py``): DECIMAL columns hold numbers of at most 15
significant digits (exact in SQLite); DATETIME columns hold text ``'YYYY-MM-DD HH:MM:SS.ffffff'``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

# numpy (and pyarrow, behind the SQLite source's names) are imported where data is generated, not
# at import: the console imports this module before its first frame.

SEED = 20250728
STATUSES = ("CREATED", "PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED", "RETURNED")
RETURNED = 5
WINDOW_DAYS = 45
STAMP_SECONDS = 300  # the settlement job stamps update_at every five minutes
PARTNERS = 200

DELIVERY = "settlement_normal_delivery_detail"
CLAIMS = "settlement_claim_detail"
PARTNER_INFO = "partner_info"

DELIVERY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ID", "BIGINT NOT NULL PRIMARY KEY"),
    ("billing_num", "VARCHAR(500)"),
    ("partner_id", "BIGINT"),
    ("customer_id", "BIGINT"),
    ("carrier_id", "INT"),
    ("ant_parcel_no", "VARCHAR(64) NOT NULL"),
    ("tracking_num", "VARCHAR(64)"),
    ("order_num", "VARCHAR(64)"),
    ("parcel_scan_time", "DATETIME"),
    ("pickup_time", "DATETIME"),
    ("delivered_time", "DATETIME"),
    ("origin_zone", "VARCHAR(16)"),
    ("dest_zone", "VARCHAR(16)"),
    ("dest_postcode", "VARCHAR(16)"),
    ("dest_city", "VARCHAR(64)"),
    ("dest_state", "VARCHAR(8)"),
    ("service_type", "VARCHAR(32)"),
    ("package_type", "VARCHAR(32)"),
    ("piece_count", "INT"),
    ("actual_weight", "DECIMAL(10,3)"),
    ("dimensional_weight", "DECIMAL(10,3)"),
    ("chargeable_weight", "DECIMAL(10,3)"),
    ("length_cm", "DECIMAL(10,2)"),
    ("width_cm", "DECIMAL(10,2)"),
    ("height_cm", "DECIMAL(10,2)"),
    ("base_price", "DECIMAL(10,4)"),
    ("weight_surcharge", "DECIMAL(10,4)"),
    ("fuel_surcharge", "DECIMAL(10,4)"),
    ("remote_area_fee", "DECIMAL(10,4)"),
    ("residential_fee", "DECIMAL(10,4)"),
    ("oversize_fee", "DECIMAL(10,4)"),
    ("signature_fee", "DECIMAL(10,4)"),
    ("insurance_fee", "DECIMAL(10,4)"),
    ("cod_amount", "DECIMAL(15,4)"),
    ("declared_value", "DECIMAL(15,4)"),
    ("discount_amount", "DECIMAL(10,4)"),
    ("tax_amount", "DECIMAL(10,4)"),
    ("gross_price", "DECIMAL(15,4)"),
    ("net_price", "DECIMAL(15,4)"),
    ("currency", "VARCHAR(3)"),
    ("latest_status", "VARCHAR(32)"),
    ("status_reason", "VARCHAR(255)"),
    ("is_cod", "TINYINT"),
    ("is_insured", "TINYINT"),
    ("is_residential", "TINYINT"),
    ("is_billed", "TINYINT"),
    ("invoice_num", "VARCHAR(64)"),
    ("exception_code", "VARCHAR(32)"),
    ("remark", "TEXT"),
    ("create_at", "DATETIME"),
    ("update_at", "DATETIME"),
)

CLAIM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ID", "BIGINT NOT NULL PRIMARY KEY"),
    ("claim_num", "VARCHAR(64) NOT NULL"),
    ("ant_parcel_no", "VARCHAR(64)"),
    ("partner_id", "BIGINT"),
    ("customer_id", "BIGINT"),
    ("claim_type", "VARCHAR(32)"),
    ("claim_status", "VARCHAR(32)"),
    ("claim_amount", "DECIMAL(15,4)"),
    ("approved_amount", "DECIMAL(15,4)"),
    ("currency", "VARCHAR(3)"),
    ("reason", "TEXT"),
    ("handler", "VARCHAR(64)"),
    ("is_escalated", "TINYINT"),
    ("submitted_at", "DATETIME"),
    ("resolved_at", "DATETIME"),
    ("create_at", "DATETIME"),
    ("update_at", "DATETIME"),
)

PARTNER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ID", "BIGINT NOT NULL PRIMARY KEY"),
    ("partner_code", "VARCHAR(32) NOT NULL"),
    ("partner_name", "VARCHAR(128)"),
    ("partner_type", "VARCHAR(32)"),
    ("country", "VARCHAR(2)"),
    ("state", "VARCHAR(8)"),
    ("contact_email", "VARCHAR(255)"),
    ("credit_limit", "DECIMAL(15,2)"),
    ("commission_rate", "DECIMAL(5,4)"),
    ("is_active", "TINYINT"),
    ("onboarded_at", "DATE"),
    ("create_at", "DATETIME"),
    ("update_at", "DATETIME"),
)

TABLES = {DELIVERY: DELIVERY_COLUMNS, CLAIMS: CLAIM_COLUMNS, PARTNER_INFO: PARTNER_COLUMNS}

_STATES = ("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT")
_CITIES = ("Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide", "Hobart", "Canberra", "Darwin")
_SERVICES = ("STANDARD", "EXPRESS", "ECONOMY", "SAME_DAY")
_PACKAGES = ("SATCHEL", "BOX", "TUBE", "PALLET", "ENVELOPE")
_EXCEPTIONS = ("ADDRESS_ISSUE", "DAMAGED", "NO_ACCESS", "WEATHER_DELAY", "CUSTOMS_HOLD")
_RETURN_REASONS = ("Recipient refused", "Address not found", "Unclaimed at depot", "Damaged in transit")
_REMARKS = ("Leave at front door", "Call on arrival", "Fragile", "Signature on glass", "Reweighed at depot")
_CLAIM_TYPES = ("DAMAGE", "LOSS", "DELAY", "SHORTAGE")
_CLAIM_STATUSES = ("OPEN", "UNDER_REVIEW", "APPROVED", "REJECTED", "PAID")
_PARTNER_TYPES = ("CARRIER", "MARKETPLACE", "RETAILER", "3PL")


def stamp(t: dt.datetime) -> str:
    """A datetime as the demo stores it."""
    from s3rb_tui.engine.sources.sqlite import TIMESTAMP_TEXT

    return t.strftime(TIMESTAMP_TEXT)


def parcel_no(index: int) -> str:
    return f"BAUNI{300014750000000 + index * 7:015d}"


def create_tables(db: sqlite3.Connection) -> None:
    for name, columns in TABLES.items():
        cols = ", ".join(f'"{c}" {t}' for c, t in columns)
        db.execute(f'CREATE TABLE "{name}" ({cols})')


def create_indexes(db: sqlite3.Connection) -> None:
    """Indexes for keyset extraction (cursor, key) and for the live traffic's parcel lookups."""
    for name in TABLES:
        db.execute(f'CREATE INDEX "{name}_update_at_id" ON "{name}" ("update_at", "ID")')
    db.execute(f'CREATE INDEX "{DELIVERY}_parcel" ON "{DELIVERY}" ("ant_parcel_no", "ID")')


def _insert(db: sqlite3.Connection, table: str, columns: Sequence[tuple[str, str]], values: list[list]) -> None:
    marks = ", ".join("?" for _ in columns)
    db.executemany(f'INSERT INTO "{table}" VALUES ({marks})', zip(*values))


# --- helpers over numpy arrays -------------------------------------------------------------

def _texts(seconds: np.ndarray, anchor: dt.datetime) -> list[str]:
    """Seconds before/after ``anchor`` (int array) as stored datetime text."""
    import numpy as np

    epoch = anchor.replace(hour=0, minute=0, second=0, microsecond=0)
    base = int((anchor - epoch).total_seconds())
    days, secs = np.divmod(seconds.astype(np.int64) + base, 86400)
    unique_days, which = np.unique(days, return_inverse=True)
    day_text = [(epoch + dt.timedelta(days=int(d))).strftime("%Y-%m-%d") for d in unique_days]
    hours, rest = np.divmod(secs, 3600)
    minutes, sec = np.divmod(rest, 60)
    return [
        f"{day_text[d]} {h:02d}:{m:02d}:{s:02d}.000000"
        for d, h, m, s in zip(which.tolist(), hours.tolist(), minutes.tolist(), sec.tolist())
    ]


def _money(units: np.ndarray, scale: int) -> list[float]:
    """Integer units of 10**-scale as numbers SQLite stores exactly (nearest double, <= 15 digits)."""
    import numpy as np

    return (units.astype(np.float64) / float(10**scale)).tolist()


def _nulls(values: list, mask: np.ndarray) -> list:
    return [None if m else v for v, m in zip(values, mask.tolist())]


def _pick(rng: np.random.Generator, choices: Sequence[str], n: int, p: Sequence[float] | None = None) -> list[str]:
    idx = rng.choice(len(choices), size=n, p=p)
    return [choices[i] for i in idx.tolist()]


# --- tables ------------------------------------------------------------------------------

def _partners(rng: np.random.Generator, anchor: dt.datetime) -> list[list]:
    import numpy as np

    n = PARTNERS
    ids = np.arange(1, n + 1)
    states = _pick(rng, _STATES, n)
    onboarded = [(anchor - dt.timedelta(days=int(d))).date().isoformat() for d in rng.integers(60, 2000, n)]
    created = -rng.integers(WINDOW_DAYS * 86400, 3 * WINDOW_DAYS * 86400, n)
    updated = created + rng.integers(0, 2 * WINDOW_DAYS * 86400, n)
    updated = np.minimum(updated, -3600)
    return [
        ids.tolist(),
        [f"P{i:05d}" for i in ids.tolist()],
        [f"Partner {i:03d} Logistics" for i in ids.tolist()],
        _pick(rng, _PARTNER_TYPES, n, (0.4, 0.25, 0.25, 0.1)),
        ["AU"] * n,
        states,
        _nulls([f"ops{i}@partner{i}.example" for i in ids.tolist()], rng.random(n) < 0.2),
        _money(rng.integers(1_000_00, 500_000_00, n), 2),
        _money(rng.integers(50, 2500, n), 4),
        (rng.random(n) < 0.9).astype(int).tolist(),
        onboarded,
        _texts(created, anchor),
        _texts(updated, anchor),
    ]


def _case(expr: str, labels: Sequence[str]) -> str:
    """SQL mapping a small integer code to its label."""
    whens = " ".join(f"WHEN {i} THEN '{label}'" for i, label in enumerate(labels))
    return f"CASE {expr} {whens} END"


def _stage_deliveries(db: sqlite3.Connection, rng: np.random.Generator, rows: int) -> int:
    """Random draws as integers into two TEMP tables: ``parcel`` (one row per parcel) and
    ``event`` (one row per status event). ``_DELIVERY_SELECT`` turns them into the table's rows
    inside SQLite, which is far faster than binding 51 Python values per row. Returns the parcels."""
    import numpy as np

    steps_per_parcel = rng.choice(5, size=rows // 3 + 16, p=(0.05, 0.08, 0.12, 0.15, 0.60)) + 1
    ends = np.cumsum(steps_per_parcel)
    parcels = int(np.searchsorted(ends, rows) + 1)
    steps_per_parcel = steps_per_parcel[:parcels].copy()
    steps_per_parcel[-1] -= int(ends[parcels - 1] - rows)
    ends = np.cumsum(steps_per_parcel)
    returned = (rng.random(parcels) < 0.05) & (steps_per_parcel >= 3)

    window = WINDOW_DAYS * 86400
    start = -window + rng.integers(0, window - 84 * 3600, parcels)  # four steps of at most 20 h fit before the anchor
    scan = start + rng.integers(60, 3600, parcels)
    pickup = scan + rng.integers(600, 7200, parcels)
    partner = np.minimum(rng.zipf(1.6, parcels), PARTNERS)
    actual_g = rng.integers(50, 30_000, parcels)
    dims = rng.integers(500, 12_000, (3, parcels))  # hundredths of a cm
    dim_g = np.round(dims[0].astype(np.float64) * dims[1] * dims[2] / 1e6 / 5000 * 1000).astype(np.int64)
    charge_g = np.maximum(actual_g, dim_g)
    base = 45_000 + charge_g * 12  # money in 1/10000 of a dollar
    weight_sur = np.where(charge_g > 10_000, (charge_g - 10_000) * 8, 0)
    fuel = base * 18 // 100
    remote = np.where(rng.random(parcels) < 0.12, rng.integers(20_000, 90_000, parcels), 0)
    residential = np.where(rng.random(parcels) < 0.5, 29_500, 0)
    oversize = np.where(dims.max(axis=0) > 10_000, 150_000, 0)
    signature = np.where(rng.random(parcels) < 0.2, 35_000, 0)
    insured = rng.random(parcels) < 0.15
    declared = rng.integers(10_0000, 5_000_0000, parcels)
    insurance = np.where(insured, declared // 100, 0)
    cod = rng.random(parcels) < 0.08
    discount = np.where(rng.random(parcels) < 0.3, base // 10, 0)
    gross = base + weight_sur + fuel + remote + residential + oversize + signature + insurance
    tax = (gross - discount) // 10
    net = gross - discount + tax
    codes = [rng.integers(0, n, parcels) for n in (4, 6, 6000, len(_CITIES), len(_STATES), len(_PACKAGES))]
    service = rng.choice(len(_SERVICES), size=parcels, p=(0.6, 0.25, 0.1, 0.05))
    parcel_columns = [np.arange(parcels), partner, scan, pickup, actual_g, dims[0], dims[1], dims[2], dim_g,
                      charge_g, base, weight_sur, fuel, remote, residential, oversize, signature, insurance,
                      insured, declared, cod, discount, tax, gross, net, service, *codes]
    db.execute("CREATE TEMP TABLE parcel (p INTEGER PRIMARY KEY, partner, scan, pickup, actual_g, d0, d1, d2, dim_g, "
               "charge_g, base, weight_sur, fuel, remote, residential, oversize, signature, insurance, insured, "
               "declared, cod, discount, tax, gross, net, service, o_zone, d_zone, postcode, city, state, package)")
    db.executemany(f"INSERT INTO parcel VALUES ({', '.join('?' * len(parcel_columns))})",
                   zip(*(c.astype(np.int64).tolist() for c in parcel_columns)))

    parcel = np.repeat(np.arange(parcels), steps_per_parcel)
    first_row = np.repeat(ends - steps_per_parcel, steps_per_parcel)
    step = np.arange(rows) - first_row
    status = step.copy()
    last_of_parcel = np.r_[parcel[1:] != parcel[:-1], True]
    status[last_of_parcel & returned[parcel]] = RETURNED
    elapsed = np.cumsum(np.where(step == 0, 0, rng.integers(3600, 72_000, rows)))
    create = start[parcel] + elapsed - elapsed[first_row]
    update = (create + rng.integers(0, STAMP_SECONDS, rows)) // STAMP_SECONDS * STAMP_SECONDS + STAMP_SECONDS
    update = np.minimum(update, -STAMP_SECONDS)
    create = np.minimum(create, update)
    billed = (status == 4) & (rng.random(rows) < 0.8)
    exception = np.where(rng.random(rows) < 0.03, rng.integers(0, len(_EXCEPTIONS), rows), -1)
    remark = np.where(rng.random(rows) < 0.05, rng.integers(0, len(_REMARKS), rows), -1)
    reason = rng.integers(0, len(_RETURN_REASONS), rows)
    order = np.lexsort((step, parcel, create))  # IDs follow creation time
    event_columns = [a[order] for a in (parcel, step, status, create, update, billed, exception, remark, reason)]
    db.execute("CREATE TEMP TABLE event (id INTEGER PRIMARY KEY, p, step, status, created, updated, billed, exc, remark, reason)")
    db.executemany("INSERT INTO event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   zip(range(1, rows + 1), *(c.astype(np.int64).tolist() for c in event_columns)))
    return parcels


def _build_deliveries(db: sqlite3.Connection, anchor: dt.datetime) -> None:
    """The staged integers -> the delivery table, in SQLite: parcel-level values are formatted once
    per parcel (``parcel_row``), then joined to the events."""
    epoch = int(anchor.replace(tzinfo=dt.timezone.utc).timestamp())

    def ts(expr: str) -> str:
        return f"(datetime({epoch} + {expr}, 'unixepoch') || '.000000')"

    def money(expr: str, scale: int = 4, null_if_zero: bool = False) -> str:
        value = f"NULLIF({expr}, 0)" if null_if_zero else expr
        return f"{value} / {float(10**scale)!r}"

    per_parcel = [
        ("billing_num", "printf('BL%04d%09d', p.partner, p.p)"),
        ("partner_id", "p.partner"),
        ("customer_id", "100000 + (p.p * 37) % 25000"),
        ("carrier_id", "1 + p.p % 12"),
        ("ant_parcel_no", "printf('BAUNI%015d', 300014750000000 + p.p * 7)"),
        ("tracking_num", "printf('TRK%010d', p.p * 13 + 1000000)"),
        ("order_num", "CASE WHEN p.p % 10 < 3 THEN NULL ELSE printf('ORD-%06d', (p.p * 7) % 999983) END"),
        ("parcel_scan_time", ts("p.scan")),
        ("pickup", ts("p.pickup")),
        ("origin_zone", _case("p.o_zone", ("Z1", "Z2", "Z3", "Z4"))),
        ("dest_zone", _case("p.d_zone", ("Z1", "Z2", "Z3", "Z4", "Z5", "Z6"))),
        ("dest_postcode", "printf('%04d', 2000 + p.postcode)"),
        ("dest_city", _case("p.city", _CITIES)),
        ("dest_state", _case("p.city", _STATES)),  # the city's state
        ("service_type", _case("p.service", _SERVICES)),
        ("package_type", _case("p.package", _PACKAGES)),
        ("piece_count", "1 + (p.p * 31 % 97 = 0) * (p.p % 4)"),
        ("actual_weight", money("p.actual_g", 3)),
        ("dimensional_weight", money("p.dim_g", 3)),
        ("chargeable_weight", money("p.charge_g", 3)),
        ("length_cm", money("p.d0", 2)),
        ("width_cm", money("p.d1", 2)),
        ("height_cm", money("p.d2", 2)),
        ("base_price", money("p.base")),
        ("weight_surcharge", money("p.weight_sur")),
        ("fuel_surcharge", money("p.fuel")),
        ("remote_area_fee", money("p.remote", null_if_zero=True)),
        ("residential_fee", money("p.residential")),
        ("oversize_fee", money("p.oversize", null_if_zero=True)),
        ("signature_fee", money("p.signature", null_if_zero=True)),
        ("insurance_fee", f"CASE WHEN p.insured THEN {money('p.insurance')} END"),
        ("cod_amount", f"CASE WHEN p.cod THEN {money('p.net')} END"),
        ("declared_value", f"CASE WHEN p.insured THEN {money('p.declared')} END"),
        ("discount_amount", money("p.discount")),
        ("tax_amount", money("p.tax")),
        ("gross_price", money("p.gross")),
        ("net_price", money("p.net")),
        ("currency", "'AUD'"),
        ("is_cod", "p.cod"),
        ("is_insured", "p.insured"),
        ("is_residential", "p.residential > 0"),
    ]
    db.execute(f"CREATE TEMP TABLE parcel_row (p INTEGER PRIMARY KEY, {', '.join(n for n, _ in per_parcel)})")
    db.execute(f"INSERT INTO parcel_row SELECT p.p, {', '.join(e for _, e in per_parcel)} FROM parcel p")
    per_event = {
        "ID": "e.id",
        "pickup_time": "CASE WHEN e.step > 0 THEN r.pickup END",
        "delivered_time": f"CASE WHEN e.status = 4 THEN {ts('e.created')} END",
        "latest_status": _case("e.status", STATUSES),
        "status_reason": f"CASE WHEN e.status = {RETURNED} THEN {_case('e.reason', _RETURN_REASONS)} END",
        "is_billed": "e.billed",
        "invoice_num": "CASE WHEN e.billed THEN printf('INV%08d', e.id) END",
        "exception_code": f"CASE WHEN e.exc >= 0 THEN {_case('e.exc', _EXCEPTIONS)} END",
        "remark": f"CASE WHEN e.remark >= 0 THEN {_case('e.remark', _REMARKS)} END",
        "create_at": ts("e.created"),
        "update_at": ts("e.updated"),
    }
    select = ", ".join(per_event.get(name, f"r.{name}") for name, _ in DELIVERY_COLUMNS)
    db.execute(f'INSERT INTO "{DELIVERY}" SELECT {select} FROM event e JOIN parcel_row r ON r.p = e.p ORDER BY e.id')


def _claims(rng: np.random.Generator, rows: int, parcels: int, anchor: dt.datetime) -> list[list]:
    import numpy as np

    ids = np.arange(1, rows + 1)
    parcel = np.sort(rng.integers(0, parcels, rows))
    submitted = -WINDOW_DAYS * 86400 + (parcel * (WINDOW_DAYS * 86400 - 86400)) // max(parcels, 1) + rng.integers(86400, 3 * 86400, rows)
    submitted = np.minimum(submitted, -2 * STAMP_SECONDS)
    status = rng.choice(len(_CLAIM_STATUSES), size=rows, p=(0.2, 0.2, 0.2, 0.15, 0.25))
    resolved = status >= 2
    resolved_at = submitted + rng.integers(3600, 10 * 86400, rows)
    update = np.where(resolved, resolved_at, submitted) // STAMP_SECONDS * STAMP_SECONDS + STAMP_SECONDS
    update = np.minimum(update, -STAMP_SECONDS)
    resolved_at = np.minimum(resolved_at, update)
    amount = rng.integers(5_0000, 2_000_0000, rows)
    approved = (status == 2) | (status == 4)
    return [
        ids.tolist(),
        [f"CLM{i:08d}" for i in ids.tolist()],
        [parcel_no(p) for p in parcel.tolist()],
        np.minimum(rng.zipf(1.6, rows), PARTNERS).tolist(),
        (100_000 + parcel * 37 % 25_000).tolist(),
        _pick(rng, _CLAIM_TYPES, rows, (0.45, 0.25, 0.2, 0.1)),
        [_CLAIM_STATUSES[s] for s in status.tolist()],
        _money(amount, 4),
        _nulls(_money(amount * rng.integers(50, 101, rows) // 100, 4), ~approved),
        ["AUD"] * rows,
        _nulls(_pick(rng, ("Box crushed", "Not received", "Arrived late", "Items missing"), rows), rng.random(rows) < 0.6),
        _nulls([f"agent{h:02d}" for h in rng.integers(1, 40, rows).tolist()], status == 0),
        (rng.random(rows) < 0.07).astype(int).tolist(),
        _texts(submitted, anchor),
        _nulls(_texts(resolved_at, anchor), ~resolved),
        _texts(submitted, anchor),
        _texts(update, anchor),
    ]


def generate(path: Path, delivery_rows: int, anchor: dt.datetime) -> dict[str, int]:
    """Create the SQLite source at ``path`` (which must not exist). Returns rows per table."""
    import numpy as np

    if delivery_rows < 10:
        raise ValueError("the demo needs at least 10 delivery rows")
    rng = np.random.default_rng(SEED)
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")  # the file is renamed into place only when complete
        db.execute("PRAGMA temp_store = MEMORY")
        with db:
            create_tables(db)
            partners = _partners(rng, anchor)
            _insert(db, PARTNER_INFO, PARTNER_COLUMNS, partners)
            parcels = _stage_deliveries(db, rng, delivery_rows)
            _build_deliveries(db, anchor)
            claims = _claims(rng, max(delivery_rows // 10, 1), parcels, anchor)
            _insert(db, CLAIMS, CLAIM_COLUMNS, claims)
            create_indexes(db)
        for staged in ("event", "parcel", "parcel_row"):
            db.execute(f"DROP TABLE temp.{staged}")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = {name: int(db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]) for name in TABLES}
    finally:
        db.close()
    return counts
