"""A column's type as a Parquet footer states it (physical type, logical annotation, widths).

Read from every data file's footer with its row count (``files.footer``), so that a loader can hold
a file against the table it goes into before it issues anything (``redshift_types``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow.parquet as pq


@dataclass(frozen=True)
class ParquetType:
    """A column's type as the Parquet footer states it."""

    physical: str  # BOOLEAN INT32 INT64 INT96 FLOAT DOUBLE BYTE_ARRAY FIXED_LEN_BYTE_ARRAY
    logical: str = "None"  # the logical type's name: Int Decimal String Timestamp Date Time JSON None …
    bits: int = 0  # Int
    signed: bool = True  # Int
    precision: int = 0  # Decimal
    scale: int = 0  # Decimal
    length: int = 0  # FIXED_LEN_BYTE_ARRAY width
    utc: bool = False  # Timestamp
    unit: str = ""  # Timestamp/Time: milliseconds | microseconds | nanoseconds

    @classmethod
    def of(cls, column: "pq.ColumnSchema") -> "ParquetType":
        info = json.loads(column.logical_type.to_json())
        return cls(physical=column.physical_type, logical=info.get("Type", "None"), bits=int(info.get("bitWidth", 0)),
                   signed=bool(info.get("isSigned", True)), precision=max(column.precision, 0), scale=max(column.scale, 0),
                   length=column.length or 0, utc=bool(info.get("isAdjustedToUTC", False)), unit=info.get("timeUnit", ""))

    @property
    def kind(self) -> str:
        """The row of PARQUET_ACCEPTS this type belongs to ('' when none: refused)."""
        p, lg = self.physical, self.logical
        if lg == "Int":
            return f"{'' if self.signed else 'u'}int{self.bits}"
        if lg == "Decimal":
            return "decimal"
        if lg in ("String", "JSON", "Enum"):
            return "string"
        if lg == "Date":
            return "date"
        if lg == "Timestamp":
            if self.unit == "nanoseconds":
                return "timestamp_ns"
            return "timestamp_utc" if self.utc else "timestamp"
        if lg == "Time":
            return "time"
        plain = {"BOOLEAN": "boolean", "INT32": "int32", "INT64": "int64", "INT96": "int96", "FLOAT": "float",
                 "DOUBLE": "double", "BYTE_ARRAY": "binary", "FIXED_LEN_BYTE_ARRAY": "binary"}
        return plain.get(p, "") if lg == "None" else ""

    def __str__(self) -> str:
        p = f"{self.physical}({self.length})" if self.physical == "FIXED_LEN_BYTE_ARRAY" else self.physical
        if self.logical == "Int":
            return f"{p} {'' if self.signed else 'U'}INT_{self.bits}"
        if self.logical == "Decimal":
            return f"{p} DECIMAL({self.precision},{self.scale})"
        if self.logical in ("Timestamp", "Time"):
            return f"{p} {self.logical.upper()}({self.unit}{', UTC' if self.utc else ''})"
        return p if self.logical == "None" else f"{p} {self.logical.upper()}"


def footer_types(schema: "pq.ParquetSchema") -> tuple[ParquetType, ...]:
    return tuple(ParquetType.of(schema.column(i)) for i in range(len(schema)))
