"""Trapezoid pulse generators with clocked widths, edge jitter and amplitude noise.

What lives here
---------------
* :class:`PulseParams` -- amplitude, flat-top width, rise and fall times, the
  width clock, minimum width, edge jitter and amplitude noise.
* :class:`PulseGenerator` -- one pulse source fanned out to ``n_lines`` lines
  through per-line polarity switches (port "polarity": +1, -1, or 0 to mask a
  line off).

Width semantics
---------------
``width`` is the *flat top* at full amplitude.  The rise and fall edges add to
it: a pulse occupies ``rise + width + fall`` and its full-width-at-half-maximum
is ``width + (rise + fall)/2``.  Widths are quantised to the clock (nearest
period) before jitter; a requested non-zero width below ``min_width`` is raised
to ``min_width`` (rounded up to the clock: the shortest pulse the driver can
produce); a zero width, or one that rounds to zero periods when ``min_width``
is 0, plays nothing.

Timing is shared by all lines (one source); amplitude noise is drawn per line.
The leading edge defines the pulse time; the trailing edge is jittered
relative to it, so the flat top varies by ``jitter_c2c*sqrt(2)`` rms (the
difference of two independent edge jitters), never below zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from mssim.component import BuildContext, Component, Port
from mssim.errors import ConfigError, SimulationError, field_error
from mssim.units import TICK, TICKS_PER_SECOND, quantize_ticks, to_ticks

from .opamp import check_finite, check_nonneg, check_positive


@dataclass(frozen=True, kw_only=True)
class PulseParams:
    """A trapezoid pulse and the driver's nonidealities."""

    amplitude: float = 1.0
    """Flat-top voltage before polarity (V); may be negative."""
    width: float = 100e-9
    """Flat-top duration at full amplitude (s); edges add to it."""
    rise: float = 0.0
    """Leading-edge duration, 0 to 100 % (s)."""
    fall: float = 0.0
    """Trailing-edge duration, 100 to 0 % (s)."""
    clock: float | None = None
    """Width clock period (s); widths are rounded to whole periods. None = 1 tick."""
    min_width: float = 0.0
    """Shortest non-zero flat top the driver produces (s)."""
    jitter_c2c: float = 0.0
    """RMS timing jitter of each edge, independent per pulse (s)."""
    amplitude_c2c: float = 0.0
    """Relative RMS amplitude noise, independent per pulse and line (dimensionless)."""
    c_load: float = 1e-12
    """Capacitance of each driven line (F); the source draws ``c_load*V**2`` per pulse and line.
    Default 1 pF: a global on-chip write line of a few mm at ~0.2 fF/µm (typical wire capacitance
    of a CMOS metal layer); an order-of-magnitude estimate, set it for your layout."""

    def __post_init__(self) -> None:
        o = "PulseParams"
        check_finite(o, "amplitude", self.amplitude)
        check_nonneg(o, "width", self.width)
        for name in ("width", "rise", "fall", "min_width"):
            check_nonneg(o, name, getattr(self, name))
            to_ticks(float(getattr(self, name)), name=f"{o}.{name}")
        if self.clock is not None:
            check_positive(o, "clock", self.clock)
            to_ticks(float(self.clock), name=f"{o}.clock")
            if to_ticks(float(self.clock)) == 0:
                raise field_error(o, "clock", "must be at least one tick (1 ps)", self.clock)
        check_nonneg(o, "jitter_c2c", self.jitter_c2c)
        check_nonneg(o, "amplitude_c2c", self.amplitude_c2c)
        check_nonneg(o, "c_load", self.c_load)

    def with_values(self, **changes) -> "PulseParams":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @property
    def clock_ticks(self) -> int:
        """Width clock in ticks (1 if no clock)."""
        return 1 if self.clock is None else to_ticks(float(self.clock))

    def quantise(self, width_s: float) -> int:
        """Width in ticks after clock rounding and the minimum-width rule."""
        if not (width_s >= 0 and math.isfinite(width_s)):
            raise ConfigError(f"PulseParams.width: must be finite and not negative (got {width_s!r})")
        if width_s == 0:
            return 0
        w = quantize_ticks(width_s, self.clock_ticks)
        return max(w, self.min_width_ticks)

    @property
    def min_width_ticks(self) -> int:
        """``min_width`` rounded up to the clock, in ticks."""
        if self.min_width == 0:
            return 0
        clk = self.clock_ticks
        return -(-to_ticks(float(self.min_width)) // clk) * clk   # ceil in exact integers


class PulseGenerator(Component):
    """A trapezoid pulse source driving ``n_lines`` lines.

    Parameters
    ----------
    name : str
        Component name.
    params : PulseParams
        Pulse shape and nonidealities.
    n_lines : int
        Number of output lines (default 1).

    Ports
    -----
    out : voltage, n_lines, output
        The pulse waveform (0 V between pulses).
    polarity : digital, n_lines, input, optional (default +1)
        Per-line sign: +1, -1, or 0 (line masked off).  Read at the leading edge.

    Random streams (run phase): ``"jitter"`` (edge timing), ``"amplitude"``.
    ``energy_j`` counts ``c_load*V_line**2`` per pulse and line (charging and
    discharging the line capacitance); the energy the load devices absorb is
    accounted by those devices.
    """

    feedthrough = False

    def __init__(self, name: str, params: PulseParams | None = None, n_lines: int = 1) -> None:
        super().__init__(name)
        if isinstance(n_lines, bool) or not isinstance(n_lines, (int, np.integer)) or n_lines < 1:
            raise field_error("PulseGenerator", "n_lines", "must be a positive integer", n_lines)
        params = PulseParams() if params is None else params
        if not isinstance(params, PulseParams):
            raise field_error("PulseGenerator", "params", "must be a PulseParams", params)
        self.params = params
        self.n_lines = int(n_lines)
        self.energy_j = 0.0
        self.n_pulses = 0
        self.busy = False
        self._pol_src = self._pol_ok = None

    def ports(self) -> list[Port]:
        n = self.n_lines
        return [Port("out", "voltage", n, "out"), Port("polarity", "digital", n, "in", optional=True, default=1.0)]

    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        self._out = ctx.net("out")
        self._pol = ctx.net("polarity")
        self._rng_jitter = ctx.run_rng("jitter")
        self._rng_amp = ctx.run_rng("amplitude")
        p = self.params
        self._rise = to_ticks(float(p.rise))
        self._fall = to_ticks(float(p.fall))

    def set_jitter(self, rms_s: float) -> None:
        """Edge-timing jitter (s rms, per edge) from now on (a pulse fault)."""
        self.params = self.params.with_values(jitter_c2c=float(rms_s))

    def set_amplitude_spread(self, rel_rms: float) -> None:
        """Relative amplitude spread per pulse from now on (a pulse fault)."""
        self.params = self.params.with_values(amplitude_c2c=float(rel_rms))

    def fire(self, width_ticks: int | None = None, amplitude: float | None = None, polarity=None):
        """Play one pulse now; returns the SimPy process (yield it to wait for the end).

        Parameters
        ----------
        width_ticks : int, optional
            Requested flat top in ticks (default ``params.width``); quantised
            to the clock and raised to ``min_width`` if non-zero.
        amplitude : float, optional
            Overrides ``params.amplitude`` (V).
        polarity : array of {-1, 0, +1}, optional
            Overrides the "polarity" net for this pulse.

        Returns
        -------
        simpy.Process
            Its value is a dict ``{"width_ticks": actual flat top after
            quantisation and jitter, "width_nominal_ticks": after quantisation,
            "amplitude": per-line peak voltage (array)}``.
        """
        if self.ctx is None:
            raise SimulationError(f"PulseGenerator {self.name!r}: build the circuit before firing")
        if self.busy:
            raise SimulationError(f"PulseGenerator {self.name!r}: fire() while a pulse is playing; wait for the previous pulse's process")
        return self.start(self.plan(width_ticks, amplitude, polarity))

    def start(self, planned):
        """Play a pulse from :meth:`plan` now; returns the SimPy process (as :meth:`fire`)."""
        if self.busy:
            raise SimulationError(f"PulseGenerator {self.name!r}: fire() while a pulse is playing; wait for the previous pulse's process")
        width, nominal, levels = planned
        self.busy = nominal > 0
        return self.ctx.env.process(self._play(width, nominal, levels))

    def plan(self, width_ticks: int | None = None, amplitude: float | None = None, polarity=None):
        """The pulse :meth:`fire` would play now, without playing it: ``(width_ticks, nominal_ticks,
        levels)`` after quantisation, jitter and amplitude spread (this draws from the run streams,
        as firing does).  :meth:`play_at_once` then accounts it and gives its pieces."""
        p = self.params
        if width_ticks is None:
            nominal = p.quantise(float(p.width))
        else:
            if isinstance(width_ticks, bool) or not isinstance(width_ticks, (int, np.integer)) or width_ticks < 0:
                raise ConfigError(f"PulseGenerator.fire.width_ticks: must be a non-negative int (got {width_ticks!r})")
            nominal = p.quantise(int(width_ticks) * TICK) if width_ticks else 0
        amp = float(p.amplitude if amplitude is None else amplitude)
        src = self._pol.value() if polarity is None else polarity
        if src is self._pol_src:  # the net's value, checked when it was set (net values are immutable)
            pol = self._pol_ok
        else:
            pol = np.asarray(src, dtype=float)
            if pol.shape not in ((), (self.n_lines,)) or not np.all((pol == 1.0) | (pol == -1.0) | (pol == 0.0)):
                raise ConfigError(f"PulseGenerator {self.name!r}.polarity: must be -1, 0 or +1 per line (got {pol!r})")
            pol = np.broadcast_to(pol, (self.n_lines,))
            if polarity is None:
                self._pol_src, self._pol_ok = src, pol
        width = nominal
        if nominal > 0 and p.jitter_c2c > 0:
            e1, e2 = self._rng_jitter.normal(0.0, p.jitter_c2c, 2)
            width = max(0, nominal + int(round((e2 - e1) * TICKS_PER_SECOND)))
        levels = amp * pol
        if p.amplitude_c2c > 0:
            levels = levels * (1.0 + self._rng_amp.normal(0.0, p.amplitude_c2c, self.n_lines))
        levels = np.array(levels, dtype=float)
        levels.flags.writeable = False
        return width, nominal, levels

    def duration_ticks(self, width: int, nominal: int) -> int:
        """How long a planned pulse occupies the line (rise, flat top, fall), in ticks."""
        return self._rise + width + self._fall if nominal > 0 else 0

    def play_at_once(self, width: int, nominal: int, levels: np.ndarray, line: int = 0):
        """Account a planned pulse (event log, count, line energy) as :meth:`fire` does when it
        starts, for a caller that integrates the pulse itself and waits :meth:`duration_ticks`.
        Returns ``(info, pieces)``: ``fire``'s result and line ``line``'s waveform as pieces
        ``(v0, v1, seconds)`` of non-zero length (rise, flat top, fall)."""
        info = {"width_ticks": width, "width_nominal_ticks": nominal, "amplitude": levels}
        if nominal == 0:
            return info, []
        self._account(width, nominal, levels)
        a = float(levels[line])
        pieces = [(0.0, a, self._rise * TICK), (a, a, width * TICK), (a, 0.0, self._fall * TICK)]
        return info, [pc for pc, n in zip(pieces, (self._rise, width, self._fall)) if n > 0]

    def _account(self, width: int, nominal: int, levels: np.ndarray) -> None:
        ctx = self.ctx
        if "pulse" not in ctx.sim.muted_kinds:  # (a training run mutes them: one per pattern)
            ctx.log("pulse", width_ticks=width, width_nominal_ticks=nominal, rise_ticks=self._rise,
                    fall_ticks=self._fall, amplitude=levels)
        self.n_pulses += 1
        if levels.size == 1:
            a = float(levels[0])
            self.energy_j += float(self.params.c_load) * (a * a)
        else:
            self.energy_j += float(self.params.c_load * np.sum(levels * levels))

    def _play(self, width: int, nominal: int, levels: np.ndarray):
        env, out = self.ctx.env, self._out
        info = {"width_ticks": width, "width_nominal_ticks": nominal, "amplitude": levels}
        if nominal == 0:
            return info
        self._account(width, nominal, levels)
        out.ramp(levels, self._rise)
        yield env.timeout(self._rise + width)
        out.ramp(0.0, self._fall)
        if self._fall:
            yield env.timeout(self._fall)
        self.busy = False
        return info
