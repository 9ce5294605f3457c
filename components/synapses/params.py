"""``SynapseParams``: which synaptic unit a crossbar layer is built from, and its circuit values.

Frozen, keyword-only, validated in ``__post_init__``; every failure is a
``ConfigError`` naming the field (``SynapseParams.r_in: must be positive (got -1.0)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from mssim.errors import ConfigError, field_error
from mssim.units import V, kohm

UNITS = ("pair", "differential", "bridge", "reference")
INITS = ("mid", "random")

_O = "SynapseParams"


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise field_error(_O, name, "must be a number", value)
    if not math.isfinite(float(value)):
        raise field_error(_O, name, "must be finite", value)


@dataclass(frozen=True, kw_only=True)
class SynapseParams:
    """Circuit parameters of a crossbar of synaptic units (see docs/synapses.md).

    The defaults suit the TEAM HP-TiO2 fit (100 Ω .. 16 kΩ, |i_on| = 8.9 µA).
    """

    unit: str = "pair"
    """Synaptic unit: ``pair`` (the paper's two opposite memristors, divider into the neuron),
    ``differential`` (G1 − G2 into a transimpedance/virtual-ground node), ``bridge`` (Kim/Adhikari
    four-memristor bridge, differential amp), ``reference`` (one memristor minus a reference column)."""
    r_in: float = 100 * kohm
    """Input resistor (ohm).  ``pair``: from each unit's middle node to the neuron's summing node
    (virtual ground); the load it puts on the divider is computed.  ``bridge``: converts the bridge's
    differential output voltage into the summing-node current.  Unused by ``differential`` and
    ``reference``.  Default 100 kΩ ≫ the pair's Thevenin resistance (≤ (R_on+R_off)/4 ≈ 4 kΩ at
    the mid-range sum), so loading shifts the pair's gain by at most ~4 %."""
    v_read: float = 0.02 * V
    """Read amplitude per unit input (V): the driver applies V_in = x·v_read.  Default 20 mV: a
    pair at the mid-range sum (16.1 kΩ) carries 2·v_read/16.1 kΩ ≈ 2.5 µA for |x| = 1, under a third
    of the TEAM HP-fit SET threshold |i_on| = 8.9 µA, so reads do not disturb TEAM devices.
    (``differential`` and ``reference`` put the full V_in across one device: at R_on = 100 Ω a
    disturb-free TEAM read needs |V_in| < 0.89 mV.)"""
    r_line: float = 0.0
    """Wire resistance per crossbar segment (ohm); 0 = ideal lines.  When positive, reads and
    writes solve the resistive network of the whole array exactly (sparse LU); not modelled for
    ``bridge``."""
    g_ref: float | None = None
    """``reference`` unit: conductance of the reference column's devices (S).  ``None`` = the
    device's mid conductance (G_on + G_off)/2, so weights are symmetric about 0."""
    r_sum: float | None = None
    """``pair`` and ``bridge``: the sum of each divider's two resistances at which weights are
    programmed (ohm), i.e. the common mode the unit starts from.  ``None`` = R_on + R_off (both
    devices at the middle of their resistance range).  Must lie strictly between 2·R_on and
    2·R_off; the programmable weights are then ``|w| ≤ min(1 − 2·R_on/r_sum, 2·R_off/r_sum − 1)``.
    Training moves the devices freely from there.  The chip-design step sets it, when a scenario
    leaves it out, to the common mode a pair keeps under its write pulses (components.training.design)."""
    write_mid: str = "series"
    """``pair`` and ``bridge``: the divider's middle node during a write pulse.  ``series`` (default):
    it floats (R_in to the summing node is ~100 kΩ), so the two devices share the pulse as a
    voltage divider, the higher resistance taking more.  ``ground``: a switch holds it at 0 V while
    the lines are driven to ±v/2, so each device gets half the pulse whatever the other's state
    (no divider: for voltage-controlled devices the write no longer pulls weights toward 0).
    Chosen by the chip-design step when a scenario leaves it out (components.training.design)."""
    init: str = "mid"
    """Initial programming: ``mid`` (all weights 0) or ``random`` (uniform in ±``w_init_scale``)."""
    w_init_scale: float = 0.1
    """Half-width of the uniform initial weights for ``init="random"`` (normalised weight units)."""
    init_spread: float = 0.0
    """Programming inaccuracy at initialisation: relative (log-normal) std of each device's
    resistance around its programmed value (dimensionless), drawn from the build stream."""
    buffer: bool = False
    """``pair`` only: buffer each middle node with an ideal unity-gain follower before R_in, so the
    divider is not loaded (w·V_in reaches R_in exactly).  ``False`` (default) computes the loading."""
    read_disturb: bool = True
    """``False`` idealises the read path: reads never move device states (energy is still counted).
    Only for idealised studies such as the ideal-WSP equivalence check; real devices disturb."""
    disturb_rtol: float = 1e-3
    """Largest relative resistance change per sub-step when integrating a read (or a write through
    resistive lines) whose device voltages depend on the device states (dimensionless)."""

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise field_error(_O, "unit", f"must be one of {', '.join(UNITS)}", self.unit)
        _number("r_in", self.r_in)
        if self.r_in <= 0:
            raise field_error(_O, "r_in", "must be positive", self.r_in, "use an input resistor of e.g. 100e3 ohm")
        _number("v_read", self.v_read)
        if self.v_read <= 0:
            raise field_error(_O, "v_read", "must be positive", self.v_read)
        _number("r_line", self.r_line)
        if self.r_line < 0:
            raise field_error(_O, "r_line", "must not be negative", self.r_line, "use 0 for ideal lines")
        if self.r_line > 0 and self.unit == "bridge":
            raise field_error(_O, "r_line", "line resistance is not modelled for unit 'bridge'", self.r_line,
                              "use r_line=0 or unit 'pair', 'differential' or 'reference'")
        if not isinstance(self.buffer, bool):
            raise field_error(_O, "buffer", "must be true or false", self.buffer)
        if self.buffer and self.unit != "pair":
            raise field_error(_O, "buffer", "only the 'pair' unit has a middle node to buffer", self.buffer,
                              "use buffer=False or unit='pair'")
        if self.buffer and self.r_line > 0:
            raise field_error(_O, "buffer", "a buffered pair with line resistance is not modelled", self.buffer,
                              "use r_line=0 or buffer=False")
        if not isinstance(self.read_disturb, bool):
            raise field_error(_O, "read_disturb", "must be true or false", self.read_disturb)
        if self.g_ref is not None:
            _number("g_ref", self.g_ref)
            if self.g_ref <= 0:
                raise field_error(_O, "g_ref", "must be positive (or None for the mid conductance)", self.g_ref)
        if self.r_sum is not None:
            _number("r_sum", self.r_sum)
            if self.r_sum <= 0:
                raise field_error(_O, "r_sum", "must be positive", self.r_sum)
            if self.unit not in ("pair", "bridge"):
                raise field_error(_O, "r_sum", "only 'pair' and 'bridge' units have a divider sum", self.r_sum,
                                  "leave r_sum out or use unit 'pair' or 'bridge'")
        if self.write_mid not in ("series", "ground"):
            raise field_error(_O, "write_mid", "must be 'series' or 'ground'", self.write_mid)
        if self.write_mid == "ground" and self.unit not in ("pair", "bridge"):
            raise field_error(_O, "write_mid", "only 'pair' and 'bridge' units have a middle node", self.write_mid,
                              "use write_mid='series' or unit 'pair' or 'bridge'")
        if self.write_mid == "ground" and self.r_line > 0:
            raise field_error(_O, "write_mid", "a grounded-middle write with line resistance is not modelled",
                              self.write_mid, "use r_line=0 or write_mid='series'")
        if self.init not in INITS:
            raise field_error(_O, "init", f"must be one of {', '.join(INITS)}", self.init)
        _number("w_init_scale", self.w_init_scale)
        if not 0 <= self.w_init_scale < 1:
            raise field_error(_O, "w_init_scale", "must lie in [0, 1)", self.w_init_scale)
        _number("init_spread", self.init_spread)
        if not 0 <= self.init_spread <= 1:
            raise field_error(_O, "init_spread", "must lie in [0, 1]", self.init_spread)
        _number("disturb_rtol", self.disturb_rtol)
        if not 0 < self.disturb_rtol <= 0.1:
            raise field_error(_O, "disturb_rtol", "must lie in (0, 0.1]", self.disturb_rtol)

    def with_values(self, **changes) -> "SynapseParams":
        """Validated copy with some fields changed (an unknown name is a ConfigError)."""
        names = {f.name for f in fields(self)}
        for k in changes:
            if k not in names:
                raise ConfigError(f"{_O}.{k}: unknown parameter; known: {', '.join(sorted(names))}")
        return replace(self, **changes)
