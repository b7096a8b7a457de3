"""DECIMAL(p <= 15, s) values cross connectorx as DOUBLEs (the server's nearest double) and are
turned back into their exact unscaled integers: every such value must come back exactly."""

import random
from decimal import Decimal

import pyarrow as pa
import pytest

from s3rb_tui.engine.sources.arrow_transport import _DOUBLE_DIGITS, _unscaled_from_double


def _round_trip(values: list[Decimal], scale: int) -> list[int | None]:
    # float(Decimal) rounds to the nearest double, as the server's strtod does for `col + 0e0`
    doubles = pa.array([None if v is None else float(v) for v in values], pa.float64())
    return _unscaled_from_double(doubles, scale).to_pylist()


def _unscaled(v: Decimal | None, scale: int) -> int | None:
    return None if v is None else int(v.scaleb(scale))


@pytest.mark.parametrize("precision,scale", [(15, 0), (15, 4), (15, 15), (10, 2), (10, 4), (12, 6), (1, 0), (1, 1)])
def test_every_decimal_of_at_most_15_digits_comes_back_exactly(precision, scale):
    rng = random.Random(precision * 100 + scale)
    top = 10 ** precision - 1
    unscaled = [top, -top, 0, 1, -1, top - 1, 5, -5] + [rng.randint(-top, top) for _ in range(50_000)]
    # values just below the next power of ten and around halves of the last place, where rounding bites
    unscaled += [10 ** k - 1 for k in range(1, precision + 1)] + [5 * 10 ** k for k in range(precision - 1)]
    values = [Decimal(u).scaleb(-scale) for u in unscaled] + [None]
    assert _round_trip(values, scale) == [_unscaled(v, scale) for v in values]


def test_sixteen_digits_would_not_survive_a_double():
    """Why the DOUBLE transport stops at 15 digits: 2^53 + 1 has no double of its own."""
    assert _DOUBLE_DIGITS == 15
    v = Decimal(2 ** 53 + 1)  # 9007199254740993: 16 digits
    assert _round_trip([v], 0) != [int(v)]


@pytest.mark.parametrize("precision,scale,kind,as_text", [
    (15, 2, "double", False), (18, 6, "scaled", False), (28, 10, "cast", False), (20, 2, "cast", False),
    (25, 5, "cast", True), (19, 0, "cast", True), (30, 12, "cast", True), (20, 11, "cast", True)])
def test_decimals_connectorx_cannot_rescale_to_ten_places_travel_as_text(precision, scale, kind, as_text):
    """connectorx rescales every DECIMAL to 10 places within 28 digits: DECIMAL(25,5)'s
    12345678901234567890.12345 (20 integer digits) failed the read; more than 18 integer digits go as text."""
    from s3rb_tui.engine.core.type_rules import Column
    from s3rb_tui.engine.sources.arrow_transport import _transport

    t = _transport(Column("k", "decimal", precision=precision, scale=scale), False)
    assert (t.kind, t.select.startswith("CAST(`k` AS CHAR)")) == (kind, as_text)
