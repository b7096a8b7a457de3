"""Optional per-table settings from ``s3rb.toml``.

```toml
[tables."settlement.settlement_normal_delivery_detail"]
cursor_column = "update_at"          # default: auto-detected
key_columns = ["ID"]                 # default: the primary key
load_mode = "merge"                  # append | merge | replace (default: merge with key+cursor, else replace)
latest_key = ["ant_parcel_no"]       # key of the <table>_latest view (default: key_columns)
status_column = "latest_status"      # for the settlement status views
distkey = "ant_parcel_no"
sortkey = ["create_at", "billing_num"]
target_table = "settlement_normal_delivery_detail"   # default: the source table's name
detect_deletes = true                # after each load: a keys-only verify, deletes propagated (engine/ops/repair.py)
max_delete_ratio = 0.01              # ... refused above this share of the table (default 0.01)
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.engine.core.table_names import TableRef, validate_identifier

if TYPE_CHECKING:
    from s3rb_tui.engine.core.type_rules import TableSchema

LOAD_MODES = ("append", "merge", "replace")


@dataclass(frozen=True)
class TableConfig:
    cursor_column: str | None = None
    key_columns: tuple[str, ...] | None = None
    load_mode: str | None = None
    latest_key: tuple[str, ...] | None = None
    status_column: str | None = None
    distkey: str | None = None
    sortkey: tuple[str, ...] = ()
    target_table: str | None = None
    detect_deletes: bool = False
    max_delete_ratio: float = 0.01


_FIELDS = {"cursor_column", "key_columns", "load_mode", "latest_key", "status_column", "distkey", "sortkey", "target_table",
           "detect_deletes", "max_delete_ratio"}


def _names(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a column name or a list of them")
    return tuple(validate_identifier(v, f"column in {where}") for v in value)


def parse_table_configs(data: dict, source: str = "s3rb.toml") -> dict[str, TableConfig]:
    tables = data.get("tables", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{source}: [tables] must be a table of tables")
    out: dict[str, TableConfig] = {}
    for name, raw in tables.items():
        where = f'{source}: [tables."{name}"]'
        ref = TableRef.parse(name) if "." in name else None
        if ref is None:
            raise ConfigError(f"{where}: write table names as schema.table")
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(raw) - _FIELDS
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}", f"known: {', '.join(sorted(_FIELDS))}")
        if not isinstance(raw.get("detect_deletes", False), bool):
            raise ConfigError(f"{where}: detect_deletes must be true or false")
        ratio = raw.get("max_delete_ratio", 0.01)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise ConfigError(f"{where}: max_delete_ratio must be a number from 0 to 1 (0.01 is 1%)")
        mode = raw.get("load_mode")
        if mode is not None and mode not in LOAD_MODES:
            raise ConfigError(f"{where}: load_mode={mode!r} is not one of {', '.join(LOAD_MODES)}")
        out[ref.full_name] = TableConfig(
            cursor_column=validate_identifier(raw["cursor_column"], "cursor_column") if "cursor_column" in raw else None,
            key_columns=_names(raw["key_columns"], f"{where} key_columns") if "key_columns" in raw else None,
            load_mode=mode,
            latest_key=_names(raw["latest_key"], f"{where} latest_key") if "latest_key" in raw else None,
            status_column=validate_identifier(raw["status_column"], "status_column") if "status_column" in raw else None,
            distkey=validate_identifier(raw["distkey"], "distkey") if "distkey" in raw else None,
            sortkey=_names(raw["sortkey"], f"{where} sortkey") if "sortkey" in raw else (),
            target_table=validate_identifier(raw["target_table"], "target_table") if "target_table" in raw else None,
            detect_deletes=raw.get("detect_deletes", False),
            max_delete_ratio=float(ratio),
        )
    return out


def load_table_configs(path: Path | None) -> dict[str, TableConfig]:
    if path is None or not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid TOML: {e}", "fix the file or remove it") from None
    return parse_table_configs(data, str(path))


def resolve_mode(cfg: TableConfig, schema: "TableSchema") -> str:
    """The load mode: the table's ``load_mode``, else merge when the table has a key and a cursor
    (rows change in place), else replace (a full snapshot each run)."""
    if cfg.load_mode:
        return cfg.load_mode
    return "merge" if schema.primary_key and schema.cursor_column else "replace"
