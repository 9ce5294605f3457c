"""Error and update circuits of the WSP chip: J = 1/2*sum (d - o)^2, the
sample-and-hold that keeps J0, the comparator for sign(J1 - J0) and the
pulse-width modulator that turns |J1 - J0| into an update-pulse width.

What lives here
---------------
* :class:`ErrorCircuitParams`, :class:`ErrorCircuit` -- per output a difference
  amplifier (gain ``sub_gain``) and a squarer (``k_sq*v**2``), then a summer
  weighting each square by ``sum_gain/2``.  Ideal output
  ``J = 1/2*sum_gain*k_sq*sub_gain**2 * sum_k (d_k - o_k)**2`` (V).
* :class:`SampleHoldParams`, :class:`SampleHold` -- track/hold with acquisition
  time, droop, offset and hold pedestal.
* :class:`ComparatorParams`, :class:`Comparator` -- ``compare(a, b) -> +-1``
  with offset, hysteresis and input noise.
* :class:`PWMParams`, :class:`PWM` -- ``width_ticks(delta_v)``: gain, clock
  quantisation, minimum and maximum widths.

Nonidealities of the J chain (docs/circuits.md)
-----------------------------------------------
Every op-amp stage has finite gain (closed-loop gain times
``1/(1 + NG/A0)``), an input offset drawn at build (``opamp.offset_d2d``,
multiplied by the stage's noise gain) and rails.  The subtractor's noise gain is
``1 + sub_gain``, the summer's ``1 + n*sum_gain/2``; the squarer (an analog
multiplier) is counted as a unity stage.  Dynamics are *lumped*: the J output
follows its static (nonideal) value through one pole whose time constant is
the sum of the three stages' closed-loop time constants (the Elmore
approximation of the cascade: same area, so the same mean delay), with the
summer's slew rate and rails.  Two inversions (subtractor driven on its
inverting side, inverting summer) make J positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numba import njit

from mssim.component import BuildContext, Component, Port
from mssim.errors import ConfigError, SimulationError, field_error
from mssim.units import TICK, TICKS_PER_SECOND, mV, quantize_ticks, to_ticks, us

from .opamp import (OpAmpParams, SinglePoleBlock, clip1, check_choice, check_finite, check_nonneg, check_positive,
                    closed_loop)


def _check_opamp(owner: str, value) -> None:
    if not isinstance(value, OpAmpParams):
        raise field_error(owner, "opamp", "must be an OpAmpParams", value, "use OpAmpParams(...) or OpAmpParams.ideal()")


@njit(cache=True, _nrt=False)  # called per integrator sub-step: no reference counting
def error_j(o, d, ep, off_sub):
    """Settled J (V) of the error circuit (unclipped at the summing amplifier's output).

    Per output: the subtractor ``e = k_sub·(sub_gain·(d - o) + NG_sub·V_os)`` and the squarer
    ``k_sq·e²``, each within the rails; the summer ``k_sum·(sum_gain/2·Σ + NG_sum·V_os,sum)``.
    ``ep`` = [k_sub, sub_gain, NG_sub, k_sq, k_sum, sum_gain, NG_sum, V_os,sum, tau, slew, rail-,
    rail+] (:meth:`ErrorCircuit.engine_params`).  The one law of the J circuit: the block and the
    chip's engine both use it.
    """
    k_sub, sub_gain, ng_sub, k_sq, k_sum, sum_gain, ng_sum, off_sum, lo, hi = (
        ep[0], ep[1], ep[2], ep[3], ep[4], ep[5], ep[6], ep[7], ep[10], ep[11])
    acc = 0.0
    for j in range(o.shape[0]):
        e = clip1(k_sub * (sub_gain * (d[j] - o[j]) + ng_sub * off_sub[j]), lo, hi)
        acc += clip1(k_sq * e * e, lo, hi)
    return k_sum * (0.5 * sum_gain * acc + ng_sum * off_sum)


# ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ErrorCircuitParams:
    """Subtract-square-sum circuit forming J."""

    sub_gain: float = 1.0
    """Gain of each difference amplifier (V/V)."""
    k_sq: float = 1.0
    """Squarer constant: output ``k_sq*v**2`` (1/V)."""
    sum_gain: float = 1.0
    """Summer gain: J = ``sum_gain/2 * sum`` of the squares (V/V)."""
    pwl_tol: float = 1 * mV
    """Chord tolerance of the PWL "j" net and the settled threshold (V)."""
    opamp: OpAmpParams = field(default_factory=OpAmpParams)
    """The amplifier used in every stage."""

    def __post_init__(self) -> None:
        o = "ErrorCircuitParams"
        check_positive(o, "sub_gain", self.sub_gain)
        check_positive(o, "k_sq", self.k_sq)
        check_positive(o, "sum_gain", self.sum_gain)
        check_positive(o, "pwl_tol", self.pwl_tol)
        _check_opamp(o, self.opamp)

    def with_values(self, **changes) -> "ErrorCircuitParams":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def ideal(cls, **overrides) -> "ErrorCircuitParams":
        """Unity gains and an ideal, instant op-amp: J = 1/2*sum (d - o)^2 exactly."""
        kw = dict(opamp=OpAmpParams.ideal())
        kw.update(overrides)
        return cls(**kw)


class ErrorCircuit(SinglePoleBlock):
    """J = 1/2 * k * sum (d - o)^2 as a voltage, with op-amp nonidealities.

    Parameters
    ----------
    name : str
        Component name.
    n : int
        Number of network outputs.
    params : ErrorCircuitParams

    Ports
    -----
    out : voltage, n, input -- the network outputs ``o``.
    target : voltage, n, input -- the targets ``d``.
    j : voltage, 1, output -- J (V), PWL within ``pwl_tol``.

    Random streams: build ``"offset"`` (stage offsets), run ``"noise"``
    (summer output noise per read).  ``energy_j``: quiescent power of the
    ``2n + 1`` amplifiers (load currents are not modelled here).
    """

    def __init__(self, name: str, n: int, params: ErrorCircuitParams | None = None, *, driver=None) -> None:
        super().__init__(name)
        self.driver = driver
        self.lazy = driver is not None
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise field_error("ErrorCircuit", "n", "must be a positive integer", n)
        params = ErrorCircuitParams() if params is None else params
        if not isinstance(params, ErrorCircuitParams):
            raise field_error("ErrorCircuit", "params", "must be an ErrorCircuitParams", params)
        self.n = int(n)
        self.params = params

    def ports(self) -> list[Port]:
        return [Port("out", "voltage", self.n, "in"), Port("target", "voltage", self.n, "in"),
                Port("j", "voltage", 1, "out")]

    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        p, op, n = self.params, self.params.opamp, self.n
        rng = ctx.build_rng("offset")
        s = op.offset_d2d
        self.offset_sub = rng.normal(0.0, s, n) if s > 0 else np.zeros(n)
        self.offset_sum = float(rng.normal(0.0, s)) if s > 0 else 0.0
        self._ng_sub = 1.0 + p.sub_gain
        self._ng_sum = 1.0 + n * p.sum_gain / 2.0
        tau_sub, self._k_sub = closed_loop(op, self._ng_sub)
        tau_sq, _ = closed_loop(op, 1.0)
        tau_sum, self._k_sum = closed_loop(op, self._ng_sum)
        self._tau = np.array([float(tau_sub + tau_sq + tau_sum)])
        self._lo, self._hi = float(op.v_rail_neg), float(op.v_rail_pos)
        self._slew = float(op.slew_rate)
        self._tol = float(p.pwl_tol)
        self._is_instant = op.instant
        self._opamps = [(op, 2 * n + 1)] if op.i_q > 0 else []
        self._o, self._d, self._out = ctx.net("out"), ctx.net("target"), ctx.net("j")
        self._noise_rng = ctx.run_rng("noise")
        self._y = np.clip(self._static(self._o.segment[3], self._d.segment[3]), self._lo, self._hi)
        self._watch(self._o)
        self._watch(self._d)
        ev = ctx.env.timeout(0)
        ev.callbacks.append(lambda _e: self._emit())

    # -- model --------------------------------------------------------------------
    def _static(self, o, d) -> np.ndarray:
        """Settled (unclipped at the summer output) nonideal J for inputs o, d (:func:`error_j`)."""
        ep, off = self.engine_params()
        o = np.ascontiguousarray(np.broadcast_to(np.asarray(o, dtype=float), (self.n,)))
        d = np.ascontiguousarray(np.broadcast_to(np.asarray(d, dtype=float), (self.n,)))
        return np.array([error_j(o, d, ep, off)])

    def static_j(self, o, d) -> float:
        """Settled, noise-free J (V) for outputs ``o`` and targets ``d``, with
        the circuit's gains, offsets and rails (no dynamics)."""
        return float(np.clip(self._static(o, d), self._lo, self._hi)[0])

    def ideal_j(self, o, d) -> float:
        """``1/2*sum_gain*k_sq*sub_gain**2*sum (d - o)**2``: what an ideal circuit gives (V)."""
        p = self.params
        diff = np.asarray(d, dtype=float) - np.asarray(o, dtype=float)
        return float(0.5 * p.sum_gain * p.k_sq * p.sub_gain ** 2 * np.sum(diff * diff))

    _SUBPIECES = 4

    def _pieces(self, t_a: int, t_b: int):
        o_net, d_net = self._o, self._d
        t1o, t1d = o_net.segment[2], d_net.segment[2]
        cuts = [t_a]
        for tc in sorted({t1o, t1d}):
            if t_a < tc < t_b:
                cuts.append(tc)
        cuts.append(t_b)
        tau = self._tau
        out = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a >= t1o and a >= t1d or b == a:
                out.append((a, b, self._static(o_net.value(a), d_net.value(a)), 0.0, tau))
                continue
            # J is quadratic in time on a ramp: secant-linear sub-pieces
            m = self._SUBPIECES
            ts = [a + (b - a) * k // m for k in range(m + 1)]
            js = [self._static(o_net.value(t), d_net.value(t)) for t in ts]
            for k in range(m):
                if ts[k + 1] > ts[k]:
                    p1 = (js[k + 1] - js[k]) * (TICKS_PER_SECOND / (ts[k + 1] - ts[k]))
                    out.append((ts[k], ts[k + 1], js[k], p1, tau))
        return out

    def _horizon(self, t: int) -> int | None:
        ends = [te for te in (self._o.segment[2], self._d.segment[2]) if te > t]
        return min(ends) if ends else None

    # -- public API ---------------------------------------------------------------
    def engine_params(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ep, offset_sub)`` for :mod:`components.engine`: ``ep`` = [k_sub, sub_gain, NG_sub, k_sq,
        k_sum, sum_gain, NG_sum, offset_sum, tau, slew, rail-, rail+] (the model of :meth:`_static`)."""
        p = self.params
        ep = np.array([self._k_sub, p.sub_gain, self._ng_sub, p.k_sq, self._k_sum, p.sum_gain, self._ng_sum,
                       self.offset_sum, float(self._tau[0]), float(self._slew), float(self._lo), float(self._hi)],
                      dtype=float)
        return ep, np.asarray(self.offset_sub, dtype=float)

    @property
    def tau(self) -> float:
        """Lumped time constant of the J output (s)."""
        return float(self._tau[0])

    def value_at(self, t: int | None = None) -> float:
        """Exact noise-free J at tick ``t >= now`` (default now), inputs following
        their present segments."""
        now = self.ctx.env.now
        if t is None or t == now:
            self.advance_to(now)
            return float(self._y[0])
        return float(self.state_at(int(t))[0])

    def read(self) -> float:
        """J now, with the summer's output noise (``opamp.noise_c2c``) drawn per read."""
        v = self.value_at()
        s = self.params.opamp.noise_c2c
        if s > 0:
            v = float(np.clip(v + self._noise_rng.normal(0.0, s), self._lo, self._hi))
        return v

    def steady_state(self) -> float:
        """Settled J for the present inputs' segment end values (V)."""
        return self.static_j(self._o.segment[3], self._d.segment[3])


# ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SampleHoldParams:
    """Track-and-hold nonidealities."""

    t_acq: float = 1 * us
    """Acquisition time: tracking settles to within ``acq_tol`` of a step in ``t_acq`` (s)."""
    acq_tol: float = 1e-4
    """Accuracy that defines ``t_acq`` (relative); tau_acq = t_acq/ln(1/acq_tol)."""
    droop: float = 0.0
    """Rate at which the held value falls (V/s; negative rises)."""
    offset: float = 0.0
    """Output offset, in track and hold (V)."""
    pedestal: float = 0.0
    """Step added to the held value at the hold instant (charge injection) (V)."""
    pwl_tol: float = 1 * mV
    """Chord tolerance of the PWL "out" net while tracking (V)."""
    opamp: OpAmpParams = field(default_factory=OpAmpParams)
    """Output buffer: rails and quiescent current (its GBW is subsumed in t_acq)."""

    def __post_init__(self) -> None:
        o = "SampleHoldParams"
        check_nonneg(o, "t_acq", self.t_acq)
        check_positive(o, "acq_tol", self.acq_tol)
        if not self.acq_tol < 1:
            raise field_error(o, "acq_tol", "must be below 1", self.acq_tol)
        check_finite(o, "droop", self.droop)
        check_finite(o, "offset", self.offset)
        check_finite(o, "pedestal", self.pedestal)
        check_positive(o, "pwl_tol", self.pwl_tol)
        _check_opamp(o, self.opamp)

    @property
    def tau_acq(self) -> float:
        """Tracking time constant (s)."""
        return self.t_acq / math.log(1.0 / self.acq_tol)

    def with_values(self, **changes) -> "SampleHoldParams":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


class SampleHold(SinglePoleBlock):
    """Track-and-hold amplifier.

    In track mode the internal value follows "in" through one pole,
    ``tau_acq = t_acq/ln(1/acq_tol)``; a hold started before the acquisition
    has finished keeps the exponential residue.  In hold mode the value is
    frozen (plus ``pedestal``) and drifts at ``-droop`` V/s.  The output is the
    value plus ``offset``, clipped to the buffer's rails.

    Ports
    -----
    in : voltage, 1, input.
    hold : digital, 1, input, optional (default 0 = track): a rising value
        (> 0.5) holds, falling tracks.  The controller may call
        :meth:`sample` / :meth:`release` directly instead.
    out : voltage, 1, output.
    """

    def __init__(self, name: str, params: SampleHoldParams | None = None, *, driver=None) -> None:
        super().__init__(name)
        self.driver = driver
        self.lazy = driver is not None
        params = SampleHoldParams() if params is None else params
        if not isinstance(params, SampleHoldParams):
            raise field_error("SampleHold", "params", "must be a SampleHoldParams", params)
        self.params = params
        self.holding = False

    def ports(self) -> list[Port]:
        return [Port("in", "voltage", 1, "in"), Port("hold", "digital", 1, "in", optional=True, default=0.0),
                Port("out", "voltage", 1, "out")]

    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        p, op = self.params, self.params.opamp
        self._in, self._out, self._hold = ctx.net("in"), ctx.net("out"), ctx.net("hold")
        self._tau = np.array([p.tau_acq])
        self._lo, self._hi = float(op.v_rail_neg), float(op.v_rail_pos)
        self._slew = math.inf
        self._tol = float(p.pwl_tol)
        self._is_instant = p.t_acq == 0
        self._opamps = [(op, 1)] if op.i_q > 0 else []
        self._y = np.array(self._in.segment[3], dtype=float)
        self._watch(self._in)
        self._hold.on_after_change(self._on_hold)
        ev = ctx.env.timeout(0)
        ev.callbacks.append(lambda _e: self._emit())

    def _on_hold(self, net) -> None:
        if self.driver is not None:
            return  # the driver holds and releases (the net only shows it)
        h = float(net.value()[0]) > 0.5
        if h and not self.holding:
            self.sample()
        elif not h and self.holding:
            self.release()

    def _pieces(self, t_a: int, t_b: int):
        t0, v0, t1, v1 = self._in.segment
        cuts = [t_a] + ([t1] if t_a < t1 < t_b else []) + [t_b]
        out = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a < t1:
                p1 = (v1 - v0) * (TICKS_PER_SECOND / (t1 - t0))
                out.append((a, b, self._in.value(a).copy(), p1, self._tau))
            else:
                out.append((a, b, v1, 0.0, self._tau))
        return out

    def _horizon(self, t: int) -> int | None:
        t1 = self._in.segment[2]
        return t1 if t1 > t else None

    def _map(self, y):
        return np.clip(y + self.params.offset, self._lo, self._hi)

    def _evolve(self, y, t_a, t_b, account=False):
        if self.holding:
            return np.clip(y - self.params.droop * (t_b - t_a) * TICK, self._lo, self._hi)
        return super()._evolve(y, t_a, t_b, account)

    def _emit(self) -> None:
        if self.lazy:
            return
        if not self.holding:
            return super()._emit()
        now = self.ctx.env.now
        self.advance_to(now)
        self._version += 1
        out = self._map(self._y)
        droop = self.params.droop
        if droop == 0:
            self._out.set(self._frozen(out))
            return
        rail = self._lo if droop > 0 else self._hi
        span = abs(float(self._y[0]) - rail) if math.isfinite(rail) else 1.0
        t_ticks = max(1, min(int(span / abs(droop) * TICKS_PER_SECOND), TICKS_PER_SECOND))
        self._out.set(self._frozen(out))   # exact held value (the tracking chord may differ by pwl_tol)
        self._out.ramp(self._frozen(self._map(self._evolve(self._y, now, now + t_ticks))), t_ticks)
        if not math.isfinite(rail) or span / abs(droop) > 1.0:
            version = self._version
            ev = self.ctx.env.timeout(t_ticks)
            ev.callbacks.append(lambda _e, v=version: v == self._version and self._emit())

    # -- public API -----------------------------------------------------------------
    def engine_params(self) -> np.ndarray:
        """[tau_acq (0 = instant), droop (V/s), rail-, rail+] for :mod:`components.engine`."""
        p = self.params
        return np.array([p.tau_acq if p.t_acq > 0 else 0.0, p.droop, float(self._lo), float(self._hi)])

    def sample(self) -> float:
        """Hold now; returns the held output (V), including acquisition residue,
        pedestal and offset."""
        now = self.ctx.env.now
        self.advance_to(now)
        if not self.holding:
            self._y = np.clip(self._y + self.params.pedestal, self._lo, self._hi)
            self.holding = True
            self.ctx.log("sample_hold", value=float(self._map(self._y)[0]))
            self._emit()
        return float(self._map(self._y)[0])

    def release(self) -> None:
        """Return to track mode (tracking starts from the held value)."""
        self.advance_to(self.ctx.env.now)
        if self.holding:
            self.holding = False
            self._emit()

    def read(self) -> float:
        """Present output (V)."""
        self.advance_to(self.ctx.env.now)
        return float(self._map(self._y)[0])


# ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ComparatorParams:
    """Latched comparator deciding sign(a - b)."""

    offset: float = 0.0
    """Systematic input offset (V): decides on ``a - b - offset``."""
    offset_d2d: float = 0.0
    """Std of a random offset drawn once per comparator (V)."""
    hysteresis: float = 0.0
    """Total hysteresis width (V): the threshold moves by -h/2 after a +1, +h/2 after a -1."""
    noise_c2c: float = 0.0
    """Input-referred RMS noise per decision (V)."""
    e_decision: float = 100e-15
    """Energy per decision (J).  Default 100 fJ: a StrongARM latch comparator charges and discharges
    of the order of 100 fF at 1 V per decision (B. Razavi, "The StrongARM latch", IEEE Solid-State
    Circuits Magazine 7(2), 2015); an order-of-magnitude estimate, set it for your design."""

    def __post_init__(self) -> None:
        o = "ComparatorParams"
        check_finite(o, "offset", self.offset)
        check_nonneg(o, "offset_d2d", self.offset_d2d)
        check_nonneg(o, "hysteresis", self.hysteresis)
        check_nonneg(o, "noise_c2c", self.noise_c2c)
        check_nonneg(o, "e_decision", self.e_decision)


class Comparator(Component):
    """``compare(a, b) -> +1 or -1`` with offset, hysteresis and noise.

    A netlist block (ports ``a``, ``b`` in, ``out`` digital out: the last decision) that also
    works on its own.  Its controller calls :meth:`compare` at the decision instant with the
    values on ``a`` and ``b``.

    Parameters
    ----------
    params : ComparatorParams
    build_rng : numpy.random.Generator, optional
        Needed if ``offset_d2d > 0`` (use ``ctx.build_rng("comparator")``).
    run_rng : numpy.random.Generator, optional
        Needed if ``noise_c2c > 0`` (use ``ctx.run_rng("comparator")``).
    """

    feedthrough = False

    def __init__(self, params: ComparatorParams | None = None, *, build_rng=None, run_rng=None,
                 name: str = "comparator") -> None:
        super().__init__(name)
        params = ComparatorParams() if params is None else params
        if not isinstance(params, ComparatorParams):
            raise field_error("Comparator", "params", "must be a ComparatorParams", params)
        if params.offset_d2d > 0 and build_rng is None:
            raise ConfigError("Comparator.build_rng: offset_d2d > 0 needs a build-phase generator; pass build_rng=ctx.build_rng('comparator')")
        if params.noise_c2c > 0 and run_rng is None:
            raise ConfigError("Comparator.run_rng: noise_c2c > 0 needs a run-phase generator; pass run_rng=ctx.run_rng('comparator')")
        self.params = params
        self.offset_total = params.offset + (float(build_rng.normal(0.0, params.offset_d2d)) if params.offset_d2d > 0 else 0.0)
        self._rng = run_rng
        self.state = -1
        self.n_decisions = 0
        self.energy_j = 0.0

    def compare(self, a: float, b: float) -> int:
        """+1 if ``a - b`` exceeds the (offset, hysteresis-shifted) threshold, else -1."""
        p = self.params
        x = float(a) - float(b)
        if not math.isfinite(x):
            raise SimulationError(f"Comparator.compare: inputs must be finite (got a={a!r}, b={b!r})")
        if p.noise_c2c > 0:
            x += float(self._rng.normal(0.0, p.noise_c2c))
        thr = self.offset_total + (-0.5 if self.state > 0 else 0.5) * p.hysteresis
        self.state = 1 if x > thr else -1
        self.n_decisions += 1
        self.energy_j += p.e_decision
        if self._out is not None:
            self._out.set(float(self.state))
        return self.state

    _out = None

    def ports(self) -> list[Port]:
        return [Port("a", "voltage", 1, "in"), Port("b", "voltage", 1, "in"), Port("out", "digital", 1, "out")]

    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        self._out = ctx.net("out")


# ---------------------------------------------------------------------------
PWM_BELOW_MIN = ("zero", "min")


@dataclass(frozen=True, kw_only=True)
class PWMParams:
    """Pulse-width modulator: width = gain*|dV|, clocked and bounded."""

    gain: float = 1 * us
    """Width per volt (s/V)."""
    clock: float | None = 10e-9
    """Clock period the width is quantised to (s); None = 1 tick."""
    t_min: float = 0.0
    """Shortest non-zero width (s), rounded up to the clock."""
    t_max: float = 10 * us
    """Longest width (s), rounded down to the clock."""
    below_min: str = "zero"
    """Widths under ``t_min``: ``"zero"`` drops the pulse, ``"min"`` stretches it to ``t_min``."""
    rounding: str = "round"
    """Clock quantisation: ``"round"``, ``"floor"`` or ``"ceil"``."""
    e_conversion: float = 1e-12
    """Energy per conversion (J).  Default 1 pJ: a counter-based digital PWM (a ~10-bit counter and
    comparator, ~100 fF switched at 1 V per bit and period, over a few periods); an
    order-of-magnitude estimate, set it for your design."""

    def __post_init__(self) -> None:
        o = "PWMParams"
        check_positive(o, "gain", self.gain)
        if self.clock is not None:
            check_positive(o, "clock", self.clock)
            if to_ticks(float(self.clock), name=f"{o}.clock") == 0:
                raise field_error(o, "clock", "must be at least one tick (1 ps)", self.clock)
        check_nonneg(o, "t_min", self.t_min)
        check_positive(o, "t_max", self.t_max)
        if self.t_max < self.t_min:
            raise field_error(o, "t_max", f"must be at least t_min ({self.t_min!r})", self.t_max)
        check_choice(o, "below_min", self.below_min, PWM_BELOW_MIN)
        check_choice(o, "rounding", self.rounding, ("round", "floor", "ceil"))
        check_nonneg(o, "e_conversion", self.e_conversion)
        if self.t_max_ticks < self.t_min_ticks or self.t_max_ticks == 0:
            raise field_error(o, "t_max", "leaves no whole clock period at or above t_min", self.t_max,
                              "raise t_max or shorten the clock")

    @property
    def clock_ticks(self) -> int:
        """Clock period in ticks (1 if no clock)."""
        return 1 if self.clock is None else to_ticks(float(self.clock))

    @property
    def t_min_ticks(self) -> int:
        """``t_min`` rounded up to the clock (ticks)."""
        clk = self.clock_ticks
        return -(-to_ticks(float(self.t_min), name="PWMParams.t_min") // clk) * clk

    @property
    def t_max_ticks(self) -> int:
        """``t_max`` rounded down to the clock (ticks)."""
        clk = self.clock_ticks
        return to_ticks(float(self.t_max), name="PWMParams.t_max") // clk * clk


class PWM(Component):
    """Turns ``|delta_v|`` into a pulse width (see :class:`PWMParams`).

    A netlist block (ports ``a``, ``b`` in, ``width`` signal out: the last width in seconds) that
    also works on its own; its controller calls :meth:`width_ticks` with ``a - b`` at the decision
    instant.  :meth:`quantise` is the one clock rule of the chip: every pulse width the controller
    computes goes through it.
    """

    feedthrough = False
    _out = None

    def __init__(self, params: PWMParams | None = None, *, name: str = "pwm") -> None:
        super().__init__(name)
        params = PWMParams() if params is None else params
        if not isinstance(params, PWMParams):
            raise field_error("PWM", "params", "must be a PWMParams", params)
        self.params = params
        self._clk = params.clock_ticks
        self._tmin = params.t_min_ticks
        self._tmax = params.t_max_ticks
        self.n_conversions = 0
        self.energy_j = 0.0

    def width_seconds_exact(self, delta_v: float) -> float:
        """``gain*|delta_v|`` (s): no quantisation, no bounds (ideal-equivalence runs)."""
        return self.params.gain * abs(float(delta_v))

    def width_ticks(self, delta_v: float) -> int:
        """Width in ticks: ``gain*|delta_v|`` quantised to the clock, at most
        ``t_max``; below ``t_min`` either 0 (``"zero"``) or ``t_min``
        (``"min"``, for any non-zero ``delta_v``); 0 if it quantises to zero
        clocks in ``"zero"`` mode."""
        w = self.width_seconds_exact(delta_v)
        if not math.isfinite(w):
            raise SimulationError(f"PWM.width_ticks: delta_v must be finite (got {delta_v!r})")
        self.n_conversions += 1
        self.energy_j += self.params.e_conversion
        q = self.quantise(w)
        if self._out is not None:
            self._out.set(q * TICK)
        return q

    def quantise(self, seconds: float) -> int:
        """Ticks for a wanted width: the clock rule (``rounding``), at most ``t_max``; a non-zero
        width under ``t_min`` becomes 0 (``"zero"``) or ``t_min`` (``"min"``)."""
        if seconds == 0:
            return 0
        q = min(quantize_ticks(seconds, self._clk, self.params.rounding), self._tmax)
        if q < self._tmin:
            return self._tmin if self.params.below_min == "min" else 0
        return q

    def ports(self) -> list[Port]:
        return [Port("a", "voltage", 1, "in"), Port("b", "voltage", 1, "in"), Port("width", "signal", 1, "out")]

    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        self._out = ctx.net("width")
