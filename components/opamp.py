"""Single-pole op-amp model: parameters, exact stepping, and the base block.

What lives here
---------------
* :class:`OpAmpParams` -- the op-amp's nonidealities (finite open-loop gain,
  gain-bandwidth product, slew rate, rails, input offset spread, output noise,
  quiescent current), with an :meth:`~OpAmpParams.ideal` preset and presets
  named after real parts.
* :func:`pole_step` and :func:`pole_step_ramp` -- closed-form advance of a
  vector of single-pole outputs under a constant or linearly moving target,
  with slew limiting and rail clipping without wind-up.
* :func:`time_to_level` and :func:`closed_loop` -- closed-form settling times
  and the closed-loop time constant / gain of an inverting stage.
* :class:`SinglePoleBlock` -- an :class:`~mssim.component.AnalogBlock` base for
  every block whose outputs are single-pole op-amp outputs (neuron layers, the
  error circuit, the sample-and-hold).  It advances lazily and exactly, posts a
  piecewise-linear approximation of its (exponential) output on its output net
  with knots chosen from a voltage tolerance, stops generating events once the
  outputs have settled within that tolerance, and accounts supply energy.

Model (docs/circuits.md, shared MODELS.md "Op-amp neuron (single pole)")
-----------------------------------------------------------------------
``dy/dt = 2*pi*(GBW/A0) * (A0*(v+ - v-) - y)``, ``|dy/dt| <= slew_rate``, ``y``
clipped to ``[v_rail_neg, v_rail_pos]`` with the *state* clipped (no wind-up).
For a stage whose inverting input sees feedback fraction ``1/NG`` (NG = noise
gain) the closed loop is first order with
``tau = 1 / (2*pi*GBW*(1/A0 + 1/NG))`` (-> ``NG/(2*pi*GBW)`` as A0 -> inf) and
the output relaxes to ``y_inf`` exponentially; when ``|y_inf - y| > slew_rate*tau``
the output first ramps at the slew rate until the distance equals
``slew_rate*tau``, where the linear derivative equals the slew limit, then
relaxes exponentially.  Both phases move monotonically toward ``y_inf``, so
clipping the unconstrained trajectory at the rails is exact and a railed output
leaves the rail as soon as the target comes back inside (no wind-up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from mssim.component import AnalogBlock
from mssim.errors import field_error
from mssim.units import TICK, TICKS_PER_SECOND, mA

TWO_PI = 2.0 * math.pi

# ---------------------------------------------------------------------------
# validation helpers shared by the circuit modules (components.neurons, ...)


def _number(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise field_error(owner, name, "must be a number", value)
    v = float(value)
    if math.isnan(v):
        raise field_error(owner, name, "must not be NaN", value)
    return v


def check_finite(owner: str, name: str, value) -> float:
    """Raise ``ConfigError`` unless ``value`` is a finite real number."""
    v = _number(owner, name, value)
    if not math.isfinite(v):
        raise field_error(owner, name, "must be finite", value)
    return v


def check_positive(owner: str, name: str, value, *, allow_inf: bool = False) -> float:
    """Raise ``ConfigError`` unless ``value > 0`` (``inf`` only if ``allow_inf``)."""
    v = _number(owner, name, value)
    if math.isinf(v) and not allow_inf:
        raise field_error(owner, name, "must be finite", value)
    if v <= 0:
        raise field_error(owner, name, "must be positive", value)
    return v


def check_nonneg(owner: str, name: str, value) -> float:
    """Raise ``ConfigError`` unless ``value`` is finite and ``>= 0``."""
    v = check_finite(owner, name, value)
    if v < 0:
        raise field_error(owner, name, "must not be negative", value)
    return v


def check_choice(owner: str, name: str, value, allowed) -> None:
    """Raise ``ConfigError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise field_error(owner, name, "must be one of " + ", ".join(repr(a) for a in allowed), value)


# ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class OpAmpParams:
    """Nonidealities of a voltage-feedback op-amp with one dominant pole.

    The defaults describe a generic general-purpose part (100 dB gain, 10 MHz
    GBW, 10 V/us); offset and noise default to zero so that a default circuit
    is deterministic.  Use :meth:`ideal` for an exactly ideal amplifier and
    :meth:`tl07x` / :meth:`opa27` for presets after real parts.
    """

    a0: float = 1e5
    """Open-loop DC gain (V/V); ``math.inf`` for an ideal amplifier."""
    gbw: float = 10e6
    """Gain-bandwidth product (Hz); ``math.inf`` settles instantly."""
    slew_rate: float = 10e6
    """Slew-rate limit on ``|dy/dt|`` (V/s; 10e6 V/s = 10 V/us); ``math.inf`` for none."""
    v_rail_pos: float = 5.0
    """Highest output voltage the stage can reach (V); ``math.inf`` for none."""
    v_rail_neg: float = -5.0
    """Lowest output voltage the stage can reach (V); ``-math.inf`` for none."""
    offset_d2d: float = 0.0
    """Std of the input offset voltage, drawn once per amplifier at build (V)."""
    noise_c2c: float = 0.0
    """RMS output noise added to every read (V), independent per read and per output."""
    i_q: float = 1.0 * mA
    """Quiescent supply current per amplifier (A)."""
    v_supply_pos: float | None = None
    """Positive supply (V); ``None`` = ``v_rail_pos`` (rail-to-rail output)."""
    v_supply_neg: float | None = None
    """Negative supply (V); ``None`` = ``v_rail_neg`` (rail-to-rail output)."""

    def __post_init__(self) -> None:
        o = "OpAmpParams"
        a0 = check_positive(o, "a0", self.a0, allow_inf=True)
        if a0 < 1:
            raise field_error(o, "a0", "must be at least 1", self.a0, "the open-loop gain is a large number such as 1e5")
        check_positive(o, "gbw", self.gbw, allow_inf=True)
        check_positive(o, "slew_rate", self.slew_rate, allow_inf=True)
        hi = _number(o, "v_rail_pos", self.v_rail_pos)
        lo = _number(o, "v_rail_neg", self.v_rail_neg)
        if hi == -math.inf:
            raise field_error(o, "v_rail_pos", "must not be -inf", self.v_rail_pos)
        if lo == math.inf:
            raise field_error(o, "v_rail_neg", "must not be +inf", self.v_rail_neg)
        if not hi > lo:
            raise field_error(o, "v_rail_pos", f"must exceed v_rail_neg ({lo!r})", self.v_rail_pos)
        check_nonneg(o, "offset_d2d", self.offset_d2d)
        check_nonneg(o, "noise_c2c", self.noise_c2c)
        check_nonneg(o, "i_q", self.i_q)
        if self.v_supply_pos is not None:
            sp = check_finite(o, "v_supply_pos", self.v_supply_pos)
            if math.isfinite(hi) and sp < hi:
                raise field_error(o, "v_supply_pos", f"must be at least v_rail_pos ({hi!r})", self.v_supply_pos,
                                  "the output cannot swing beyond the supply")
        if self.v_supply_neg is not None:
            sn = check_finite(o, "v_supply_neg", self.v_supply_neg)
            if math.isfinite(lo) and sn > lo:
                raise field_error(o, "v_supply_neg", f"must be at most v_rail_neg ({lo!r})", self.v_supply_neg,
                                  "the output cannot swing beyond the supply")
        if self.i_q > 0 and not (math.isfinite(self.supply_pos) and math.isfinite(self.supply_neg)):
            raise field_error(o, "i_q", "needs finite supplies to account energy", self.i_q,
                              "set v_supply_pos/v_supply_neg, or i_q=0 when the rails are infinite")

    # -- derived -------------------------------------------------------------
    @property
    def supply_pos(self) -> float:
        """Positive supply voltage (V)."""
        return self.v_rail_pos if self.v_supply_pos is None else float(self.v_supply_pos)

    @property
    def supply_neg(self) -> float:
        """Negative supply voltage (V)."""
        return self.v_rail_neg if self.v_supply_neg is None else float(self.v_supply_neg)

    @property
    def supply_span(self) -> float:
        """``supply_pos - supply_neg`` (V); quiescent power is ``i_q * supply_span``."""
        return self.supply_pos - self.supply_neg

    @property
    def instant(self) -> bool:
        """True when the closed loop settles in zero time (``gbw`` infinite)."""
        return math.isinf(self.gbw)

    def with_values(self, **changes) -> "OpAmpParams":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    # -- presets ---------------------------------------------------------------
    @classmethod
    def ideal(cls, **overrides) -> "OpAmpParams":
        """An exactly ideal op-amp: infinite gain, bandwidth and slew rate, no
        rails, no offset, no noise, no supply current.

        ``OpAmpParams.ideal(v_rail_pos=5, v_rail_neg=-5)`` keeps instant
        dynamics but saturates at the given rails.
        """
        kw = dict(a0=math.inf, gbw=math.inf, slew_rate=math.inf, v_rail_pos=math.inf, v_rail_neg=-math.inf,
                  offset_d2d=0.0, noise_c2c=0.0, i_q=0.0)
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def tl07x(cls, **overrides) -> "OpAmpParams":
        """JFET-input general purpose op-amp after the TI TL071/TL072/TL074
        data sheet at +-15 V supplies (typical datasheet values, unverified):
        A0 = 200 V/mV, GBW = 3 MHz, SR = 13 V/us, |Vos| typ 3 mV (used as the
        spread), output swing +-13.5 V, I_Q = 1.4 mA per amplifier.
        """
        kw = dict(a0=2e5, gbw=3e6, slew_rate=13e6, v_rail_pos=13.5, v_rail_neg=-13.5, offset_d2d=3e-3,
                  noise_c2c=0.0, i_q=1.4e-3, v_supply_pos=15.0, v_supply_neg=-15.0)
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def opa27(cls, **overrides) -> "OpAmpParams":
        """Low-noise precision op-amp after the TI/Burr-Brown OPA27 data sheet
        at +-15 V supplies (typical datasheet values, unverified): A0 = 1.8e6,
        GBW = 8 MHz, SR = 1.9 V/us, Vos typ 10 uV (used as the spread), output
        swing +-12.3 V, I_Q = 3.3 mA.
        """
        kw = dict(a0=1.8e6, gbw=8e6, slew_rate=1.9e6, v_rail_pos=12.3, v_rail_neg=-12.3, offset_d2d=10e-6,
                  noise_c2c=0.0, i_q=3.3e-3, v_supply_pos=15.0, v_supply_neg=-15.0)
        kw.update(overrides)
        return cls(**kw)


