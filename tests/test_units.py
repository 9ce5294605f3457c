import math
from decimal import Decimal

import pytest

from mssim import units
from mssim.errors import ConfigError
from mssim.units import parse_quantity, quantize_ticks, to_seconds, to_ticks


@pytest.mark.parametrize(
    "text,unit,expected",
    [("10us", "s", 10e-6), ("2.5 ns", "s", 2.5e-9), ("0.9 V", "V", 0.9), ("16k", "ohm", 16e3), ("16kohm", "ohm", 16e3),
     ("1e-6", None, 1e-6), ("-0.8V", "V", -0.8), ("100 mV", "V", 0.1), ("1MHz", "Hz", 1e6), ("8.9uA", "A", 8.9e-6), (3, None, 3.0)],
)
def test_parse_quantity(text, unit, expected):
    assert math.isclose(parse_quantity(text, unit), expected, rel_tol=1e-15)


@pytest.mark.parametrize("bad,match", [("ten us", "cannot read"), ("5 parsecs", "unknown unit"), (True, "boolean"), (None, "expected a number"), (float("nan"), "finite")])
def test_parse_quantity_rejects(bad, match):
    with pytest.raises(ConfigError, match=match):
        parse_quantity(bad, name="x")


def test_wrong_unit_named():
    with pytest.raises(ConfigError, match=r"t_settle: expected a value in s, got '0.9 V'"):
        parse_quantity("0.9 V", "s", name="t_settle")


def test_simultaneity_exact():
    # three 1 ns steps land on the same tick as one 3 ns step
    one = to_ticks("1ns")
    assert one + one + one == to_ticks("3ns") == to_ticks(3e-9) == 3000
    # the float trap this avoids
    assert 1e-9 + 1e-9 + 1e-9 != 3e-9


def test_not_whole_ticks_raises_naming_value():
    with pytest.raises(ConfigError, match=r"pulse.width: '1.5ps' is not a whole number of ticks"):
        to_ticks("1.5ps", name="pulse.width")
    with pytest.raises(ConfigError, match="not a whole number of ticks"):
        to_ticks(1.5e-12)
    with pytest.raises(ConfigError, match="not a whole number"):
        to_ticks(Decimal("1.0000000000005e-6"))


def test_negative_duration():
    with pytest.raises(ConfigError, match="must not be negative"):
        to_ticks("-1ns", name="d")
    assert to_ticks("-1ns", allow_negative=True) == -1000


def test_roundtrip_and_constants():
    assert to_seconds(to_ticks("10us")) == pytest.approx(10 * units.us, rel=1e-15)
    assert to_ticks(units.ms) == 10**9
    assert quantize_ticks(1.26e-6, to_ticks("10ns")) == to_ticks("1.26us")
    assert quantize_ticks(1.264e-6, to_ticks("10ns")) == to_ticks("1.26us")
    assert quantize_ticks(1.264e-6, to_ticks("10ns"), "ceil") == to_ticks("1.27us")
    with pytest.raises(ConfigError, match="clock_ticks"):
        quantize_ticks(1e-6, 0)
