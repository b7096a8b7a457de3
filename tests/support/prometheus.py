"""Reading a Prometheus textfile the way Prometheus does (prometheus_client's own parser)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def samples(path: Path) -> dict[tuple[str, str], float]:
    """{(sample name, table label or ''): value}."""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            out[(s.name, s.labels.get("table", ""))] = s.value
    return out