# ---------------------------------------------------------------------------
# closed forms


def closed_loop(p: OpAmpParams, noise_gain) -> tuple[np.ndarray, np.ndarray]:
    """Closed-loop time constant and finite-gain factor of a stage.

    Parameters
    ----------
    p : OpAmpParams
        The amplifier.
    noise_gain : float or array
        ``NG = 1/beta``, the reciprocal of the feedback fraction (an inverting
        summer: ``1 + R_f*G_src``).

    Returns
    -------
    tau : ndarray
        ``1/(2*pi*GBW*(1/A0 + 1/NG))`` in seconds (0 if GBW is infinite).
    k : ndarray
        ``1/(1 + NG/A0)``: the closed-loop gain relative to the ideal one.
    """
    ng = np.asarray(noise_gain, dtype=float)
    flat = np.ascontiguousarray(ng).reshape(-1)
    tau = np.empty_like(flat)
    k = np.empty_like(flat)
    loop_law(float(p.a0), float(p.gbw), flat, tau, k)
    return tau.reshape(ng.shape), k.reshape(ng.shape)


@njit(cache=True)
def loop_law(a0, gbw, ng, tau, k):
    """:func:`closed_loop` per element, in place: the one law, compiled for the chip's engine."""
    inv_a0 = 1.0 / a0
    for i in range(ng.size):
        k[i] = 1.0 / (1.0 + ng[i] * inv_a0)
        tau[i] = 0.0 if math.isinf(gbw) else 1.0 / (TWO_PI * gbw * (inv_a0 + 1.0 / ng[i]))


