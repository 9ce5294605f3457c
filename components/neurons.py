"""Op-amp neuron layers: an inverting summing amplifier per neuron followed by
a bounded activation.

What lives here
---------------
* :class:`NeuronParams` -- feedback resistor, activation, sign convention,
  knot tolerance and the :class:`~components.opamp.OpAmpParams` of the summer.
* :class:`NeuronLayer` -- ``n`` neurons as one analog block.

Circuit and model (docs/circuits.md)
------------------------------------
Each neuron's summing node (the op-amp's inverting input, voltage ``v-``) is fed
by a synapse column that delivers the short-circuit current ``I`` (port "in",
the current into the node when it sits at 0 V) through a total source
conductance ``G_src`` (port "g").  With the feedback resistor ``R_f``::

    (I - v-*G_src) + (y - v-)/R_f = 0   ->   v- = (I*R_f + y)/NG,  NG = 1 + R_f*G_src
    dy/dt = 2*pi*(GBW/A0)*(A0*(v+ - v-) - y),   v+ = V_os (input offset)

so ``y`` relaxes with ``tau = 1/(2*pi*GBW*(1/A0 + 1/NG))`` (-> ``NG/(2*pi*GBW)``)
to ``y_inf = (V_os*NG - R_f*I)/(1 + NG/A0)``, slew-limited and clipped at the
rails without wind-up (:mod:`components.opamp`).  The activation is applied
statically to ``y``:

* ``"rails"``  -- ``o = y``: the op-amp's own saturation at its (finite) rails;
* ``"tanh"``   -- ``o = v_sat*tanh(y/v_sat)`` (a soft-limiting output stage);
* ``"clip"``   -- ``o = clip(y, -v_sat, v_sat)`` (a diode/clamp limiter);
* ``"linear"`` -- ``o = y`` (rails, if finite, still bound ``y``).

Sign: the inverting summer gives ``y = -R_f*I``.  With ``invert=True`` (the
default) the layer reports that physical sign; with ``invert=False`` it models
an ideal unity-gain inverter after the summer (``o = act(-y)``); the inverter's
own dynamics are not modelled -- hardware that wants ``+R_f*I`` either adds
that inverter or flips the sign of every weight in the synapse layer.

Multilayer chains
-----------------
A layer posts a piecewise-linear approximation of its (exponential) outputs on
its "out" net: knots every ``h = tau*sqrt(8*pwl_tol/d)`` while settling (chord
error <= ``pwl_tol``), one exact ramp through a slew phase, and nothing once
settled within ``pwl_tol``.  The next synapse layer is linear in its input
voltages (``I = G_eff^T v + I_0``), so it forwards each ramp as a ramp of
current, which this layer integrates exactly (:func:`~components.opamp.pole_step_ramp`).
Each layer therefore settles after the one before it, and a read before the
chain has settled returns the unsettled value.  For controllers that do the
synapse arithmetic themselves, :meth:`NeuronLayer.transfer` is the settled
fast path (a handful of vectorised numpy operations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numba import vectorize

from mssim.component import BuildContext, Port
from mssim.errors import ConfigError, field_error
from mssim.units import TICKS_PER_SECOND, kohm, mV

from .opamp import OpAmpParams, SinglePoleBlock, check_choice, check_positive, closed_loop, time_to_level

ACTIVATIONS = ("rails", "tanh", "clip", "linear")


@vectorize(["float64(float64, float64, float64, float64, float64)"], cache=True)
def summer_target(k, offset, ng, r_f, i_in):
    """Settled output (V, before rails) of an inverting summer fed the short-circuit current
    ``i_in`` through noise gain ``ng``: ``k·(V_os·NG - R_f·I)``, ``k = 1/(1 + NG/A0)``.  The one
    law of the neuron's DC transfer (blocks and the chip's engine use it; a numpy ufunc that
    compiled code calls per element)."""
    return k * (offset * ng - r_f * i_in)


@dataclass(frozen=True, kw_only=True)
class NeuronParams:
    """Parameters of an op-amp neuron layer (inverting summer + activation)."""

    r_f: float = 10 * kohm
    """Feedback resistor (ohm)."""
    activation: str = "tanh"
    """One of ``"rails"``, ``"tanh"``, ``"clip"``, ``"linear"`` (module docstring)."""
    v_sat: float = 1.0
    """Saturation level of the ``"tanh"`` and ``"clip"`` activations (V)."""
    invert: bool = True
    """True: report the inverting summer's own sign (``-R_f*I``); False: an
    ideal unity inverter follows it (``+R_f*I``)."""
    pwl_tol: float = 1 * mV
    """Chord tolerance of the piecewise-linear output posted on the "out" net,
    and the distance from the target below which the layer counts as settled
    and stops generating events (V)."""
    opamp: OpAmpParams = field(default_factory=OpAmpParams)
    """The summing amplifier."""

    def __post_init__(self) -> None:
        o = "NeuronParams"
        check_positive(o, "r_f", self.r_f)
        check_choice(o, "activation", self.activation, ACTIVATIONS)
        check_positive(o, "v_sat", self.v_sat)
        if not isinstance(self.invert, (bool, np.bool_)):
            raise field_error(o, "invert", "must be True or False", self.invert)
        check_positive(o, "pwl_tol", self.pwl_tol)
        if not isinstance(self.opamp, OpAmpParams):
            raise field_error(o, "opamp", "must be an OpAmpParams", self.opamp, "use OpAmpParams(...) or OpAmpParams.ideal()")
        if self.activation == "rails" and not (math.isfinite(self.opamp.v_rail_pos) and math.isfinite(self.opamp.v_rail_neg)):
            raise field_error(o, "activation", "'rails' needs finite op-amp rails", self.activation,
                              "set opamp.v_rail_pos/v_rail_neg, or use 'tanh'/'clip'/'linear'")

    def with_values(self, **changes) -> "NeuronParams":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def ideal(cls, **overrides) -> "NeuronParams":
        """Instant, exactly ideal summer (:meth:`OpAmpParams.ideal`) with the
        given activation; used for ideal-equivalence runs."""
        kw = dict(opamp=OpAmpParams.ideal())
        kw.update(overrides)
        return cls(**kw)

    def activate(self, y: np.ndarray) -> np.ndarray:
        """Apply the sign convention and the activation to op-amp outputs ``y``."""
        x = y if self.invert else -y
        a = self.activation
        if a == "tanh":
            vs = self.v_sat
            return vs * np.tanh(x / vs)
        if a == "clip":
            return np.clip(x, -self.v_sat, self.v_sat)
        return np.array(x, dtype=float, copy=True)


class NeuronLayer(SinglePoleBlock):
    """A layer of ``n`` op-amp neurons, integrated together as one block.

    Parameters
    ----------
    name : str
        Component name.
    n : int
        Number of neurons.
    params : NeuronParams
        Layer parameters.

    Ports
    -----
    in : current, n, input
        Short-circuit current into each summing node (A), piecewise linear.
    g : signal, n, input, optional (default 0 S)
        Total source conductance ``G_src`` seen by each summing node (S); sets
        the noise gain ``1 + R_f*G_src``.  Treated as constant over each
        advance interval at its midpoint value if it ramps.
    out : voltage, n, output
        Activated outputs (V), as a piecewise-linear approximation within
        ``params.pwl_tol`` (noise-free; noise is added by :meth:`read`).

    Random streams: build ``"offset"`` (input offsets, ``opamp.offset_d2d``),
    run ``"noise"`` (output noise per read, ``opamp.noise_c2c``).
    """

    def __init__(self, name: str, n: int, params: NeuronParams | None = None, *, driver=None) -> None:
        super().__init__(name)
        #: An external integrator (the chip's :class:`~components.engine.AnalogEngine`) that owns
        #: this layer's dynamics; the layer then only holds parameters, offsets and faults.
        self.driver = driver
        self.lazy = driver is not None
        #: Bumped by every change of offsets or stuck outputs (the engine re-reads them then).
        self.version = 0
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise field_error("NeuronLayer", "n", "must be a positive integer", n)
        if params is None:
            params = NeuronParams()
        if not isinstance(params, NeuronParams):
            raise field_error("NeuronLayer", "params", "must be a NeuronParams", params)
        self.n = int(n)
        self.params = params

    def ports(self) -> list[Port]:
        n = self.n
        return [Port("in", "current", n, "in"),
                Port("g", "signal", n, "in", optional=True, default=0.0),
                Port("out", "voltage", n, "out")]

    # -- build ------------------------------------------------------------------------
    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        p, op = self.params, self.params.opamp
        n = self.n
        self._in = ctx.net("in")
        self._g = ctx.net("g")
        self._out = ctx.net("out")
        self.offset = (ctx.build_rng("offset").normal(0.0, op.offset_d2d, n) if op.offset_d2d > 0 else np.zeros(n))
        #: Fault hook: op-amp output stuck at this voltage (NaN = healthy), applied before the activation.
        self.stuck_y = np.full(n, np.nan)
        self._noise_rng = ctx.run_rng("noise")
        self._lo, self._hi = float(op.v_rail_neg), float(op.v_rail_pos)
        self._slew = float(op.slew_rate)
        self._tol = float(p.pwl_tol)
        self._is_instant = op.instant
        self._opamps = [(op, n)] if op.i_q > 0 else []
        self._load = math.isfinite(op.supply_pos) and math.isfinite(op.supply_neg)
        self._g_key = None
        self._y = np.clip(self._target(self._in.segment[3], self._g.segment[3])[0], self._lo, self._hi)
        self._watch(self._in)
        self._watch(self._g)
        ev = ctx.env.timeout(0)
        ev.callbacks.append(lambda _e: self._emit())

    # -- model ------------------------------------------------------------------------
    def _loop(self, g: np.ndarray, cache: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(NG, tau, k) for source conductances ``g``.  Net segment arrays are
        read-only and replaced on change, so identity is a safe cache key."""
        if cache and self._g_key is not None and self._g_key[0] is g:
            return self._g_key[1]
        ng = 1.0 + self.params.r_f * np.asarray(g, dtype=float)
        tau, k = closed_loop(self.params.opamp, ng)
        val = (ng, tau, k)
        if cache:
            self._g_key = (g, val)
        return val

    def _target(self, i_in, g, cache: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Unclipped settled op-amp output, tau, NG and k for inputs (i_in, g)."""
        ng, tau, k = self._loop(g, cache)
        y_inf = summer_target(k, self.offset, ng, self.params.r_f, np.asarray(i_in, dtype=float))
        return y_inf, tau, ng, k

    def _pieces(self, t_a: int, t_b: int):
        t0i, v0i, t1i, v1i = self._in.segment
        t0g, v0g, t1g, v1g = self._g.segment
        cuts = [t_a]
        for tc in sorted({t1i, t1g}):
            if t_a < tc < t_b:
                cuts.append(tc)
        cuts.append(t_b)
        r_f = self.params.r_f
        out = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            g = v1g if a >= t1g else self._g.value((a + b) // 2).copy()
            i_a = v1i if a >= t1i else self._in.value(a)
            y_inf, tau, ng, k = self._target(i_a, g)
            if a < t1i:
                di = (v1i - v0i) * (TICKS_PER_SECOND / (t1i - t0i))   # A/s
                p1 = -k * r_f * di
            else:
                di = 0.0
                p1 = 0.0
            out.append((a, b, y_inf, p1, tau, i_a, di, ng))
        return out

    def _horizon(self, t: int) -> int | None:
        ends = [te for te in (self._in.segment[2], self._g.segment[2]) if te > t]
        return min(ends) if ends else None

    def _map(self, y: np.ndarray) -> np.ndarray:
        return self.params.activate(self._pin(y))

    def _pin(self, y: np.ndarray) -> np.ndarray:
        """Apply stuck op-amp outputs (fault hook ``stuck_y``; NaN = healthy)."""
        s = self.stuck_y
        if np.isnan(s).all():
            return y
        return np.where(np.isnan(s), y, s)

    def _load_energy(self, y_a, y_b, piece, dt) -> float:
        """Energy the output stage draws from the supplies to drive R_f.

        ``i_out = (y - v-)/R_f = y*(1 - 1/NG)/R_f - I/NG``; ``int y dt`` uses the
        linear-region identity ``y_inf*dt - tau*(y_b - y_a)`` (bounded by the
        extremes), exact except while slewing or railed.  Current sourced comes
        from the positive supply, current sunk from the negative one.
        """
        if not self._load:
            return 0.0
        _a, _b, p0, p1, tau, i_a, di, ng = piece
        op = self.params.opamp
        y_mid_target = np.clip(p0 + 0.5 * p1 * dt, self._lo, self._hi)
        int_y = y_mid_target * dt - tau * (y_b - y_a)
        lo = np.minimum(np.minimum(y_a, y_b), y_mid_target) * dt
        hi = np.maximum(np.maximum(y_a, y_b), y_mid_target) * dt
        int_y = np.clip(int_y, lo, hi)
        i_mid = i_a + 0.5 * di * dt
        q = int_y * (1.0 - 1.0 / ng) / self.params.r_f - i_mid * dt / ng     # coulombs out of the output pin
        return float(np.sum(np.where(q > 0, q * op.supply_pos, q * op.supply_neg)))

    # -- faults (public methods) ---------------------------------------------------------
    def _before_change(self) -> None:
        now = self.ctx.env.now
        if self.driver is not None:
            self.driver.advance_to(now)
        else:
            self.advance_to(now)

    def add_offset(self, index, volts: float) -> None:
        """Add ``volts`` to the input offset of neurons ``index``; takes effect now."""
        self._before_change()
        self.offset[np.asarray(index, dtype=np.int64)] += float(volts)
        self.version += 1
        self._emit()

    def stick_output(self, index, volts: float) -> None:
        """Pin the op-amp output of neurons ``index`` at ``volts`` (before the activation); now."""
        self._before_change()
        self.stuck_y[np.asarray(index, dtype=np.int64)] = float(volts)
        self.version += 1
        self._emit()

    # -- public API -------------------------------------------------------------------
    def tau(self) -> np.ndarray:
        """Closed-loop time constant of each neuron for the present ``G_src`` (s)."""
        if self.driver is not None:
            return self.driver.loop_constants(self)[1]
        return self._loop(self._g.segment[3])[1].copy()

    def noise_gain(self) -> np.ndarray:
        """``1 + R_f*G_src`` of each neuron for the present ``G_src``."""
        if self.driver is not None:
            return self.driver.loop_constants(self)[0]
        return self._loop(self._g.segment[3])[0].copy()

    def transfer(self, i_in, g_src=None) -> np.ndarray:
        """Settled, noise-free activated outputs for given inputs (fast path).

        Pure function of its arguments and the layer's offsets: no state is
        touched.  ``g_src`` defaults to the present value of the "g" net.
        """
        if g_src is None:
            y_inf = self._target(i_in, self._g.segment[3])[0]
        else:
            r_f = self.params.r_f
            ng = r_f * np.asarray(g_src, dtype=float) + 1.0
            k = 1.0 / (1.0 + ng / self.params.opamp.a0)
            y_inf = summer_target(k, self.offset, ng, r_f, np.asarray(i_in, dtype=float))
        y = np.clip(y_inf, self._lo, self._hi)
        stuck = self.stuck_y
        if not np.isnan(stuck).all():
            y = np.where(np.isnan(stuck), y, stuck)
        return self.params.activate(y)

    def steady_state(self) -> np.ndarray:
        """Closed-form settled activated outputs for the present inputs (the
        values every input segment is heading to), noise-free."""
        return self.transfer(self._in.segment[3], self._g.segment[3])

    def state(self) -> np.ndarray:
        """Op-amp outputs ``y`` now (pre-activation, noise-free) (V)."""
        self.advance_to(self.ctx.env.now)
        return self._y.copy()

    def output_at(self, t_ticks: int) -> np.ndarray:
        """Exact noise-free activated outputs at tick ``t_ticks >= now``,
        assuming this layer's inputs follow their present segments until then
        (in a chain, call it on the layer whose inputs are final, or run the
        simulation to the sampling instant and :meth:`read`)."""
        return self.params.activate(self.state_at(int(t_ticks)))

    def read(self, t: int | None = None) -> np.ndarray:
        """Activated outputs now (or at tick ``t >= now``, predicted under the
        present inputs), with op-amp output noise drawn per read.

        The noise (``opamp.noise_c2c`` rms, run stream ``"noise"``) is added to
        the op-amp output before the activation and the rails.
        """
        if t is None or t == self.ctx.env.now:
            self.advance_to(self.ctx.env.now)
            y = self._y
        else:
            y = self.state_at(int(t))
        sigma = self.params.opamp.noise_c2c
        if sigma > 0:
            y = np.clip(y + self._noise_rng.normal(0.0, sigma, self.n), self._lo, self._hi)
        return self.params.activate(self._pin(y))

    def settle_time(self, tol: float = 0.01, *, v_step=None) -> np.ndarray:
        """Seconds from now until each neuron is within ``tol*v_step`` of its
        final (rail-clipped) value, inputs held at their segment end values.

        Parameters
        ----------
        tol : float
            Relative band (0.01 = 1 % settling).
        v_step : float or array, optional
            The step the band is relative to (V).  Default: each neuron's
            present distance from its target, so ``settle_time(0.01)`` right
            after an input step is the classic 1 % settling time, including the
            slew phase (``(d - SR*tau)/SR + tau*ln(SR*tau/(tol*d))`` when
            slewing, ``tau*ln(1/tol)`` otherwise).
        """
        if not (isinstance(tol, (int, float)) and 0 < tol < 1):
            raise ConfigError(f"NeuronLayer.settle_time.tol: must be in (0, 1) (got {tol!r})")
        self.advance_to(self.ctx.env.now)
        y_inf, tau, _ng, _k = self._target(self._in.segment[3], self._g.segment[3])
        target = np.clip(y_inf, self._lo, self._hi)
        y = self._y
        step = np.abs(target - y) if v_step is None else np.abs(np.asarray(v_step, dtype=float))
        band = tol * step
        level = target - np.sign(target - y) * band
        t = time_to_level(y, y_inf, tau, self._slew, level)
        return np.where(np.abs(target - y) <= band, 0.0, t)
