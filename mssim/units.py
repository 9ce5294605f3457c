"""Units and the integer timebase.

Inside the engine time is an integer number of *ticks*; one tick is one
picosecond (``TICK = 1e-12`` s).  Python ints never lose precision, so three
1 ns steps land on exactly the same tick as one 3 ns step, which float seconds
cannot promise.  Seconds and unit strings (``"10us"``, ``"2.5 ns"``,
``"0.9 V"``, ``"16k"``) exist only at the API edge: convert them with
:func:`parse_quantity` and :func:`to_ticks`.

A duration that is not a whole number of ticks raises ``ConfigError`` naming
the value instead of being rounded silently.

Unit constants (``us``, ``ns``, ``V``, ``kohm`` ...) are plain SI floats so
parameters read naturally: ``width=10 * us``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from .errors import ConfigError

#: Seconds per engine tick (1 ps).
TICK: float = 1e-12
#: Engine ticks per second, exactly.
TICKS_PER_SECOND: int = 10**12

# --- SI constants (plain floats, SI base units) --------------------------------
s = 1.0
ms = 1e-3
us = 1e-6
ns = 1e-9
ps = 1e-12
fs = 1e-15
V = 1.0
mV = 1e-3
uV = 1e-6
A = 1.0
mA = 1e-3
uA = 1e-6
nA = 1e-9
ohm = 1.0
kohm = 1e3
Mohm = 1e6
Hz = 1.0
kHz = 1e3
MHz = 1e6
GHz = 1e9
F = 1.0
pF = 1e-12
fF = 1e-15
W = 1.0
J = 1.0
pJ = 1e-12
nJ = 1e-9
m = 1.0
nm = 1e-9
pm = 1e-12

_PREFIX = {
    "f": Decimal("1e-15"),
    "p": Decimal("1e-12"),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "µ": Decimal("1e-6"),
    "μ": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "K": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
}

# Units we recognise after the prefix.  "Ohm"/"ohm"/"Ω" all mean ohms.
_UNITS = {
    "s": "s",
    "sec": "s",
    "V": "V",
    "A": "A",
    "ohm": "ohm",
    "Ohm": "ohm",
    "Ω": "ohm",
    "Hz": "Hz",
    "F": "F",
    "W": "W",
    "J": "J",
    "m": "m",
}

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY_RE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<rest>[^\s\d.+-][^\s]*)?\s*$")


def _split_suffix(rest: str) -> tuple[Decimal, str | None]:
    """Split a suffix such as ``"us"``, ``"k"``, ``"mV"``, ``"kohm"`` into (scale, unit)."""
    if rest in _UNITS:  # a bare unit wins over a prefix ("m" is metres only if asked; see below)
        unit = _UNITS[rest]
        if unit == "m":  # bare "m" is ambiguous; treat as milli with no unit
            return _PREFIX["m"], None
        return Decimal(1), unit
    if rest in _PREFIX:
        return _PREFIX[rest], None
    prefix, tail = rest[0], rest[1:]
    if prefix in _PREFIX and tail in _UNITS:
        return _PREFIX[prefix], _UNITS[tail]
    raise ValueError(rest)


def parse_decimal(value: str | float | int, unit: str | None = None, *, name: str = "value") -> Decimal:
    """Parse a quantity to an exact ``Decimal`` in SI base units.

    ``value`` may be a number or a string such as ``"2.5 ns"``, ``"16k"``,
    ``"0.9 V"`` or ``"1e-6"``.  If ``unit`` is given (``"s"``, ``"V"``, ``"A"``,
    ``"ohm"``, ``"Hz"``, ``"F"``) a string carrying a different unit is an
    error; a string with no unit is accepted as already being in ``unit``.
    ``name`` is used in error messages.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number or a quantity string, got a boolean ({value!r})")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{name}: must be finite (got {value!r})")
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a number or a quantity string such as '10us', got {type(value).__name__} ({value!r})")
    m_ = _QUANTITY_RE.match(value)
    if not m_:
        raise ConfigError(f"{name}: cannot read {value!r} as a quantity; write a number with an optional SI prefix and unit, e.g. '10us', '0.9 V', '16k'")
    try:
        number = Decimal(m_.group("num"))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise ConfigError(f"{name}: bad number in {value!r}") from exc
    rest = m_.group("rest")
    if not rest:
        return number
    try:
        scale, got_unit = _split_suffix(rest)
    except ValueError:
        raise ConfigError(f"{name}: unknown unit or prefix {rest!r} in {value!r}; use SI prefixes f p n u m k M G T and units s V A ohm Hz F") from None
    if unit is not None and got_unit is not None and got_unit != unit:
        raise ConfigError(f"{name}: expected a value in {unit}, got {value!r} (unit {got_unit})")
    return number * scale