def _slew_band(tau: np.ndarray, slew) -> np.ndarray:
    """``slew*tau``: the distance below which the output relaxes linearly."""
    slew = np.asarray(slew, dtype=float)
    with np.errstate(invalid="ignore"):
        band = slew * tau
    return np.where(np.isinf(slew), np.inf, band)


# ---------------------------------------------------------------------------
# The single-pole law, in compiled scalar form: every integrator of op-amp outputs uses these
# (the chip's engine, components.engine, and the blocks' event-level path through pole_step /
# pole_step_ramp below).
@njit(cache=True)
def clip1(x, lo, hi):
    """``x`` within ``[lo, hi]``."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@njit(cache=True)
def pole_const(y, p, tau, slew, lo, hi, h):
    """Exact single-pole step toward a constant target p: slew at ``slew`` while
    ``|p - y| > slew*tau``, then relax as ``p - d*exp(-t/tau)``; clipped to the rails (exact: the
    trajectory is monotone and the state has no wind-up)."""
    if tau <= 0.0:
        yn = p
    else:
        diff = p - y
        band = slew * tau
        ad = abs(diff)
        if ad > band:
            t1 = (ad - band) / slew
            sgn = 1.0 if diff > 0 else -1.0
            if h <= t1:
                yn = y + sgn * slew * h
            else:
                yn = p - sgn * band * math.exp(-(h - t1) / tau)
        else:
            yn = p - diff * math.exp(-h / tau)
    return clip1(yn, lo, hi)


@njit(cache=True)
def pole_ramp(y, pa, pb, tau, slew, lo, hi, h, n_sub):
    """Single-pole step under a target moving linearly from pa to pb over h.

    Exact in the linear region: ``p0 + p1*(t - tau) + (y0 - p0 + p1*tau)*exp(-t/tau)``.  Where the
    trajectory would slew or touch a rail (checked at both ends and at an interior extremum), it
    takes ``n_sub`` steps of :func:`pole_const` with the target held at each sub-step's midpoint
    (second order in the sub-step).
    """
    if tau <= 0.0:
        return clip1(pb, lo, hi)
    p1 = (pb - pa) / h
    c = y - pa + p1 * tau
    e = math.exp(-h / tau)
    yn = pa + p1 * (h - tau) + c * e
    ok = abs((pa - y) / tau) <= slew and abs(p1 - c / tau * e) <= slew
    ok = ok and lo <= yn <= hi and lo <= y <= hi
    if ok and p1 != 0.0:
        ratio = c / (p1 * tau)
        if ratio > 1.0:
            ts = tau * math.log(ratio)
            if ts < h:
                ys = pa + p1 * (ts - tau) + c * math.exp(-ts / tau)
                ok = lo <= ys <= hi
    if ok:
        return yn
    hs = h / n_sub
    for k in range(n_sub):
        y = pole_const(y, pa + p1 * (k + 0.5) * hs, tau, slew, lo, hi, hs)
    return y


@njit(cache=True)
def pole_quad(y, pa, b, c, tau, slew, lo, hi, h):
    """Single-pole step under the target ``p(t) = pa + b·t + c·t²`` over h: exact in the linear
    region (particular solution ``pa + b(t - tau) + c(t² - 2·tau·t + 2·tau²)`` plus the decaying
    homogeneous part); where slewing or a rail intervenes, :func:`pole_ramp` through the chord."""
    if tau <= 0.0:
        return clip1(pa + b * h + c * h * h, lo, hi)
    ypa = pa - b * tau + 2.0 * c * tau * tau
    ph = pa + b * h + c * h * h
    yph = ph - (b + 2.0 * c * h) * tau + 2.0 * c * tau * tau
    yn = yph + (y - ypa) * math.exp(-h / tau)
    ok = abs((pa - y) / tau) <= slew and abs((ph - yn) / tau) <= slew
    if not ok or yn < lo or yn > hi or y < lo or y > hi:
        return pole_ramp(y, pa, ph, tau, slew, lo, hi, h, 1)
    return yn


@njit(cache=True)
def _pole_step_arr(y0, p, tau, slew, lo, hi, dt, out):
    for i in range(y0.shape[0]):
        out[i] = pole_const(y0[i], p[i], tau[i], slew[i], lo, hi, dt)


@njit(cache=True)
def _pole_ramp_arr(y0, pa, pb, tau, slew, lo, hi, dt, n_sub, out):
    for i in range(y0.shape[0]):
        out[i] = pole_ramp(y0[i], pa[i], pb[i], tau[i], slew[i], lo, hi, dt, n_sub)


def _vec(y0, *arrays):
    y0 = np.atleast_1d(np.asarray(y0, dtype=float))
    return [y0] + [np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=float), y0.shape)) for a in arrays]


def pole_step(y0, y_inf, tau, slew, lo, hi, dt: float) -> np.ndarray:
    """Exact output after ``dt`` seconds under a constant target (:func:`pole_const` per output).

    Parameters
    ----------
    y0, y_inf, tau : ndarray
        Present output (V), unclipped target (V), time constant (s; 0 = instant).
    slew : float or ndarray
        Slew-rate limit (V/s; ``inf`` = none).
    lo, hi : float
        Rails (V).
    dt : float
        Step (s), ``>= 0``.
    """
    shape = np.shape(y0)
    y, p, t, sl = _vec(y0, y_inf, tau, slew)
    out = np.empty_like(y)
    _pole_step_arr(y, p, t, sl, float(lo), float(hi), float(dt), out)
    return out.reshape(shape) if shape else out


def pole_step_ramp(y0, p0, p1, tau, slew, lo, hi, dt: float, n_sub: int = 16) -> np.ndarray:
    """Output after ``dt`` seconds under a target moving linearly, ``p0 + p1*t``
    (:func:`pole_ramp` per output, ``n_sub`` midpoint sub-steps where it slews or rails)."""
    shape = np.shape(y0)
    y, pa, slope, t, sl = _vec(y0, p0, p1, tau, slew)
    out = np.empty_like(y)
    _pole_ramp_arr(y, pa, pa + slope * dt, t, sl, float(lo), float(hi), float(dt), int(n_sub), out)
    return out.reshape(shape) if shape else out


def time_to_level(y0, y_inf, tau, slew, level) -> np.ndarray:
    """Seconds until the (unclipped) slew-then-exponential trajectory from
    ``y0`` toward ``y_inf`` reaches ``level``; 0 if ``level`` is not between
    ``y0`` and ``y_inf`` on the way (already reached), ``inf`` if it lies at or
    beyond ``y_inf``."""
    y0 = np.asarray(y0, dtype=float)
    diff = y_inf - y0
    s = np.sign(diff)
    dist = np.abs(diff)
    band = _slew_band(tau, slew)
    rem = s * (y_inf - level)                  # distance from level to the target, >0 if level before target
    gone = s * (level - y0)                    # distance already to travel, <=0 if passed
    t1 = np.maximum(dist - band, 0.0) / slew
    d1 = np.minimum(dist, band)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_slew = np.where(np.isinf(slew), 0.0, gone / slew)
        t_exp = t1 + tau * np.log(np.where(rem > 0, d1 / rem, 1.0))
    t = np.where(rem >= band, t_slew, t_exp)
    t = np.where(rem <= 0, np.inf, t)
    t = np.where(gone <= 0, 0.0, t)
    return np.where(np.isnan(t), 0.0, np.maximum(t, 0.0))


# ---------------------------------------------------------------------------
class SinglePoleBlock(AnalogBlock):
    """Base for blocks whose outputs are single-pole op-amp outputs.

    Subclasses set, in ``build``: ``self._y`` (state, V), ``self._lo`` /
    ``self._hi`` (rails), ``self._slew`` (V/s), ``self._tol`` (knot tolerance,
    V), ``self._out`` (output net), ``self._is_instant`` (zero time constant)
    and ``self._opamps`` (list of ``(OpAmpParams, count)`` drawing quiescent
    current), call :meth:`_watch` for each input net, and implement

    * ``_pieces(t_a, t_b)`` -> list of ``(ta, tb, p0, p1, tau, *aux)``: the
      unclipped target ``p0`` at ``ta`` moving at ``p1`` V/s until ``tb``
      (ticks), and the time constants over the piece; pieces tile
      ``[t_a, t_b]`` and there is at least one (zero-length if
      ``t_a == t_b``); ``aux`` is passed on to ``_load_energy``;
    * ``_horizon(t)`` -> tick of the next input breakpoint after ``t`` (end of
      an input ramp) or ``None``;
    * ``_map(y)`` -> the value posted on the output net (activation);
    * optionally ``_load_energy(y_a, y_b, piece, dt)`` -> joules drawn by the
      load over a piece (default 0).

    Event policy: after every input change, and at each knot, the block posts
    a ramp on its output net to the exact value at the next knot.  Knots are
    spaced so the chord error of the exponential stays below ``tol``
    (``h = tau*sqrt(8*tol/d)``), the slew phase is one exact ramp, and once
    every output is within ``tol`` of its target under constant inputs the
    block posts the final value and goes quiet until an input changes.
    """

    #: When True the block neither integrates nor posts events: an external integrator
    #: (the chip's :class:`~components.engine.AnalogEngine`) owns its state; the block still
    #: reports its quiescent supply energy (power × time).
    lazy = False

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.energy_q_j = 0.0
        self.energy_load_j = 0.0
        self._version = 0
        self.n_knots = 0
        self.settled = False

    # -- subclass hooks ----------------------------------------------------------
    def _pieces(self, t_a: int, t_b: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _horizon(self, t: int) -> int | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _map(self, y: np.ndarray) -> np.ndarray:
        return y

    def _load_energy(self, y_a, y_b, piece, dt) -> float:
        return 0.0

    # -- energy -------------------------------------------------------------------
    @property
    def power_q_w(self) -> float:
        """Quiescent supply power of all amplifiers in the block (W)."""
        return sum(n * p.i_q * p.supply_span for p, n in self._opamps)

    @property
    def energy_j(self) -> float:
        """Energy drawn from the supplies so far (J): quiescent plus load.  Driven by an external
        integrator (``lazy``), the quiescent part is power × time since build, however often the
        block was touched (so observing it never changes the sum)."""
        if self.ctx is None:
            return self.energy_q_j + self.energy_load_j
        if self.lazy:
            return self.power_q_w * (self.ctx.env.now - self._t_built) * TICK + self.energy_load_j
        self.advance_to(self.ctx.env.now)
        return self.energy_q_j + self.energy_load_j

    # -- integration ----------------------------------------------------------------
    def _evolve(self, y: np.ndarray, t_a: int, t_b: int, account: bool = False) -> np.ndarray:
        lo, hi, slew = self._lo, self._hi, self._slew
        for piece in self._pieces(t_a, t_b):
            ta, tb, p0, p1, tau = piece[:5]
            if tb <= ta:
                continue
            dt = (tb - ta) * TICK
            y_new = pole_step_ramp(y, p0, p1, tau, slew, lo, hi, dt)
            if account:
                self.energy_load_j += self._load_energy(y, y_new, piece, dt)
            y = y_new
        return y

    _t_built = 0

    def build(self, ctx) -> None:
        super().build(ctx)
        self._t_built = ctx.env.now

    def advance(self, t_from: int, t_to: int) -> None:
        if self.lazy:
            return  # an external integrator owns the state; energy_j counts the quiescent power
        self._y = self._evolve(self._y, t_from, t_to, account=True)
        self.energy_q_j += self.power_q_w * (t_to - t_from) * TICK

    def state_at(self, t: int) -> np.ndarray:
        """Exact (noise-free, pre-activation) outputs at tick ``t >= now``,
        assuming the inputs follow their present segments until then."""
        self.advance_to(self.ctx.env.now)
        if t < self.t_state:
            raise field_error(type(self).__name__, "t", f"must not precede the block's time {self.t_state}", t)
        return self._evolve(self._y.copy(), self.t_state, t)

    # -- event generation -----------------------------------------------------------
    def _watch(self, net) -> None:
        net.on_after_change(lambda _n: self._emit())

    def _emit(self) -> None:
        """Post the next PWL segment of the output and schedule the next knot."""
        if self.lazy:
            return
        env = self.ctx.env
        now = env.now
        self.advance_to(now)
        self._version += 1
        y = self._y
        out = self._out
        _ta, _tb, p0, _p1, tau = self._pieces(now, now)[0][:5]
        horizon = self._horizon(now)
        ramping = horizon is not None and horizon > now
        target = np.clip(p0, self._lo, self._hi)
        if self._is_instant and math.isinf(self._slew):
            self._y = target
            if not ramping:
                self.settled = True
                out.set(self._frozen(self._map(target)))
                return
            y = target
        dist = np.abs(target - y)
        if not ramping and float(dist.max(initial=0.0)) <= self._tol:
            # settled within tol: one last ramp onto the exact final value (the
            # remaining exponential tail is shorter than 2*tau in chord terms),
            # then no more events until an input changes
            self.settled = True
            t_fin = int(2.0 * float(np.max(np.where(dist > 0, tau, 0.0), initial=0.0)) * TICKS_PER_SECOND)
            final = self._frozen(self._map(target))
            if t_fin <= 0:
                out.set(final)
            else:
                out.ramp(final, t_fin)
            return
        self.settled = False
        if self._is_instant and math.isinf(self._slew):
            h_ticks = horizon - now          # follows the input ramp: one segment
        else:
            h = min(self._knot_seconds(np.abs(p0 - y), dist, tau), 1.0)
            h_ticks = max(1, int(h * TICKS_PER_SECOND))
        if ramping:
            h_ticks = max(1, min(h_ticks, horizon - now))
        y_next = self._evolve(y.copy(), now, now + h_ticks)
        out.ramp(self._frozen(self._map(y_next)), h_ticks)
        self.n_knots += 1
        version = self._version
        ev = env.timeout(h_ticks)
        ev.callbacks.append(lambda _e, v=version: v == self._version and self._emit())

    @staticmethod
    def _frozen(a: np.ndarray) -> np.ndarray:
        a = np.array(a, dtype=float)
        a.flags.writeable = False
        return a

    def _knot_seconds(self, d_unclipped, dist, tau) -> float:
        """Knot spacing so every output's chord error stays <= tol: h = tau*sqrt(8*tol/d)
        in the exponential phase (|y''| <= d/tau**2); through a slew phase the chord
        is exact and may run h_exp/sqrt(8) past the slew end."""
        tol = self._tol
        band = _slew_band(tau, self._slew)
        slewing = d_unclipped > band
        with np.errstate(divide="ignore", invalid="ignore"):
            curv = np.maximum(np.minimum(d_unclipped, band), 1e-300)
            h_exp = tau * np.sqrt(8.0 * tol / curv)
            t_slew_end = np.where(slewing, (d_unclipped - band) / self._slew, np.inf)
        # a chord that is exact through the slew phase and runs w past its end
        # errs by at most curvature*w**2 (Green's function bound), so w = h_exp/sqrt(8)
        h = np.where(slewing, t_slew_end + h_exp / math.sqrt(8.0), h_exp)
        moving = dist > tol
        if np.any(moving):
            return float(np.min(h[moving]))
        return float(np.min(h, initial=np.inf)) if h.size else 0.0
