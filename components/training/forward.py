"""Fused, lazy evaluation of the chip's analog forward path during training.

The circuit blocks (``NeuronLayer``, ``ErrorCircuit``, ``SampleHold``) can each
publish their outputs as piecewise-linear waveforms with knots every fraction
of a time constant: exact to ``pwl_tol`` and what a waveform viewer needs,
but it costs hundreds of events per training step that nobody looks at.

In *lazy* mode (the default for training) those blocks are silenced and this
module integrates the whole chain, crossbar columns -> op-amp neurons ->
attenuators -> ... -> error circuit -> sample-and-hold, jointly, only up to
the instants the controller samples, in one compiled loop:

* every neuron obeys the same single-pole model as :class:`~components.neurons.NeuronLayer`
  (closed-loop ``tau`` and gain from the noise gain ``1 + R_f*G_src``, slew
  limit, rails without wind-up, input offsets, stuck outputs, activation);
* within an interval of constant external inputs the first layer's target is
  constant, so its step is exact; deeper layers, the error circuit and the
  sample-and-hold see targets that move with their upstream outputs, taken as
  linear within each sub-step and followed exactly (the constant-midpoint step
  where slewing or a rail intervenes); sub-steps start at ``tau_min /
  substeps_per_tau`` and grow (up to 64×) as the transient decays, keeping
  the per-step error at its initial level;
* once every state has stopped moving (changes below 1e-13 V per sub-step),
  the rest of the interval is skipped: the chain has settled;
* the error circuit is the same lumped single pole on the same static J as
  :class:`~components.errorcircuits.ErrorCircuit`, and the sample-and-hold
  tracks it with ``tau_acq`` and droops while holding.

External inputs change only at events (pattern applied, perturbation injected,
write pulse starts or ends); the chain subscribes to those nets and brings
itself up to date just before each change.  At every sample it publishes the
present outputs on the neuron nets (a step), so the hidden crossbars see their
read voltages for energy and read-disturb accounting, and probes show the
sampled values.  For detailed waveforms of a step, switch the chain to eager
mode (the blocks' own event-level PWL), as :class:`TrainingRun` does for the
recorded pattern; :meth:`ForwardChain.to_blocks` / :meth:`from_blocks` hand the
state over exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mssim.units import TICK

from ..opamp import closed_loop

ACT_CODES = {"rails": 0, "tanh": 1, "clip": 2, "linear": 3}


@njit(cache=True)
def _act(x, code, vsat):
    if code == 1:
        return vsat * math.tanh(x / vsat)
    if code == 2:
        if x > vsat:
            return vsat
        if x < -vsat:
            return -vsat
        return x
    return x


@njit(cache=True)
def _clip(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@njit(cache=True)
def _pole(y, p, tau, slew, lo, hi, h):
    """Exact single-pole step toward a constant target p (slew, then exponential; rails)."""
    if tau <= 0.0:
        yn = p
    else:
        diff = p - y
        dist = abs(diff)
        s = 1.0 if diff >= 0 else -1.0
        band = slew * tau
        if dist > band:
            t1 = (dist - band) / slew
            if h <= t1:
                yn = y + s * slew * h
            else:
                yn = p - s * band * math.exp(-(h - t1) / tau)
        else:
            yn = p - diff * math.exp(-h / tau)
    return _clip(yn, lo, hi)


@njit(cache=True)
def _pole_lin(y, pa, pb, tau, slew, lo, hi, h):
    """Single-pole step under a target moving linearly from pa to pb over h: exact in the
    linear region; where slewing or a rail intervenes, the constant-target step at the
    midpoint target (second order)."""
    if tau <= 0.0:
        yn = pb
    else:
        p1 = (pb - pa) / h
        c = y - pa + p1 * tau
        e = math.exp(-h / tau)
        yn = pa + p1 * (h - tau) + c * e
        ok = abs((pa - y) / tau) <= slew and abs(p1 - c / tau * e) <= slew
        if not ok or yn < lo or yn > hi or y < lo or y > hi:
            return _pole(y, 0.5 * (pa + pb), tau, slew, lo, hi, h)
    return _clip(yn, lo, hi)


@njit(cache=True)
def _layer_currents(l, y, y_off, n_l, n_in_l, G, G_off, writing, act, vsat, sgn, scale, vbias, I0, out):
    """Short-circuit currents into layer l from the present outputs of layer l-1 (or I0 for l = 0)."""
    n = n_l[l]
    if writing[l]:
        for j in range(n):
            out[j] = 0.0
        return
    if l == 0:
        for j in range(n):
            out[j] = I0[j]
        return
    m = n_in_l[l] - 1
    base = G_off[l]
    po = y_off[l - 1]
    for j in range(n):
        out[j] = vbias * G[base + m * n + j]
    for i in range(m):
        v = _act(sgn[l - 1] * y[po + i], act[l - 1], vsat[l - 1]) * scale[l - 1]
        row = base + i * n
        for j in range(n):
            out[j] += v * G[row + j]


@njit(cache=True)
def _static_j(y, po, n_out, act_c, vsat, sgn, d, k_sub, sub_gain, ng_sub, off_sub, k_sq, k_sum, sum_gain, ng_sum,
              off_sum, lo, hi):
    acc = 0.0
    for j in range(n_out):
        o = _act(sgn * y[po + j], act_c, vsat)
        e = _clip(k_sub * (sub_gain * (d[j] - o) + ng_sub * off_sub[j]), lo, hi)
        acc += _clip(k_sq * e * e, lo, hi)
    return k_sum * (0.5 * sum_gain * acc + ng_sum * off_sum)


@njit(cache=True)
def integrate(T, h_max, n_l, n_in_l, y_off, G, G_off, writing, I0, y, k, tau, ng, off, stuck, rf, slew, lo, hi, act,
              vsat, sgn, scale, vbias, d, ep, off_sub, state, holding, shp):
    """Advance the chain states by T seconds.  ``state`` = [yj, ysh]; ``ep`` and ``shp`` pack the
    error-circuit and sample-and-hold parameters.  Returns the number of sub-steps taken."""
    L = n_l.shape[0]
    n_tot = y.shape[0]
    y_start = np.empty(n_tot)
    cur = np.empty(np.max(n_l))
    cur_a = np.empty(np.max(n_l))
    k_sub, sub_gain, ng_sub, k_sq, k_sum, sum_gain, ng_sum, off_sum, tau_j, slew_j, lo_j, hi_j = (
        ep[0], ep[1], ep[2], ep[3], ep[4], ep[5], ep[6], ep[7], ep[8], ep[9], ep[10], ep[11])
    tau_acq, droop, sh_lo, sh_hi = shp[0], shp[1], shp[2], shp[3]
    last = L - 1
    po_last = y_off[last]
    cur0 = np.empty(n_l[0])
    _layer_currents(0, y, y_off, n_l, n_in_l, G, G_off, writing, act, vsat, sgn, scale, vbias, I0, cur0)
    t = 0.0
    steps = 0
    m0 = 0.0
    grow = 1.0
    while t < T:
        h = T - t
        if h > h_max * grow:
            h = h_max * grow
        for q in range(n_tot):
            y_start[q] = y[q]
        moved = 0.0
        for l in range(L):
            po = y_off[l]
            n = n_l[l]
            # targets at the start and the end of the sub-step: the upstream layer has already been
            # advanced (its start values are in y_start, its end values in y); layer 0's are constant
            if l == 0:
                for j in range(n):
                    cur[j] = cur0[j]
                    cur_a[j] = cur0[j]
            else:
                _layer_currents(l, y_start, y_off, n_l, n_in_l, G, G_off, writing, act, vsat, sgn, scale, vbias, I0,
                                cur)
                for j in range(n):
                    cur_a[j] = cur[j]
                _layer_currents(l, y, y_off, n_l, n_in_l, G, G_off, writing, act, vsat, sgn, scale, vbias, I0, cur)
            for j in range(n):
                q = po + j
                if not math.isnan(stuck[q]):
                    y[q] = stuck[q]
                    continue
                pa = k[q] * (off[q] * ng[q] - rf[l] * cur_a[j])
                pb = k[q] * (off[q] * ng[q] - rf[l] * cur[j])
                yn = _pole_lin(y_start[q], pa, pb, tau[q], slew[l], lo[l], hi[l], h)
                dd = abs(yn - y_start[q])
                if dd > moved:
                    moved = dd
                y[q] = yn
        # error circuit: one lumped pole toward the static J of the outputs (linear over the sub-step)
        ja = _static_j(y_start, po_last, n_l[last], act[last], vsat[last], sgn[last], d, k_sub, sub_gain, ng_sub,
                       off_sub, k_sq, k_sum, sum_gain, ng_sum, off_sum, lo_j, hi_j)
        jb = _static_j(y, po_last, n_l[last], act[last], vsat[last], sgn[last], d, k_sub, sub_gain, ng_sub,
                       off_sub, k_sq, k_sum, sum_gain, ng_sum, off_sum, lo_j, hi_j)
        yj_old = state[0]
        yj = _pole_lin(yj_old, ja, jb, tau_j, slew_j, lo_j, hi_j, h)
        state[0] = yj
        dd = abs(yj - yj_old)
        if dd > moved:
            moved = dd
        if holding:
            ysh = state[1] - droop * h
        else:
            ysh = _pole_lin(state[1], yj_old, yj, tau_acq, math.inf, sh_lo, sh_hi, h)
            dd = abs(ysh - state[1])
            if dd > moved:
                moved = dd
        state[1] = _clip(ysh, sh_lo, sh_hi)
        t += h
        steps += 1
        # As the transient decays the targets straighten out (their curvature falls with the
        # deviations), so the sub-step may grow while the per-step error stays at its first level.
        if moved > m0:
            m0 = moved
        if moved > 0.0:
            grow = min(64.0, math.sqrt(m0 / moved))
        else:
            grow = 64.0
        if moved < 1e-13:
            # settled: nothing moves any more except a held value's droop
            rest = T - t
            if holding and rest > 0.0 and droop != 0.0:
                state[1] = _clip(state[1] - droop * rest, sh_lo, sh_hi)
            break
    return steps


class ForwardChain:
    """Lazy joint integrator of a :class:`~components.training.chip.Chip`'s analog path.

    Parameters
    ----------
    chip : Chip
        The built chip.
    substeps_per_tau : int
        Sub-steps per smallest neuron time constant (targets are linear within a sub-step).
    """

    def __init__(self, chip, substeps_per_tau: int = 16) -> None:
        self.chip = chip
        self.env = chip.sim.env
        self.substeps_per_tau = int(substeps_per_tau)
        neurons, xbars = chip.neurons, chip.crossbars
        self.L = len(neurons)
        self.n_l = np.array([nl.n for nl in neurons], dtype=np.int64)
        self.n_in_l = np.array([xb.n_in for xb in xbars], dtype=np.int64)
        self.y_off = np.concatenate([[0], np.cumsum(self.n_l)[:-1]]).astype(np.int64)
        sizes = [xb.n_in * xb.n_out for xb in xbars]
        self.G_off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.G = np.zeros(int(sum(sizes)))
        p0 = neurons[0].params
        self.rf = np.array([nl.params.r_f for nl in neurons])
        self.slew = np.array([float(nl.params.opamp.slew_rate) for nl in neurons])
        self.lo = np.array([float(nl.params.opamp.v_rail_neg) for nl in neurons])
        self.hi = np.array([float(nl.params.opamp.v_rail_pos) for nl in neurons])
        self.act = np.array([ACT_CODES[nl.params.activation] for nl in neurons], dtype=np.int64)
        self.vsat = np.array([nl.params.v_sat for nl in neurons])
        self.sgn = np.array([1.0 if nl.params.invert else -1.0 for nl in neurons])
        sp = chip.spec.synapse_params
        self.scale = np.full(self.L, sp.v_read / p0.v_sat)
        self.vbias = float(sp.v_read)
        n_tot = int(self.n_l.sum())
        self.y = np.concatenate([np.array(nl._y, dtype=float) for nl in neurons])
        self.k = np.zeros(n_tot)
        self.tau = np.zeros(n_tot)
        self.ng = np.zeros(n_tot)
        self.writing = np.zeros(self.L, dtype=np.bool_)
        err, sh = chip.error, chip.sh
        ep = err.params
        self.ep = np.array([err._k_sub, ep.sub_gain, err._ng_sub, ep.k_sq, err._k_sum, ep.sum_gain, err._ng_sum,
                            err.offset_sum, float(err._tau[0]), float(err._slew), float(err._lo), float(err._hi)])
        self.off_sub = np.asarray(err.offset_sub, dtype=float)
        shp = sh.params
        self.shp = np.array([shp.tau_acq if shp.t_acq > 0 else 0.0, shp.droop, float(sh._lo), float(sh._hi)])
        self.state = np.array([float(err._y[0]), float(sh._y[0])])
        self.holding = False
        self.t_state = self.env.now
        self.steps = 0
        self.lazy = False
        self._loop_key: list = [None] * self.L
        # Bring the chain up to date just before any external input changes.
        hook = lambda _net: self.advance_to(self.env.now)  # noqa: E731
        sim = chip.sim
        for l in range(self.L):
            sim.net(f"xbar{l}.out").on_before_change(hook)
            sim.net(f"xbar{l}.g").on_before_change(hook)
        sim.net("controller.target").on_before_change(hook)

    # -- mode switching ------------------------------------------------------------
    def set_lazy(self, lazy: bool) -> None:
        """Switch between lazy (this integrator) and eager (the blocks' own PWL events)."""
        if lazy == self.lazy:
            return
        now = self.env.now
        blocks = [*self.chip.neurons, self.chip.error, self.chip.sh]
        if lazy:
            for b in blocks:
                b.advance_to(now)
            self.from_blocks()
            for b in blocks:
                b.lazy = True
        else:
            self.advance_to(now)
            for b in blocks:
                b.lazy = False
            self.to_blocks()
            for b in blocks:
                b._emit()
        self.lazy = lazy

    def from_blocks(self) -> None:
        """Take the present states of the blocks (they must be advanced to now)."""
        for l, nl in enumerate(self.chip.neurons):
            self.y[self.y_off[l] : self.y_off[l] + nl.n] = nl._y
        self.state[0] = float(self.chip.error._y[0])
        self.state[1] = float(self.chip.sh._y[0])
        self.holding = bool(self.chip.sh.holding)
        self.t_state = self.env.now

    def to_blocks(self) -> None:
        """Hand the chain's states to the blocks (at now)."""
        now = self.env.now
        for l, nl in enumerate(self.chip.neurons):
            nl._y = self.y[self.y_off[l] : self.y_off[l] + nl.n].copy()
            nl.t_state = now
        self.chip.error._y = np.array([self.state[0]])
        self.chip.error.t_state = now
        self.chip.sh._y = np.array([self.state[1]])
        self.chip.sh.t_state = now
        self.chip.sh.holding = self.holding

    # -- integration -----------------------------------------------------------------
    def _gather(self) -> float:
        """Refresh per-layer matrices, loop constants and flags; return the smallest active tau."""
        chip = self.chip
        tmin = math.inf
        for l, (xb, nl) in enumerate(zip(chip.crossbars, chip.neurons)):
            a = self.G_off[l]
            _, G, gsrc = xb._state()
            self.G[a : a + G.size] = G.ravel()
            self.writing[l] = bool(xb._writing)
            key = self._loop_key[l]
            if key is None or key[0] is not gsrc:
                ng = 1.0 + nl.params.r_f * gsrc
                tau, k = closed_loop(nl.params.opamp, ng)
                s = slice(self.y_off[l], self.y_off[l] + nl.n)
                self.ng[s], self.tau[s], self.k[s] = ng, tau, k
                self._loop_key[l] = (gsrc,)
            s = slice(self.y_off[l], self.y_off[l] + nl.n)
            t = self.tau[s]
            if t.size and t.max() > 0:
                tmin = min(tmin, float(t[t > 0].min()))
        # The error circuit and the S&H follow their inputs exactly for linear pieces, so only
        # the neurons' time constants (the scale on which those inputs vary) set the sub-step.
        return tmin

    def advance_to(self, t: int) -> None:
        """Integrate the chain from its last update to tick ``t`` under the present inputs."""
        if not self.lazy or t <= self.t_state:
            return
        T = (t - self.t_state) * TICK
        tmin = self._gather()
        h_max = T if math.isinf(tmin) else tmin / self.substeps_per_tau
        chip = self.chip
        I0 = np.asarray(chip.sim.net("xbar0.out").segment[3], dtype=float)
        # read each call: faults may change offsets and stuck outputs between events
        off = np.concatenate([nl.offset for nl in chip.neurons])
        stuck = np.concatenate([nl.stuck_y for nl in chip.neurons])
        d = np.asarray(chip.sim.net("controller.target").segment[3], dtype=float)
        self.steps += integrate(T, h_max, self.n_l, self.n_in_l, self.y_off, self.G, self.G_off, self.writing, I0,
                                self.y, self.k, self.tau, self.ng, off, stuck, self.rf, self.slew, self.lo, self.hi,
                                self.act, self.vsat, self.sgn, self.scale, self.vbias, d, self.ep, self.off_sub,
                                self.state, self.holding, self.shp)
        self.t_state = t

    # -- what the controller uses ------------------------------------------------------
    def outputs(self, layer: int | None = None) -> np.ndarray:
        """Activated outputs (V) of a layer (default: the last) now."""
        self.advance_to(self.env.now)
        l = self.L - 1 if layer is None else layer
        nl = self.chip.neurons[l]
        y = self.y[self.y_off[l] : self.y_off[l] + nl.n]
        return nl.params.activate(y)

    def read_j(self) -> float:
        """The live J (V) at the error circuit's output now."""
        self.advance_to(self.env.now)
        return float(self.state[0])

    def hold(self) -> float:
        """Switch the sample-and-hold to hold now; returns the held value (V), offset and pedestal included."""
        self.advance_to(self.env.now)
        p = self.chip.sh.params
        if not self.holding:
            self.state[1] = min(max(self.state[1] + p.pedestal, self.shp[2]), self.shp[3])
            self.holding = True
        return float(min(max(self.state[1] + p.offset, self.shp[2]), self.shp[3]))

    def release(self) -> None:
        """Back to tracking."""
        self.advance_to(self.env.now)
        self.holding = False

    def publish(self) -> None:
        """Post the present outputs on the neuron nets (steps): the hidden crossbars then read
        the present hidden voltages (energy, read disturb) and probes see the sampled values."""
        self.advance_to(self.env.now)
        for l, nl in enumerate(self.chip.neurons[:-1]):
            y = self.y[self.y_off[l] : self.y_off[l] + nl.n]
            v = nl.params.activate(y)
            v.flags.writeable = False
            nl._out.set(v)