def parse_quantity(value: str | float | int, unit: str | None = None, *, name: str = "value") -> float:
    """Parse a quantity (number or unit string) to a float in SI base units.

    >>> parse_quantity("2.5 ns")
    2.5e-09
    >>> parse_quantity("16k", "ohm")
    16000.0
    """
    return float(parse_decimal(value, unit, name=name))


def to_ticks(duration: str | float | int | Decimal | Fraction, *, name: str = "duration", allow_negative: bool = False) -> int:
    """Convert a duration in seconds (number or unit string) to integer ticks.

    Raises ``ConfigError`` naming ``name`` and the value if the duration is not
    a whole number of ticks (1 ps), is not finite, or is negative (unless
    ``allow_negative``).  Floats are accepted when they are within 1e-6 of a
    tick of a whole tick, so ``3e-9`` and ``1e-6`` are fine while ``1.5e-12``
    is not.
    """
    if isinstance(duration, (Decimal, Fraction)):
        exact = Fraction(duration) * TICKS_PER_SECOND
        ticks = round(exact)
        if exact != ticks:
            raise ConfigError(f"{name}: {duration} s is not a whole number of ticks (1 tick = 1 ps); round it to the picosecond")
    elif isinstance(duration, float):
        if not math.isfinite(duration):
            raise ConfigError(f"{name}: must be finite (got {duration!r})")
        exact_f = duration * TICKS_PER_SECOND
        ticks = round(exact_f)
        if abs(exact_f - ticks) > 1e-6 * max(1.0, abs(exact_f)) and abs(exact_f - ticks) > 1e-6:
            raise ConfigError(f"{name}: {duration!r} s is not a whole number of ticks (1 tick = 1 ps); round it to the picosecond")
    else:
        dec = parse_decimal(duration, "s", name=name)
        exact = Fraction(dec) * TICKS_PER_SECOND
        ticks = round(exact)
        if exact != ticks:
            raise ConfigError(f"{name}: {duration!r} is not a whole number of ticks (1 tick = 1 ps); round it to the picosecond")
    if ticks < 0 and not allow_negative:
        raise ConfigError(f"{name}: must not be negative (got {duration!r})")
    return int(ticks)


def to_seconds(ticks: int) -> float:
    """Convert integer ticks to float seconds (for reporting only)."""
    return ticks / TICKS_PER_SECOND


def quantize_ticks(seconds: float, clock_ticks: int, mode: str = "round") -> int:
    """Quantise a float duration in seconds to a whole number of clock periods.

    Used where hardware rounds a computed width to its clock (the PWM); this is
    deliberate rounding, unlike :func:`to_ticks`.  Returns ticks.
    ``mode`` is ``"round"``, ``"floor"`` or ``"ceil"``.
    """
    if clock_ticks <= 0:
        raise ConfigError(f"clock_ticks: must be positive (got {clock_ticks!r})")
    periods = seconds * TICKS_PER_SECOND / clock_ticks
    if mode == "round":
        n = math.floor(periods + 0.5)
    elif mode == "floor":
        n = math.floor(periods)
    elif mode == "ceil":
        n = math.ceil(periods)
    else:
        raise ConfigError(f"mode: must be 'round', 'floor' or 'ceil' (got {mode!r})")
    return int(n) * clock_ticks
