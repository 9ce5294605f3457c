"""The chip's one analog engine: crossbar columns, op-amp neurons, attenuators, the J circuit and
the sample-and-hold, integrated jointly in compiled code.

Why one engine
--------------
Between two controller events (pattern applied, J0 held, perturbation injected, J1 read, write
pulse edges) the analog path of a WSP chip is one coupled system: each crossbar's output currents
depend on the previous neuron layer's outputs, the error circuit follows the last layer, the
sample-and-hold follows the error circuit.  A training step needs the system's state at only a
handful of instants, so this module integrates the whole system in one compiled call per event
and owns every term of its physics:

* **neurons** -- single pole per op-amp, closed loop ``tau`` and gain ``k`` from the noise gain
  ``NG = 1 + R_f*G_src`` (:func:`components.opamp.closed_loop`), finite open-loop gain, input
  offset times the noise gain, slew limit, rails without wind-up, stuck outputs, activation;
* **attenuators and bias line** -- the next crossbar reads ``act(y)*v_read/v_sat`` and a bias row
  at ``v_read``;
* **error circuit** -- one lumped pole toward the static J of the last layer's outputs (gains,
  offsets, rails), as :class:`components.errorcircuits.ErrorCircuit`;
* **sample-and-hold** -- tracks J through ``tau_acq``; on hold adds the pedestal and then droops
  at ``droop`` V/s; its output adds the offset and is clipped to the rails;
* **op-amp output noise** -- at every sampling instant (J0 held, J1 read) each neuron output
  carries one independent draw of ``opamp.noise_c2c`` rms (run stream ``("engine", "noise")``,
  drawn in the fixed order layer 0 .. L-1, then the error circuit's summer), propagated
  through the downstream layers' settled small-signal transfer to J; the draws never depend on
  whether anything is recorded;
* **energy** -- the neurons' output-stage load current ``(y - v-)/R_f`` drawn from the supply rail
  on its side, integrated per sub-step; the crossbars' read energy from the integral of each row
  voltage squared (:meth:`components.synapses.CrossbarLayer.read_interval`).

Numerics: within an interval of constant external inputs the first layer's target is constant, so
its step is exact; deeper layers, the error circuit and the sample-and-hold see targets that move
with their upstream outputs, taken as linear within each sub-step and followed exactly (the
constant-midpoint step where slewing or a rail intervenes).  Sub-steps start at
``tau_min / substeps_per_tau`` and grow (up to 256x) as the transient decays, sized for a local
error of ``tol`` at the interval's end and up to ``DAMP_CAP`` times more early in a transient
(the chain contracts: an early error decays by ``exp(-(T - t)/tau)`` before the interval's end,
where the controller samples); once nothing moves
(below 1e-13 V per sub-step) the rest of the interval is skipped, except a held value's droop.
The integrator is checked against ``solve_ivp`` of the same circuit equations
(tests/test_engine.py) and against ngspice for the neuron (tests/test_spice_summer.py).

Recording is an observer: :meth:`AnalogEngine.start_recording` makes the same compiled loop also
write each sub-step's state to a buffer.  Nothing else changes, so a recorded run has the same
bits as an unrecorded one.

The eager, event-level piecewise-linear path of the blocks (:class:`~components.neurons.NeuronLayer`,
:class:`~components.errorcircuits.ErrorCircuit`, :class:`~components.errorcircuits.SampleHold`)
serves circuits a user assembles by hand and is the engine's test oracle; a chip never runs it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mssim.errors import SimulationError
from mssim.probe import Probe
from mssim.units import TICK

from .errorcircuits import error_j
from .neurons import summer_target
from .opamp import clip1, closed_loop, loop_law, pole_const, pole_quad, pole_ramp

ACT_CODES = {"rails": 0, "tanh": 1, "clip": 2, "linear": 3}
#: A read that moves some device's conductance by more than this (relative) is logged.
DISTURB_LOG = 1e-3
#: At most this many device indices per event-log entry.
MAX_LOGGED = 20
# The integrator and every function it calls per sub-step are compiled without numba's reference
# counting (``_nrt=False``; they allocate nothing: scratch space is the engine's work buffer).
# Otherwise each call increments and decrements every array argument's reference count with
# atomic instructions: 15 % of a training run's time, measured with perf on Iris.
#: The local error target of a sub-step grows by up to this factor with the damping left until
#: the interval's end (errors made early in a transient decay before anything samples them).
DAMP_CAP = 1000.0
#: ... at the rate exp((T - t)/(DAMP_K·tau_slow)), tau_slow the slowest pole of the chain.
DAMP_K = 2.0


# ============================================================================ compiled kernels
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


_clip = clip1


@njit(cache=True, _nrt=False)
def _static_j(y, po, n_out, act_c, vsat, sgn, d, ep, off_sub, o):
    """Settled J (V) of the error circuit for op-amp outputs y[po:po+n_out] and targets d
    (:func:`components.errorcircuits.error_j` of the activated outputs; ``o`` is a work buffer)."""
    for j in range(n_out):
        o[j] = _act(sgn * y[po + j], act_c, vsat)
    return error_j(o, d, ep, off_sub)


@njit(cache=True, _nrt=False)
def _currents_from(l, v, y_off, n_l, n_in_l, G, G_off, writing, vbias, out):
    """Short-circuit currents into layer l (> 0) from the attenuated outputs ``v`` of layer l-1."""
    n = n_l[l]
    if writing[l]:
        for j in range(n):
            out[j] = 0.0
        return
    m = n_in_l[l] - 1
    base = G_off[l]
    po = y_off[l - 1]
    for j in range(n):
        out[j] = vbias * G[base + m * n + j]
    for i in range(m):
        vi = v[po + i]
        row = base + i * n
        for j in range(n):
            out[j] += vi * G[row + j]


@njit(cache=True)
def _stage_current(y, i_in, ng, rf):
    """Current out of a summer's output pin: ``(y - v-)/R_f`` with ``v- = (I·R_f + y)/NG``."""
    return y * (1.0 - 1.0 / ng) / rf - i_in / ng


@njit(cache=True)
def _rec_row(rec, rec_n, t, y, state):
    """Append [t, y..., yj, ysh] to the recording buffer (while it has room)."""
    r = rec_n[0]
    if r >= rec.shape[0]:
        return
    n = y.shape[0]
    rec[r, 0] = t
    for q in range(n):
        rec[r, 1 + q] = y[q]
    rec[r, 1 + n] = state[0]
    rec[r, 2 + n] = state[1]
    rec_n[0] = r + 1


@njit(cache=True)
def _lag_factor(h, tau):
    """How much of a target error ``κ·s·(h - s)`` over a sub-step of length h (zero at both ends,
    as the parabola through the end values makes it) a single pole of time constant tau carries
    at the sub-step's end, relative to ``κ·h²/4``: ``∫ κ s(h-s) e^{-(h-s)/τ} ds/τ`` is about
    ``κh³/(6τ)`` for a slow pole and ``κhτ`` for a fast one, which follows the target within a
    few τ of the end, where the error vanishes (an instant pole: none)."""
    if tau > h:
        return h / tau
    if 4.0 * tau < h:
        return 4.0 * tau / h
    return 1.0


@njit(cache=True, _nrt=False)
def _integrate(T, h_max, tol, n_l, n_in_l, y_off, G, G_off, writing, I0, y, k, tau, ng, off, stuck, rf, slew, lo,
               hi, act, vsat, sgn, scale, vbias, d, ep, off_sub, state, holding, shp, sup, acc, rec, rec_n,
               reset_acc, wk):
    """Advance every analog state by T seconds under constant external inputs.

    ``state`` = [yj, ysh]; ``ep``/``shp`` pack the error-circuit and sample-and-hold parameters;
    ``sup`` = per layer (V+, V-) supply of the output stage (0, 0 = not accounted).
    ``acc`` accumulates: rows 0..3 = per neuron ∫v dt, ∫v² dt, min v, max v of the activated,
    attenuated output (what the next crossbar reads), row 4 [0] = output-stage load energy (J).
    ``rec`` (rows of [t, y..., yj, ysh]) receives every sub-step when it has rows; ``rec_n[0]``
    counts them.  ``reset_acc`` starts the read statistics afresh (min and max from the present
    outputs).  Returns the number of sub-steps.

    Each sub-step advances the layers in order: layer l's target moves linearly between the
    currents from layer l-1's outputs at the sub-step's start and at its end (already advanced).
    The attenuated outputs (and J) at a sub-step's end are its successor's start values, so each
    activation is evaluated once per sub-step.

    Step size: the first sub-step is ``h_max``; after that each sub-step is sized from the error of
    the linear-target approximation, ``h²/8·|p''|·min(1, h/tau)`` with the targets' curvature
    ``p''`` estimated from consecutive sub-steps, kept near ``tol`` (V) (third-root rule, growth
    between 0.3x and 8x per sub-step, at most 256 h_max).  Early in an interval the target is
    relaxed by the damping still ahead, ``tol·min(DAMP_CAP, exp((T - t)/(DAMP_K·tau_slow)))``:
    the chain is contracting, so an error made there has decayed by the time the interval ends
    and its values are sampled.
    """
    L = n_l.shape[0]
    n_tot = y.shape[0]
    w = n_tot + 1  # the work buffer ``wk`` (WK_ROWS rows of n_tot + 1, AnalogEngine._wk): rows 0-8 here
    y_start = wk[0: n_tot]
    v_a = wk[w: w + n_tot]  # attenuated activated outputs at the sub-step start
    v_b = wk[2 * w: 2 * w + n_tot]  # ... at its end
    nmax = 0
    for l in range(L):
        if n_l[l] > nmax:
            nmax = n_l[l]
    cur = wk[3 * w: 3 * w + nmax]
    cur_a = wk[4 * w: 4 * w + nmax]
    slope = wk[5 * w: 6 * w]  # target slopes of the previous sub-step (neurons, then J)
    curv = wk[6 * w: 7 * w]  # and their curvature estimates
    for q in range(w):
        slope[q] = 0.0
        curv[q] = 0.0
    h_prev = 0.0
    tau_j, slew_j, lo_j, hi_j = ep[8], ep[9], ep[10], ep[11]
    tau_acq, droop, sh_lo, sh_hi = shp[0], shp[1], shp[2], shp[3]
    last = L - 1
    po_last = y_off[last]
    cur0 = wk[7 * w: 7 * w + n_l[0]]
    obuf = wk[8 * w: 8 * w + n_l[last]]
    for j in range(n_l[0]):
        cur0[j] = 0.0 if writing[0] else I0[j]
    for l in range(last):
        for j in range(n_l[l]):
            q = y_off[l] + j
            v_a[q] = _act(sgn[l] * y[q], act[l], vsat[l]) * scale[l]
            if reset_acc:
                acc[0, q] = 0.0
                acc[1, q] = 0.0
                acc[2, q] = v_a[q]
                acc[3, q] = v_a[q]
    j_a = _static_j(y, po_last, n_l[last], act[last], vsat[last], sgn[last], d, ep, off_sub, obuf)
    recording = rec.shape[0] > 0
    tau_slow = tau_j
    for q in range(n_tot):
        if tau[q] > tau_slow:
            tau_slow = tau[q]
    if tau_acq > tau_slow:
        tau_slow = tau_acq
    t = 0.0
    steps = 0
    # the first sub-step (unchecked: it only measures slopes) may be longer by the cube root of
    # the damping ahead of it, up to 8x
    h_next = h_max
    if tau_slow > 0.0:
        x0 = T / (DAMP_K * tau_slow)
        if x0 > 0.0:
            h_next = h_max * min(8.0, (DAMP_CAP if x0 > math.log(DAMP_CAP) else math.exp(x0)) ** (1.0 / 3.0))
    e_load = 0.0
    while t < T:
        h = T - t
        if h > h_next:
            h = h_next
        moved = 0.0
        err = 0.0
        for l in range(L):
            po = y_off[l]
            n = n_l[l]
            if l == 0:
                for j in range(n):
                    cur_a[j] = cur0[j]
                    cur[j] = cur0[j]
            else:
                _currents_from(l, v_a, y_off, n_l, n_in_l, G, G_off, writing, vbias, cur_a)
                _currents_from(l, v_b, y_off, n_l, n_in_l, G, G_off, writing, vbias, cur)
            vp, vn = sup[2 * l], sup[2 * l + 1]
            rfl = rf[l]
            for j in range(n):
                q = po + j
                y0 = y[q]
                y_start[q] = y0
                if not math.isnan(stuck[q]):
                    y1 = stuck[q]
                else:
                    pa = summer_target(k[q], off[q], ng[q], rfl, cur_a[j])
                    pb = summer_target(k[q], off[q], ng[q], rfl, cur[j])
                    if l > 0:
                        # the target moves as a parabola through pa and pb whose curvature is
                        # the change of slope since the previous sub-step
                        sl = (pb - pa) / h
                        cq = 0.0
                        if h_prev > 0.0:
                            cq = (sl - slope[q]) / (h + h_prev)
                            e = abs(cq - curv[q]) * h * h * 0.25
                            e *= _lag_factor(h, tau[q])
                            if e > err:
                                err = e
                        y1 = pole_quad(y0, pa, sl - cq * h, cq, tau[q], slew[l], lo[l], hi[l], h)
                        slope[q] = sl
                        curv[q] = cq
                    else:
                        y1 = pole_ramp(y0, pa, pb, tau[q], slew[l], lo[l], hi[l], h, 1)
                    dd = abs(y1 - y0)
                    if dd > moved:
                        moved = dd
                y[q] = y1
                if vp != 0.0 or vn != 0.0:  # trapezoid in time
                    qc = 0.5 * (_stage_current(y0, cur_a[j], ng[q], rfl) + _stage_current(y1, cur[j], ng[q], rfl)) * h
                    e_load += qc * (vp if qc > 0.0 else vn)
                if l < last:
                    va = v_a[q]
                    vb = _act(sgn[l] * y1, act[l], vsat[l]) * scale[l]
                    v_b[q] = vb
                    acc[0, q] += 0.5 * (va + vb) * h
                    acc[1, q] += (va * va + va * vb + vb * vb) * h / 3.0
                    if vb < acc[2, q]:
                        acc[2, q] = vb
                    if vb > acc[3, q]:
                        acc[3, q] = vb
        # error circuit: one lumped pole toward the static J of the outputs (linear over the sub-step)
        j_b = _static_j(y, po_last, n_l[last], act[last], vsat[last], sgn[last], d, ep, off_sub, obuf)
        yj_old = state[0]
        sl = (j_b - j_a) / h
        cq = 0.0
        if h_prev > 0.0:
            cq = (sl - slope[n_tot]) / (h + h_prev)
            e = abs(cq - curv[n_tot]) * h * h * 0.25
            e *= _lag_factor(h, tau_j)
            if e > err:
                err = e
        yj = pole_quad(yj_old, j_a, sl - cq * h, cq, tau_j, slew_j, lo_j, hi_j, h)
        slope[n_tot] = sl
        curv[n_tot] = cq
        state[0] = yj
        j_a = j_b
        dd = abs(yj - yj_old)
        if dd > moved:
            moved = dd
        if holding:
            ysh = state[1] - droop * h
        else:
            if tau_j <= 0.0:  # an instant J circuit steps at the sub-step's start
                ysh = pole_const(state[1], yj, tau_acq, math.inf, sh_lo, sh_hi, h)
            else:
                ysh = pole_ramp(state[1], yj_old, yj, tau_acq, math.inf, sh_lo, sh_hi, h, 1)
            dd = abs(ysh - state[1])
            if dd > moved:
                moved = dd
        state[1] = _clip(ysh, sh_lo, sh_hi)
        for l in range(last):
            for j in range(n_l[l]):
                q = y_off[l] + j
                v_a[q] = v_b[q]
        t += h
        steps += 1
        if recording:
            _rec_row(rec, rec_n, t, y, state)
        # the next sub-step from this one's error estimate (the first one only measures slopes)
        if h_prev > 0.0:
            if err > 0.0:
                tl = tol
                if tau_slow > 0.0:
                    x = (T - t) / (DAMP_K * tau_slow)
                    tl = tol * (DAMP_CAP if x > math.log(DAMP_CAP) else math.exp(x))
                f = (tl / err) ** (1.0 / 3.0)
                f = min(8.0, max(0.3, f))
            else:
                f = 8.0
            h_next = min(h * f, 256.0 * h_max)
            if h_next < h_max:
                h_next = h_max
        h_prev = h
        if moved < 1e-13:
            # settled: nothing moves any more except a held value's droop; the rest of the
            # interval contributes its constant read voltages and load currents
            rest = T - t
            if rest > 0.0:
                if holding and droop != 0.0:
                    state[1] = _clip(state[1] - droop * rest, sh_lo, sh_hi)
                for l in range(L):
                    vp, vn = sup[2 * l], sup[2 * l + 1]
                    po = y_off[l]
                    if vp != 0.0 or vn != 0.0:
                        if l == 0:
                            for j in range(n_l[0]):
                                cur[j] = cur0[j]
                        else:
                            _currents_from(l, v_a, y_off, n_l, n_in_l, G, G_off, writing, vbias, cur)
                    for j in range(n_l[l]):
                        q = po + j
                        if vp != 0.0 or vn != 0.0:
                            qc = _stage_current(y[q], cur[j], ng[q], rf[l]) * rest
                            e_load += qc * (vp if qc > 0.0 else vn)
                        if l < last:
                            vb = v_a[q]
                            acc[0, q] += vb * rest
                            acc[1, q] += vb * vb * rest
                if recording:
                    _rec_row(rec, rec_n, T, y, state)
            break
    acc[4, 0] += e_load
    return steps


@njit(cache=True, _nrt=False)
def _reads(T, v0, n_l, n_in_l, y_off, row_off, Q, amax, amin, mode, up, dn, acc, vbias, e_read, need):
    """Read energy of every crossbar over an interval of T seconds, and whether a device may have
    moved.  Layer 0 read the constant row voltages v0; layer l > 0 the previous layer's attenuated
    outputs (their ∫v, ∫v², min and max are in ``acc``) and the bias line at ``vbias``.
    ``need[l]`` = 1 where the devices must be integrated (:meth:`CrossbarLayer.read_interval`)."""
    L = n_l.shape[0]
    for l in range(L):
        need[l] = 0
        if mode[l] == 2:
            need[l] = 1
            continue
        m = n_in_l[l]
        r0 = row_off[l]
        e = 0.0
        top = -math.inf
        bot = math.inf
        for i in range(m):
            if l == 0:
                v2 = v0[i] * v0[i] * T
                lo = v0[i]
                hi = v0[i]
            elif i == m - 1:
                v2 = vbias * vbias * T
                lo = vbias
                hi = vbias
            else:
                q = y_off[l - 1] + i
                v2 = acc[1, q]
                lo = acc[2, q]
                hi = acc[3, q]
            e += Q[r0 + i] * v2
            if mode[l] == 1:
                for a in (amax[r0 + i], amin[r0 + i]):
                    for v in (lo, hi):
                        x = a * v
                        if x > top:
                            top = x
                        if x < bot:
                            bot = x
        if mode[l] == 1 and (top > up[l] or bot < dn[l]):
            need[l] = 1
        else:
            e_read[l] += e


@njit(cache=True, _nrt=False)
def _noise_dj(n_l, n_in_l, y_off, G, G_off, writing, y, k, rf, lo, hi, act, vsat, sgn, scale, stuck, noise, d, ep,
              off_sub, n_err, wk):
    """Change of the sampled J (V) when every op-amp output carries the draw ``noise`` (one per
    neuron, then ``n_err`` for the error circuit's summer) at the sampling instant.

    A neuron's noise moves its own output (rails clip it; a stuck output does not move) and,
    through the settled small-signal transfer ``-k*R_f*ΔI`` of each downstream layer, the outputs
    after it; the last layer's noisy outputs give the noisy static J, and the summer's own
    noise adds directly.
    """
    L = n_l.shape[0]
    n_tot = y.shape[0]
    w = n_tot + 1  # rows 10 and 11 of the work buffer
    yn = wk[10 * w: 10 * w + n_tot]
    for q in range(n_tot):
        yn[q] = y[q]
    for l in range(L):
        po = y_off[l]
        n = n_l[l]
        if l > 0 and not writing[l]:
            m = n_in_l[l] - 1
            base = G_off[l]
            pu = y_off[l - 1]
            for j in range(n):
                dI = 0.0
                for i in range(m):
                    dv = (_act(sgn[l - 1] * yn[pu + i], act[l - 1], vsat[l - 1])
                          - _act(sgn[l - 1] * y[pu + i], act[l - 1], vsat[l - 1])) * scale[l - 1]
                    dI += dv * G[base + i * n + j]
                yn[po + j] = y[po + j] - k[po + j] * rf[l] * dI
        for j in range(n):
            q = po + j
            if not math.isnan(stuck[q]):
                yn[q] = stuck[q]
            else:
                yn[q] = _clip(yn[q] + noise[q], lo[l], hi[l])
    last = L - 1
    obuf = wk[11 * w: 11 * w + n_l[last]]
    j0 = _static_j(y, y_off[last], n_l[last], act[last], vsat[last], sgn[last], d, ep, off_sub, obuf)
    j1 = _static_j(yn, y_off[last], n_l[last], act[last], vsat[last], sgn[last], d, ep, off_sub, obuf)
    return j1 - j0 + n_err


@njit(cache=True)
def _settle_batch(V0, n_l, n_in_l, y_off, G, G_off, k, ng, off, stuck, rf, lo, hi, act, vsat, sgn, scale, vbias):
    """Settled activated outputs of the last layer for each row of first-layer row voltages V0
    (bias line included): the fixed point the integrator relaxes to, by the same laws."""
    L = n_l.shape[0]
    n_tot = off.shape[0]
    B = V0.shape[0]
    n_last = n_l[L - 1]
    out = np.empty((B, n_last))
    y = np.empty(n_tot)
    nmax = 0
    for l in range(L):
        if n_l[l] > nmax:
            nmax = n_l[l]
    cur = np.empty(nmax)
    v = np.empty(n_tot)  # attenuated activated outputs, what the next crossbar reads
    writing = np.zeros(L, dtype=np.bool_)
    for b in range(B):
        for l in range(L):
            if l == 0:
                _first_currents(V0[b], G, n_in_l[0], n_l[0], cur)
            else:
                _currents_from(l, v, y_off, n_l, n_in_l, G, G_off, writing, vbias, cur)
            po = y_off[l]
            for j in range(n_l[l]):
                q = po + j
                if not math.isnan(stuck[q]):
                    y[q] = stuck[q]
                else:
                    y[q] = _clip(summer_target(k[q], off[q], ng[q], rf[l], cur[j]), lo[l], hi[l])
                v[q] = _act(sgn[l] * y[q], act[l], vsat[l]) * scale[l]
        pl = y_off[L - 1]
        for j in range(n_last):
            out[b, j] = _act(sgn[L - 1] * y[pl + j], act[L - 1], vsat[L - 1])
    return out


@njit(cache=True)
def _refresh_layer(G, usrc, gsrc, Q, amax, amin, has_q, has_ext, a, G_base, usrc_all, loop_src, loop_set, l, s0, rf, a0,
                   gbw, ng, tau, k, r0, Q_all, amax_all, amin_all):
    """Take crossbar l's read state into the engine's arrays: transfer and source conductances
    from flat offset ``a``, read terms from row ``r0``; when its column source conductances
    differ from those the loop constants were computed with, the noise gain ``1 + R_f·G_src``
    and the loop law (:func:`components.opamp.loop_law`) for its neurons from ``s0``.  Returns
    whether the loop constants changed."""
    n_in, n_out = G.shape
    for i in range(n_in):
        for j in range(n_out):
            G_base[a + i * n_out + j] = G[i, j]
            usrc_all[a + i * n_out + j] = usrc[i, j]
    if has_q:
        for i in range(Q.size):
            Q_all[r0 + i] = Q[i]
    if has_ext:
        for i in range(amax.size):
            amax_all[r0 + i] = amax[i]
            amin_all[r0 + i] = amin[i]
    n = gsrc.size
    same = loop_set[l]
    if same:
        for j in range(n):
            if not (loop_src[s0 + j] == gsrc[j]):
                same = False
                break
    if same:
        return False
    for j in range(n):
        loop_src[s0 + j] = gsrc[j]
        ng[s0 + j] = gsrc[j] * rf + 1.0  # 1 + R_f*G_src
    loop_law(a0, gbw, ng[s0: s0 + n], tau[s0: s0 + n], k[s0: s0 + n])
    loop_set[l] = True
    return True


@njit(cache=True)
def _min_positive(t):
    """The smallest positive entry of t (inf if none)."""
    m = math.inf
    for x in t:
        if x > 0.0 and x < m:
            m = x
    return m


@njit(cache=True, _nrt=False)
def _first_currents(v, G, n_in, n_out, out):
    for j in range(n_out):
        s = 0.0
        for i in range(n_in):
            s += v[i] * G[i * n_out + j]
        out[j] = s


@njit(cache=True, _nrt=False)
def _read_bound_ok(v0a, v0b, n_l, n_in_l, y_off, row_off, amax, amin, mode, up, dn, act, vsat, lo, hi, scale, vbias,
                   stuck):
    """True when no read over the next intervals can need the devices integrated: no layer in
    mode 2, and in mode 1 the threshold quantity cannot reach a threshold for any row voltage the
    rows can carry (layer 0: the constant row voltages ``v0a`` then ``v0b``; deeper layers: the
    whole output range of the activation, and the bias line).  Conservative: False only means the
    event-by-event path must run (which then decides exactly)."""
    L = n_l.shape[0]
    for l in range(L):
        if mode[l] == 2:
            return False
        if mode[l] == 0:
            continue
        m = n_in_l[l]
        r0 = row_off[l]
        if l > 0:
            if act[l - 1] == 1 or act[l - 1] == 2:
                vr = vsat[l - 1] * scale[l - 1]
            else:
                vr = max(abs(lo[l - 1]), abs(hi[l - 1]))
                for j in range(n_l[l - 1]):  # a stuck output may sit anywhere
                    sv = stuck[y_off[l - 1] + j]
                    if not math.isnan(sv) and abs(sv) > vr:
                        vr = abs(sv)
                vr *= scale[l - 1]
        for i in range(m):
            for a in (amax[r0 + i], amin[r0 + i]):
                if l == 0:
                    x1 = a * v0a[i]
                    x2 = a * v0b[i]
                    xs = (x1, x2)
                elif i == m - 1:
                    x1 = a * vbias
                    xs = (x1, x1)
                else:
                    xs = (a * vr, -a * vr)
                for x in xs:
                    if x > up[l] or x < dn[l]:
                        return False
    return True


@njit(cache=True, _nrt=False)
def _set_perturbation(G, G_base, usrc, pert, has_pert, v0, I0, n_in0, n0):
    """The transfer conductances with the electrical perturbation, ``G = G_base + pert·usrc`` (each
    unit's Norton conductance times its weight change), or without one (``has_pert`` False), and
    then the first layer's short-circuit currents under the row voltages ``v0``."""
    if has_pert:
        for i in range(G.size):
            G[i] = pert[i] * usrc[i] + G_base[i]
    else:
        for i in range(G.size):
            G[i] = G_base[i]
    _first_currents(v0, G[: n_in0 * n0], n_in0, n0, I0)


@njit(cache=True, _nrt=False)
def _sample_two(T_gap, T_settle, h_max_of, tol, v_new, d_new, pert0, pert1, has_pert0, draws, noisy, noise_sigma,
                err_noise, pedestal, sh_offset, n_l, n_in_l, y_off, row_off, G, G_base, usrc, G_off, writing, I0, v0, y,
                k, tau, ng, off, stuck, rf, slew, lo, hi, act, vsat, sgn, scale, vbias, d, ep, off_sub, state, shp,
                sup, acc, rec, rec_n, Q, amax, amin, mode, up, dn, e_read, need, out, wk):
    """One WSP measurement in one call, by the engine's own steps in the order the controller's
    events take them: the interval since the last event under the old inputs (integration and
    reads), the new row voltages ``v_new`` and targets ``d_new`` (with the perturbation ``pert0``
    when ``has_pert0``), ``T_settle``, the hold (noise draw 0, pedestal), the perturbation
    ``pert1``, ``T_settle``, the J1 read (noise draw 1), the held J0, perturbation removed, back to
    tracking.  ``out`` receives [J1, J0, sub-steps]; returns 0, or the stage whose J was not finite
    (1 = at the hold, 2 = J1) with the state as it was then."""
    n_tot = y.shape[0]
    n0 = n_l[0]
    n_in0 = n_in_l[0]
    nG0 = n_in0 * n0
    steps = 0
    if T_gap > 0.0:
        h = T_gap if h_max_of == math.inf else h_max_of
        steps += _integrate(T_gap, h, tol, n_l, n_in_l, y_off, G, G_off, writing, I0, y, k, tau, ng, off, stuck, rf,
                            slew, lo, hi, act, vsat, sgn, scale, vbias, d, ep, off_sub, state, False, shp, sup, acc,
                            rec, rec_n, True, wk)
        _reads(T_gap, v0, n_l, n_in_l, y_off, row_off, Q, amax, amin, mode, up, dn, acc, vbias, e_read, need)
    for i in range(v0.shape[0]):
        v0[i] = v_new[i]
    if has_pert0:
        _set_perturbation(G, G_base, usrc, pert0, True, v0, I0, n_in0, n0)
    else:
        _first_currents(v0, G[:nG0], n_in0, n0, I0)
    for i in range(d.shape[0]):
        d[i] = d_new[i]
    h = T_settle if h_max_of == math.inf else h_max_of
    steps += _integrate(T_settle, h, tol, n_l, n_in_l, y_off, G, G_off, writing, I0, y, k, tau, ng, off, stuck, rf,
                        slew, lo, hi, act, vsat, sgn, scale, vbias, d, ep, off_sub, state, False, shp, sup, acc, rec,
                        rec_n, True, wk)
    _reads(T_settle, v0, n_l, n_in_l, y_off, row_off, Q, amax, amin, mode, up, dn, acc, vbias, e_read, need)
    out[2] = steps
    if not math.isfinite(state[0]):
        return 1
    nz = wk[9 * (n_tot + 1): 9 * (n_tot + 1) + n_tot]
    dj = 0.0
    if noisy:
        for q in range(n_tot):
            nz[q] = draws[q] * noise_sigma[q]
        dj = _noise_dj(n_l, n_in_l, y_off, G, G_off, writing, y, k, rf, lo, hi, act, vsat, sgn, scale, stuck, nz, d,
                       ep, off_sub, draws[n_tot] * err_noise, wk)
    state[1] = min(max(state[1] + dj + pedestal, shp[2]), shp[3])
    _set_perturbation(G, G_base, usrc, pert1, True, v0, I0, n_in0, n0)
    steps += _integrate(T_settle, h, tol, n_l, n_in_l, y_off, G, G_off, writing, I0, y, k, tau, ng, off, stuck, rf,
                        slew, lo, hi, act, vsat, sgn, scale, vbias, d, ep, off_sub, state, True, shp, sup, acc, rec,
                        rec_n, True, wk)
    _reads(T_settle, v0, n_l, n_in_l, y_off, row_off, Q, amax, amin, mode, up, dn, acc, vbias, e_read, need)
    out[2] = steps
    dj = 0.0
    if noisy:
        b = n_tot + 1
        for q in range(n_tot):
            nz[q] = draws[b + q] * noise_sigma[q]
        dj = _noise_dj(n_l, n_in_l, y_off, G, G_off, writing, y, k, rf, lo, hi, act, vsat, sgn, scale, stuck, nz, d,
                       ep, off_sub, draws[b + n_tot] * err_noise, wk)
    j = state[0] + dj
    if not math.isfinite(j):
        out[0] = j
        return 2
    out[0] = min(max(j, ep[10]), ep[11])
    out[1] = min(max(state[1] + sh_offset, shp[2]), shp[3])
    _set_perturbation(G, G_base, usrc, pert1, False, v0, I0, n_in0, n0)
    return 0



# ---------------------------------------------------------------------------- packed arguments
# The engine keeps its arrays in three arenas (float, int, bool); each named array is a view
# into one of them (AnalogEngine._pack).  A compiled call then takes the three arenas and the
# layout instead of ~50 separate arrays: numba unboxes every array argument on each call
# (~75 ns apiece), which was a third of a training pattern's Python time.
F_NAMES = ("G", "G_base", "usrc", "I0", "v0", "y", "k", "tau", "ng", "off", "stuck", "rf", "slew", "lo", "hi", "vsat",
           "sgn", "scale", "d", "ep", "off_sub", "state", "shp", "sup", "Q", "amax", "amin", "th_up", "th_dn",
           "e_read", "noise_sigma", "loop_src", "acc", "_wk")
I_NAMES = ("n_l", "n_in_l", "y_off", "row_off", "G_off", "act", "mode", "_need", "_rec_n")
B_NAMES = ("writing", "loop_set")
_NF = len(F_NAMES)
#: The compiled calls' work buffer has this many rows of n_tot + 1 (:func:`_integrate` rows 0-8,
#: :func:`_sample_two` row 9, :func:`_noise_dj` rows 10-11): nothing is allocated per call.
WK_ROWS = 12
_NI = len(I_NAMES)


# Views of the arenas by slot (inlined into the callers, which run without reference counting).
@njit(inline="always")
def _fv(F, lay, i):
    return F[lay[2 * i]: lay[2 * i + 1]]


@njit(inline="always")
def _iv(I, lay, i):
    j = _NF + i
    return I[lay[2 * j]: lay[2 * j + 1]]


@njit(inline="always")
def _bv(B, lay, i):
    j = _NF + _NI + i
    return B[lay[2 * j]: lay[2 * j + 1]]


@njit(inline="always")
def _acc(F, lay):
    a = _fv(F, lay, 32)
    return a.reshape((5, a.size // 5))


@njit(cache=True, _nrt=False)
def _integrate_p(F, I, B, lay, T, h_max, tol, holding, vbias, rec, reset_acc):
    """:func:`_integrate` on the packed engine arrays."""
    return _integrate(T, h_max, tol, _iv(I, lay, 0), _iv(I, lay, 1), _iv(I, lay, 2), _fv(F, lay, 0), _iv(I, lay, 4),
                      _bv(B, lay, 0), _fv(F, lay, 3), _fv(F, lay, 5), _fv(F, lay, 6), _fv(F, lay, 7), _fv(F, lay, 8),
                      _fv(F, lay, 9), _fv(F, lay, 10), _fv(F, lay, 11), _fv(F, lay, 12), _fv(F, lay, 13),
                      _fv(F, lay, 14), _iv(I, lay, 5), _fv(F, lay, 15), _fv(F, lay, 16), _fv(F, lay, 17), vbias,
                      _fv(F, lay, 18), _fv(F, lay, 19), _fv(F, lay, 20), _fv(F, lay, 21), holding, _fv(F, lay, 22),
                      _fv(F, lay, 23), _acc(F, lay), rec, _iv(I, lay, 8), reset_acc, _fv(F, lay, 33))


@njit(cache=True, _nrt=False)
def _read_bound_ok_p(F, I, lay, v, vbias):
    """:func:`_read_bound_ok` on the packed engine arrays (present row voltages, then ``v``)."""
    return _read_bound_ok(_fv(F, lay, 4), v, _iv(I, lay, 0), _iv(I, lay, 1), _iv(I, lay, 2), _iv(I, lay, 3),
                          _fv(F, lay, 25), _fv(F, lay, 26), _iv(I, lay, 6), _fv(F, lay, 27), _fv(F, lay, 28),
                          _iv(I, lay, 5), _fv(F, lay, 15), _fv(F, lay, 13), _fv(F, lay, 14), _fv(F, lay, 17), vbias,
                          _fv(F, lay, 10))


@njit(cache=True, _nrt=False)
def _sample_two_p(F, I, B, lay, check, T_gap, T_settle, h_max_of, tol, v_new, d_new, pert0, pert1, has_pert0, draws,
                  noisy, err_noise, pedestal, sh_offset, vbias, rec, out):
    """:func:`_sample_two` on the packed engine arrays; with ``check``, first
    :func:`_read_bound_ok` (returns 3, having changed nothing, when it fails)."""
    if check and not _read_bound_ok_p(F, I, lay, v_new, vbias):
        return 3
    return _sample_two(T_gap, T_settle, h_max_of, tol, v_new, d_new, pert0, pert1, has_pert0, draws, noisy,
                       _fv(F, lay, 30), err_noise, pedestal, sh_offset, _iv(I, lay, 0), _iv(I, lay, 1),
                       _iv(I, lay, 2), _iv(I, lay, 3), _fv(F, lay, 0), _fv(F, lay, 1), _fv(F, lay, 2), _iv(I, lay, 4),
                       _bv(B, lay, 0), _fv(F, lay, 3), _fv(F, lay, 4), _fv(F, lay, 5), _fv(F, lay, 6),
                       _fv(F, lay, 7), _fv(F, lay, 8), _fv(F, lay, 9), _fv(F, lay, 10), _fv(F, lay, 11),
                       _fv(F, lay, 12), _fv(F, lay, 13), _fv(F, lay, 14), _iv(I, lay, 5), _fv(F, lay, 15),
                       _fv(F, lay, 16), _fv(F, lay, 17), vbias, _fv(F, lay, 18), _fv(F, lay, 19), _fv(F, lay, 20),
                       _fv(F, lay, 21), _fv(F, lay, 22), _fv(F, lay, 23), _acc(F, lay), rec, _iv(I, lay, 8),
                       _fv(F, lay, 24), _fv(F, lay, 25), _fv(F, lay, 26), _iv(I, lay, 6), _fv(F, lay, 27),
                       _fv(F, lay, 28), _fv(F, lay, 29), _iv(I, lay, 7), out, _fv(F, lay, 33))


@njit(cache=True, _nrt=False)
def _apply_pert_p(F, I, lay, pert, has_pert):
    """The transfer conductances with the electrical perturbation ``pert`` (or none), and the first
    layer's currents under the present row voltages."""
    _set_perturbation(_fv(F, lay, 0), _fv(F, lay, 1), _fv(F, lay, 2), pert, has_pert, _fv(F, lay, 4), _fv(F, lay, 3),
                      _iv(I, lay, 1)[0], _iv(I, lay, 0)[0])


@njit(cache=True, _nrt=False)
def _refresh_layer_p(F, I, B, lay, l, G, usrc, gsrc, Q, amax, amin, has_q, has_ext, rf, a0, gbw):
    """:func:`_refresh_layer` on the packed engine arrays; then, when the loop constants changed,
    the present inputs' first-layer currents are refreshed by the caller."""
    return _refresh_layer(G, usrc, gsrc, Q, amax, amin, has_q, has_ext, _iv(I, lay, 4)[l], _fv(F, lay, 1),
                          _fv(F, lay, 2), _fv(F, lay, 31), _bv(B, lay, 1), l, _iv(I, lay, 2)[l], rf, a0, gbw,
                          _fv(F, lay, 8), _fv(F, lay, 7), _fv(F, lay, 6), _iv(I, lay, 3)[l], _fv(F, lay, 24),
                          _fv(F, lay, 25), _fv(F, lay, 26))


# ============================================================================ the engine
class AnalogEngine:
    """The analog state of a :class:`~components.training.chip.Chip` and its one integrator.

    The engine holds the neuron, error-circuit and sample-and-hold states and the external inputs
    (first-layer row voltages, targets, write mode), and advances everything to a tick on demand.
    Blocks own their parameters and fault methods; before a block changes anything the engine
    uses (device states, perturbation, offsets, stuck outputs) it calls :meth:`advance_to` so the
    change takes effect exactly at that instant.  Crossbar devices are advanced by the engine too:
    reads with the interval's row voltages (:meth:`CrossbarLayer.read_interval`), writes by
    the write-pulse pieces (:meth:`apply_write`).

    Parameters
    ----------
    substeps_per_tau : int
        Sub-steps per smallest neuron time constant at the start of an interval.
    """

    def __init__(self, substeps_per_tau: int = 16, tol: float = 3e-5) -> None:
        self.substeps_per_tau = int(substeps_per_tau)
        #: Local error target of a sub-step (V), relative to the largest v_sat.
        self.tol_rel = float(tol)
        self.chip = None
        self.env = None
        self.steps = 0
        self.recorder: dict | None = None
        self.t_state = 0
        self._advancing = False
        self._pending: list = []
        self._w_t = 0
        self._write_seg = None
        self._write_pol = None
        #: Run a WSP measurement or a write pulse in one compiled call when no other event falls
        #: inside it (:meth:`can_fuse`).  The same bits either way; False plays every event (for
        #: stepping through a step, or instrumenting the controller's calls).
        self.fuse = True
        #: How many measurements and write pulses ran fused (one compiled call each).
        self.fused = {"measurements": 0, "pulses": 0}

    # -- set-up (called once by the chip after its circuit is built) -------------------------
    def bind(self, chip) -> None:
        """Take the built chip's blocks: sizes, parameters, initial states, random streams."""
        self.chip = chip
        self.env = chip.sim.env
        neurons, xbars = chip.neurons, chip.crossbars
        self.neurons, self.xbars = neurons, xbars
        self.L = L = len(neurons)
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
        self.tol = self.tol_rel * float(self.vsat.max())
        self.sgn = np.array([1.0 if nl.params.invert else -1.0 for nl in neurons])
        sp = chip.spec.synapse_params
        self.scale = np.full(L, sp.v_read / p0.v_sat)
        self.vbias = float(sp.v_read)
        sup = []
        for nl in neurons:
            op = nl.params.opamp
            ok = math.isfinite(op.supply_pos) and math.isfinite(op.supply_neg)
            sup += [float(op.supply_pos), float(op.supply_neg)] if ok else [0.0, 0.0]
        self.sup = np.array(sup)
        self.noise_sigma = np.concatenate([np.full(nl.n, float(nl.params.opamp.noise_c2c)) for nl in neurons])
        self.n_tot = n_tot = int(self.n_l.sum())
        self.y = np.zeros(n_tot)
        self.k = np.zeros(n_tot)
        self.tau = np.zeros(n_tot)
        self.ng = np.zeros(n_tot)
        self.off = np.zeros(n_tot)
        self.stuck = np.full(n_tot, np.nan)
        self.writing = np.zeros(L, dtype=np.bool_)
        self.acc = np.zeros((5, max(n_tot, 1)))
        err, sh = chip.error, chip.sh
        self.ep, self.off_sub = err.engine_params()
        self.err_noise = float(err.params.opamp.noise_c2c)
        self.shp = sh.engine_params()
        self.sh_offset = float(sh.params.offset)
        self.sh_pedestal = float(sh.params.pedestal)
        self.state = np.zeros(2)
        self.holding = False
        self.v0 = np.zeros(int(self.n_in_l[0]))
        self.d = np.zeros(int(self.n_l[-1]))
        self.I0 = np.zeros(int(self.n_l[0]))
        self.t_state = self.env.now
        self._versions = [None] * L
        self._nl_versions = [None] * L
        #: the source conductances the loop constants were computed from, per neuron
        self.loop_src = np.zeros(int(self.n_l.sum()))
        self.loop_set = np.zeros(L, dtype=np.bool_)
        self._empty1 = np.zeros(0)
        self._tmin = math.inf
        self._noise_rng = chip.sim.seeds.run_stream("engine", "noise")
        self._read_noise = chip.spec.device_params.g_read_noise > 0
        self._empty_rec = np.zeros((0, n_tot + 3))
        self._rec_n = np.zeros(1, dtype=np.int64)
        self._write_pol = None
        self._write_seg = None  # (t0, v0, t1, v1) ticks/volts of the present write-pulse piece
        self.e_read = np.zeros(L)
        self.e_write = 0.0
        self.row_off = np.concatenate([[0], np.cumsum(self.n_in_l)[:-1]]).astype(np.int64)
        n_rows = int(self.n_in_l.sum())
        self.Q = np.zeros(n_rows)
        self.amax = np.zeros(n_rows)
        self.amin = np.zeros(n_rows)
        self.mode = np.zeros(L, dtype=np.int64)
        self.th_up = np.zeros(L)
        self.th_dn = np.zeros(L)
        self._need = np.zeros(L, dtype=np.int64)
        self._th_done = [False] * L
        self._endurance = [math.isfinite(xb.device_params.endurance_cycles) for xb in xbars]
        self._worn = [np.zeros(0, dtype=np.int64) for _ in xbars]
        self.disturb_events = 0
        #: layers whose devices drift at rest (finite retention): they must see every idle interval
        self._retention = [math.isfinite(xb.device_params.retention_tau) for xb in xbars]
        self._any_retention = any(self._retention)
        self._no_draws = np.zeros(0)
        self._out3 = np.zeros(3)
        self.G_base = np.zeros_like(self.G)
        self.usrc = np.zeros_like(self.G)
        self.pert: np.ndarray | None = None
        self._pending: list = []
        self._advancing = False
        self._wk = np.zeros(WK_ROWS * (n_tot + 1))
        #: op-amp output noise anywhere (the engine's noise levels are fixed when it binds)
        self._noisy = bool(self.noise_sigma.any() or self.err_noise > 0)
        self._pack()
        wnet = chip.sim.net("writer.out")
        wnet.on_before_change(self._on_write_net_before)
        wnet.on_after_change(self._on_write_net)
        self._gather()
        # settle the initial state (no input, targets 0): what the chip is at power-up
        self._settle_now()

    def _pack(self) -> None:
        """Move the arrays the compiled calls share into three arenas (float, int, bool) and make
        each named attribute a view of its arena (see ``F_NAMES``).  Done once, at bind; every
        later change is in place (the checkpoint restores in place too), so the views stay valid."""
        bounds = []
        arenas = []
        for names, dtype in ((F_NAMES, np.float64), (I_NAMES, np.int64), (B_NAMES, np.bool_)):
            arrs = [np.asarray(getattr(self, n)) for n in names]
            arena = np.empty(sum(a.size for a in arrs), dtype=dtype)
            o = 0
            for n, a in zip(names, arrs):
                view = arena[o: o + a.size].reshape(a.shape)
                view[...] = a
                setattr(self, n, view)
                bounds += [o, o + a.size]
                o += a.size
            arenas.append(arena)
        self._F, self._I, self._B = arenas
        self._lay = np.array(bounds, dtype=np.int64)

    # -- parameters from the blocks ---------------------------------------------------------
    def _gather(self) -> None:
        """Refresh the conductances, loop constants, read terms, offsets and stuck outputs that
        changed (a crossbar's ``version`` or a neuron layer's ``version`` tells)."""
        changed = False
        for l in range(self.L):
            xb, nl = self.xbars[l], self.neurons[l]
            ver = xb.version
            if ver != self._versions[l] or self._read_noise:
                G, gsrc, usrc, Q, amax, amin, mode = xb.engine_terms(read_noise=self._read_noise)
                op = nl.params.opamp
                has_ext = amax is not None
                if has_ext and not self._th_done[l]:  # a crossbar's thresholds are fixed when it is built
                    up, dn, _ = xb._thresholds
                    self.th_up[l] = np.max(up)
                    self.th_dn[l] = np.min(dn)
                    self._th_done[l] = True
                self.mode[l] = mode
                if _refresh_layer_p(self._F, self._I, self._B, self._lay, l, G, usrc, gsrc,
                                    self._empty1 if Q is None else Q, amax if has_ext else self._empty1,
                                    amin if has_ext else self._empty1, Q is not None, has_ext, float(nl.params.r_f),
                                    float(op.a0), float(op.gbw)):
                    self._tmin = _min_positive(self.tau)
                self._versions[l] = ver
                changed = True
            nv = nl.version
            if nv != self._nl_versions[l]:
                s = slice(self.y_off[l], self.y_off[l] + nl.n)
                self.off[s] = nl.offset
                self.stuck[s] = nl.stuck_y
                self._nl_versions[l] = nv
        if changed:
            self._apply_pert()

    def _apply_pert(self) -> None:
        pert = self.pert
        _apply_pert_p(self._F, self._I, self._lay, self._no_draws if pert is None else pert, pert is not None)

    def perturb(self, delta_flat: np.ndarray | None) -> None:
        """Inject the electrical weight perturbation ``delta_flat`` (reference order) now, or remove
        it (``None``): each unit's output current gains ``v_in·dW·usrc`` (its Norton conductance
        times the weight change), no device is written."""
        self.advance_to(self.env.now)
        self.pert = None if delta_flat is None else np.asarray(delta_flat, dtype=float)
        self._apply_pert()

    def _currents0(self) -> None:
        _first_currents(self.v0, self.G[: self.n_in_l[0] * self.n_l[0]], int(self.n_in_l[0]), int(self.n_l[0]),
                        self.I0)

    def _settle_now(self) -> None:
        self._integrate(1.0)
        self.acc[4, 0] = 0.0

    # -- integration ----------------------------------------------------------------------
    def _integrate(self, T: float) -> None:
        h_max = T if math.isinf(self._tmin) else self._tmin / self.substeps_per_tau
        rec = self._empty_rec
        if self.recorder is not None:
            cap = int(min(T / h_max, 1e6)) + 4
            rec = np.empty((cap, self.n_tot + 3))
            self._rec_n[0] = 0
        self.steps += _integrate_p(self._F, self._I, self._B, self._lay, T, h_max, self.tol, self.holding, self.vbias,
                                   rec, True)
        if self.recorder is not None:
            n = int(self._rec_n[0])
            self.recorder["chunks"].append((self.t_state, rec[:n].copy()))

    def advance_to(self, t: int) -> None:
        """Integrate the chain (and advance the crossbar devices) from its last update to tick ``t``
        under the present inputs."""
        t0 = self.t_state
        if t <= t0 or self._advancing or self.chip is None:
            return
        self._advancing = True
        try:
            self._advance(t0, t)
        finally:
            self._advancing = False
        self.t_state = t

    def _advance(self, t0: int, t: int) -> None:
        self._gather()
        seg = self._write_seg
        if seg is not None:
            self._write_upto(t)
        T = (t - t0) * TICK
        acc = self.acc
        self._integrate(T)
        if seg is None:
            need = self._need
            _reads(T, self.v0, self.n_l, self.n_in_l, self.y_off, self.row_off, self.Q, self.amax, self.amin,
                   self.mode, self.th_up, self.th_dn, acc, self.vbias, self.e_read, need)
            for l in range(self.L):
                if need[l]:
                    self._disturb_read(l, T)
                elif self._retention[l]:
                    self.xbars[l].idle(T)

    def _write_upto(self, t: int) -> None:
        """Queue the write-line pieces from the write cursor to tick t (cut where the present ramp
        ends); the devices take them together when the pulse ends (:meth:`flush_writes`)."""
        ts, va, te, vb = self._write_seg
        t0 = self._w_t
        if t <= t0:
            return
        cuts = [t0] + ([te] if t0 < te < t else []) + [t]
        for a, b in zip(cuts[:-1], cuts[1:]):
            wa = vb if a >= te else va + (vb - va) * (a - ts) / (te - ts)
            wb = vb if b >= te else va + (vb - va) * (b - ts) / (te - ts)
            self._pending.append((wa, wb, (b - a) * TICK))
        self._w_t = t

    def _disturb_read(self, l: int, T: float) -> None:
        """Integrate layer l's devices through the interval at its mean row voltages (read disturb);
        a conductance change above ``DISTURB_LOG`` (relative) is logged (kind "read_disturb")."""
        xb = self.xbars[l]
        g0 = xb.device_array.conductance()
        if l == 0:
            self.e_read[0] += xb.read_interval(self.v0, None, None, None, T)
        else:
            s = slice(self.y_off[l - 1], self.y_off[l - 1] + self.n_l[l - 1])
            vb = self.vbias
            acc = self.acc
            m1 = np.append(acc[0, s] / T, vb)
            m2 = np.append(acc[1, s] / T, vb * vb)
            self.e_read[l] += xb.read_interval(m1, m2, np.append(acc[2, s], vb), np.append(acc[3, s], vb), T)
        g1 = xb.device_array.conductance()
        ok = g0 > 0
        if ok.any():
            rel = np.abs(g1[ok] / g0[ok] - 1.0)
            worst = float(rel.max())
            if worst > DISTURB_LOG:
                self.disturb_events += 1
                self.chip.sim.log("read_disturb", layer=l, n_devices=int(np.count_nonzero(rel > DISTURB_LOG)),
                                  max_rel_change=worst)

    def flush_writes(self) -> None:
        """Apply the pieces of the present write pulse played so far to the devices."""
        if self._write_seg is not None and self.env is not None:
            self._write_upto(self.env.now)
        if not self._pending:
            return
        pieces, self._pending = self._pending, []
        for l, (xb, pol) in enumerate(zip(self.xbars, self._write_pol)):
            self.e_write += xb.write_pieces(pieces, pol)
            if self._endurance[l]:
                self._check_wearout(l)
        if self.recorder is not None:
            self._rec_weights(self.env.now)

    def _check_wearout(self, l: int) -> None:
        """Log devices that reached their endurance in the pulse just applied (kind "wearout")."""
        arr = self.xbars[l].device_array
        worn = np.flatnonzero((arr.switch_count >= arr._limit) & arr.stuck_mask)
        new = np.setdiff1d(worn, self._worn[l], assume_unique=True)
        if new.size:
            self._worn[l] = worn
            self.chip.sim.log("wearout", layer=l, n_devices=int(new.size),
                              devices=[int(i) for i in new[:MAX_LOGGED]])

    # -- external inputs (the controller's side) ----------------------------------------------
    def set_inputs(self, v0: np.ndarray | None = None, d: np.ndarray | None = None) -> None:
        """First-layer row voltages ``v0`` (V, bias line last) and targets ``d`` (V) from now on."""
        self.advance_to(self.env.now)
        if v0 is not None:
            self.v0[:] = v0
            self._currents0()
        if d is not None:
            self.d[:] = d
        if self.recorder is not None:
            self._rec_inputs()

    def begin_write(self, pol_flat: np.ndarray) -> None:
        """A write pulse is about to start with per-synapse polarities ``pol_flat`` (reference
        order, physical polarity +1/-1/0): from now the crossbars leave the neurons and follow
        the write line (``writer.out``) until :meth:`end_write`."""
        self.advance_to(self.env.now)
        self._write_pol = [np.array(p, dtype=float) for p in self.chip.split(pol_flat)]
        self.writing[:] = True
        now = self.env.now
        self._write_seg = (now, 0.0, now, 0.0)
        self._w_t = now

    def _on_write_net_before(self, _net) -> None:
        """The write line is about to change: queue its pieces so far (the neurons, disconnected
        during the pulse, are advanced once when it ends)."""
        if self._write_seg is None:
            self.advance_to(self.env.now)
        else:
            self._write_upto(self.env.now)

    def _on_write_net(self, net) -> None:
        """The write line changed: follow its new segment."""
        if self._write_pol is None:
            return
        t0, v0, t1, v1 = net.segment
        self._write_seg = (int(t0), float(v0[0]), int(t1), float(v1[0]))
        if self.recorder is not None:
            self.recorder["writer"].append((int(t0), float(v0[0])))
            self.recorder["writer"].append((int(t1), float(v1[0])))

    def end_write(self) -> None:
        """The pulse is over (its fall has ended): the devices take the pulse, the crossbars
        reconnect to the neurons."""
        self.advance_to(self.env.now)
        self._write_upto(self.env.now)
        self.flush_writes()
        self._write_seg = None
        self._write_pol = None
        self.writing[:] = False
        self._gather()

    # -- one measurement in one call (no event in between) -----------------------------------
    def can_fuse(self, horizon: int) -> bool:
        """Whether the next ``horizon`` ticks can run as one compiled call with the same bits as
        event by event: nothing records, no other event falls inside (faults, probes, other
        processes), and no per-advance work needs Python (device read noise redrawn at every
        advance, retention drift, reads that may disturb a device)."""
        env = self.env
        return (self.fuse and self.recorder is None and not self._read_noise and not self._any_retention and not self.holding
                and self._write_seg is None and env.peek() > env.now + horizon)

    def sample_two(self, v: np.ndarray, d: np.ndarray, pert1: np.ndarray, t_settle: int,
                   pert0: np.ndarray | None = None) -> tuple[float, float] | None:
        """A WSP measurement from now, in one compiled call: apply row voltages ``v`` and targets
        ``d`` (perturbation ``pert0`` from then, if given), settle ``t_settle`` ticks, hold J0, apply
        the perturbation ``pert1``, settle ``t_settle`` ticks, read J1, remove it, release.  Returns
        ``(J1, J0 as the S&H presents it)``; the caller waits the ``2·t_settle`` ticks (the engine
        is already there).  The same steps, draws and bits as the events :meth:`set_inputs`,
        :meth:`hold`, :meth:`perturb`, :meth:`sample_j`, :meth:`held`, :meth:`release` (tests
        compare).  Returns None, having changed nothing, when a read could disturb a device (the
        event path then runs and integrates the devices)."""
        self._gather()
        noisy = self._noisy
        F, I, B, lay, vb = self._F, self._I, self._B, self._lay, self.vbias
        if noisy:  # the bound first: a measurement that falls back must not have drawn its noise
            if not _read_bound_ok_p(F, I, lay, v, vb):
                return None
            draws = self._noise_rng.standard_normal(2 * (self.n_tot + 1))
        else:
            draws = self._no_draws
        T_gap = (self.env.now - self.t_state) * TICK
        h = math.inf if math.isinf(self._tmin) else self._tmin / self.substeps_per_tau
        out = self._out3
        code = _sample_two_p(F, I, B, lay, not noisy, T_gap, t_settle * TICK, h, self.tol, v, d,
                             self._no_draws if pert0 is None else pert0, pert1, pert0 is not None, draws, noisy,
                             self.err_noise, self.sh_pedestal, self.sh_offset, vb, self._empty_rec, out)
        if code == 3:
            return None
        self.steps += int(out[2])
        if code == 1:
            self._check_finite(float(self.state[0]), "J at the hold", at=self.env.now + t_settle)
        elif code == 2:
            self._check_finite(float(out[0]), "J1", at=self.env.now + 2 * t_settle)
        self.pert = None
        self.t_state = self.env.now + 2 * t_settle
        self.fused["measurements"] += 1
        return float(out[0]), float(out[1])

    def write_at_once(self, pol_flat: np.ndarray, pieces, duration: int) -> None:
        """A write pulse from now, ``duration`` ticks long, whose write line runs through ``pieces``
        (``(v0, v1, seconds)``, :meth:`components.pulses.PulseGenerator.play_at_once`), in one go:
        the steps of :meth:`begin_write`, the write line's segments and :meth:`end_write` (the
        neurons, disconnected, integrated over the pulse; the devices written; the crossbars
        reconnected).  ``pol_flat``: physical polarity codes +1/-1/0 per synapse (reference order).
        The caller waits ``duration`` ticks; check :meth:`can_fuse` first."""
        self.advance_to(self.env.now)
        self.writing[:] = True
        self._gather()  # as the advance at the pulse's end does first (a read may have moved devices)
        self._integrate(duration * TICK)
        self.t_state = self.env.now + duration
        pcs = np.array(pieces, dtype=float).reshape(-1, 3)
        pol = np.asarray(pol_flat, dtype=float)
        k = 0
        for l, xb in enumerate(self.xbars):
            n = xb.n_units
            self.e_write += xb.write_for_engine(pcs, pol[k: k + n])
            k += n
            if self._endurance[l]:
                self._check_wearout(l)
        self.writing[:] = False
        self._gather()
        self.fused["pulses"] += 1

    # -- sampling ---------------------------------------------------------------------------
    def _noise(self) -> float:
        """ΔJ (V) from the op-amp output noise at this sampling instant (0 without noise)."""
        if not self._noisy:
            return 0.0
        rng = self._noise_rng
        draws = rng.standard_normal(self.n_tot + 1)
        noise = draws[: self.n_tot] * self.noise_sigma
        return float(_noise_dj(self.n_l, self.n_in_l, self.y_off, self.G, self.G_off, self.writing, self.y, self.k,
                               self.rf, self.lo, self.hi, self.act, self.vsat, self.sgn, self.scale, self.stuck,
                               noise, self.d, self.ep, self.off_sub, draws[self.n_tot] * self.err_noise,
                               self._wk))

    def _check_finite(self, j: float, what: str, at: int | None = None) -> None:
        """Stop with a SimulationError naming the first block and index that went non-finite."""
        if math.isfinite(j):
            return
        where = what
        for l in range(self.L):
            s = slice(self.y_off[l], self.y_off[l] + self.n_l[l])
            bad = np.flatnonzero(~np.isfinite(self.G[self.G_off[l]: self.G_off[l] + self.n_in_l[l] * self.n_l[l]]))
            if bad.size:
                i = int(bad[0])
                where = f"xbar{l} transfer conductance [{i // self.n_l[l]}, {i % self.n_l[l]}]"
                break
            bad = np.flatnonzero(~np.isfinite(self.y[s]))
            if bad.size:
                where = f"neuron{l} output [{int(bad[0])}]"
                break
        t = self.env.now if at is None else at
        raise SimulationError(f"{where} became non-finite ({what} = {j!r}) at simulated time {t * TICK:.6g} s; "
                              "check the scenario's extreme values (read voltage, gains, rails)")

    def hold(self) -> None:
        """The sample-and-hold holds now: it captures J (with this instant's noise) plus the pedestal."""
        self.advance_to(self.env.now)
        self._check_finite(float(self.state[0]), "J at the hold")
        if not self.holding:
            lo, hi = self.shp[2], self.shp[3]
            self.state[1] = min(max(self.state[1] + self._noise() + self.sh_pedestal, lo), hi)
            self.holding = True
            if self.recorder is not None:
                self._rec_point()

    def held(self) -> float:
        """The S&H output now (V): the held value after its droop, plus the offset, within the rails."""
        self.advance_to(self.env.now)
        return float(min(max(self.state[1] + self.sh_offset, self.shp[2]), self.shp[3]))

    def release(self) -> None:
        """Back to tracking."""
        self.advance_to(self.env.now)
        self.holding = False

    def sample_j(self) -> float:
        """The live J (V) at the error circuit's output now, with this instant's noise."""
        self.advance_to(self.env.now)
        j = float(self.state[0]) + self._noise()
        self._check_finite(j, "J1")
        return float(min(max(j, self.ep[10]), self.ep[11]))

    def outputs(self, layer: int | None = None) -> np.ndarray:
        """Activated outputs (V) of a layer (default: the last) now, noise-free."""
        self.advance_to(self.env.now)
        l = self.L - 1 if layer is None else layer
        nl = self.neurons[l]
        return nl.params.activate(self.y[self.y_off[l]: self.y_off[l] + nl.n])

    # -- settled transfer (inference) ---------------------------------------------------------
    def infer(self, X: np.ndarray) -> np.ndarray:
        """Settled, noise-free outputs (normalised, ``o/v_sat``) for a batch of inputs, from the
        present device states: the fixed point of the same equations, no time, no state change."""
        self._gather_static()
        sp = self.chip.spec.synapse_params
        X = np.atleast_2d(np.asarray(X, dtype=float))
        V0 = np.hstack([X * sp.v_read, np.full((X.shape[0], 1), sp.v_read)])
        o = _settle_batch(V0, self.n_l, self.n_in_l, self.y_off, self._G_static, self.G_off, self._k_static,
                          self._ng_static, self.off, self.stuck, self.rf, self.lo, self.hi, self.act, self.vsat,
                          self.sgn, self.scale, self.vbias)
        return o / self.vsat[-1]

    def _gather_static(self) -> None:
        """Noise-free, unperturbed conductances and loop constants (what a measurement sees)."""
        G = np.empty_like(self.G)
        ng = np.empty(self.n_tot)
        kk = np.empty(self.n_tot)
        for l in range(self.L):
            xb, nl = self.xbars[l], self.neurons[l]
            Gl, gsrc = xb.engine_read_state(read_noise=False, perturbation=False)
            a = self.G_off[l]
            G[a: a + Gl.size] = Gl.ravel()
            s = slice(self.y_off[l], self.y_off[l] + nl.n)
            n_ = 1.0 + nl.params.r_f * gsrc
            ng[s] = n_
            kk[s] = closed_loop(nl.params.opamp, n_)[1]
            self.off[s] = nl.offset
            self.stuck[s] = nl.stuck_y
        self._G_static, self._ng_static, self._k_static = G, ng, kk

    def loop_constants(self, layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(NG, tau, k)`` of a neuron layer (the block or its index) for the present conductances."""
        l = layer if isinstance(layer, (int, np.integer)) else self.neurons.index(layer)
        self._gather()
        s = slice(self.y_off[l], self.y_off[l] + self.n_l[l])
        return self.ng[s].copy(), self.tau[s].copy(), self.k[s].copy()

    # -- energy -------------------------------------------------------------------------------
    @property
    def load_energy_j(self) -> float:
        """Energy the neurons' output stages drew from the supplies to drive their loads (J)."""
        return float(self.acc[4, 0])

    # -- recording (an observer) -----------------------------------------------------------
    def start_recording(self) -> None:
        """From now on, keep every sub-step of the trajectory (same integration, same bits: no
        advance happens here, so the integration intervals are those of an unrecorded run)."""
        self.recorder = {"chunks": [], "inputs": [], "writer": [(self.t_state, 0.0)], "points": [], "weights": []}
        self._rec_inputs()
        self._rec_point()
        self._rec_weights(self.t_state)

    #: Layers with more synapses than this are left out of the recorded weights (VCD size).
    REC_WEIGHTS_MAX = 1024

    def _rec_weights(self, t: int) -> None:
        self.recorder["weights"].append((int(t), [xb.weights().ravel().copy() if xb.n_units <= self.REC_WEIGHTS_MAX
                                                  else None for xb in self.xbars]))

    def _rec_inputs(self) -> None:
        self.recorder["inputs"].append((self.env.now, self.v0.copy(), self.d.copy()))

    def _rec_point(self) -> None:
        self.recorder["points"].append((self.t_state, self.y.copy(), float(self.state[0]), float(self.state[1])))

    def stop_recording(self) -> dict[str, Probe]:
        """Stop recording; returns probes of the recorded trajectory (``neuron{l}.out``,
        ``error.j``, ``sh.out``, ``controller.x``, ``controller.target``, ``writer.out``, and the
        weights ``xbar{l}.w`` of layers up to :attr:`REC_WEIGHTS_MAX` synapses, after every pulse).
        Like :meth:`start_recording` it does not advance: the trace ends at the last event."""
        self._rec_point()
        self._rec_inputs()  # close the stepped traces at the end
        self.recorder["inputs"][-1] = (self.t_state,) + self.recorder["inputs"][-1][1:]
        wr = self.recorder["writer"]
        wr.append((max(self.t_state, wr[-1][0]), wr[-1][1]))
        rec = self.recorder
        self.recorder = None
        rows_t, rows_y, rows_j, rows_s = [], [], [], []
        for t, y, j, s in rec["points"]:
            rows_t.append(float(t)); rows_y.append(y); rows_j.append(j); rows_s.append(s)
        for t0, chunk in rec["chunks"]:
            for r in chunk:
                rows_t.append(t0 + r[0] / TICK)
                rows_y.append(r[1: 1 + self.n_tot])
                rows_j.append(r[1 + self.n_tot])
                rows_s.append(r[2 + self.n_tot])
        order = np.argsort(np.asarray(rows_t), kind="stable")
        probes: dict[str, Probe] = {}
        for l, nl in enumerate(self.neurons):
            p = Probe(f"neuron{l}.out", nl.n)
            for i in order:
                p.record(int(round(rows_t[i])), nl.params.activate(rows_y[i][self.y_off[l]: self.y_off[l] + nl.n]))
            probes[p.name] = p
        pj, ps = Probe("error.j", 1), Probe("sh.out", 1)
        lo, hi = self.shp[2], self.shp[3]
        for i in order:
            t = int(round(rows_t[i]))
            pj.record(t, np.array([rows_j[i]]))
            ps.record(t, np.array([min(max(rows_s[i] + self.sh_offset, lo), hi)]))
        probes["error.j"], probes["sh.out"] = pj, ps
        px, pd = Probe("controller.x", self.v0.size), Probe("controller.target", self.d.size)
        for t, v0, d in rec["inputs"]:
            px.record(int(t), v0)
            pd.record(int(t), d)
        probes["controller.x"], probes["controller.target"] = px, pd
        pw = Probe("writer.out", 1)
        for t, v in rec["writer"]:
            pw.record(int(t), np.array([v]))
        probes["writer.out"] = pw
        ws = rec["weights"]
        for l, xb in enumerate(self.xbars):
            if ws and ws[0][1][l] is not None:
                pr = Probe(f"xbar{l}.w", xb.n_units)
                for t, w in ws:
                    pr.record(int(t), w[l])
                pr.record(int(max(self.t_state, ws[-1][0])), ws[-1][1][l])
                probes[pr.name] = pr
        for p in probes.values():
            p.stop()
        return probes

    # -- checkpoint ---------------------------------------------------------------------------
    def get_state(self) -> dict:
        """Everything needed to continue bit-exactly from now (analog states, inputs, streams)."""
        self.advance_to(self.env.now)
        return {"y": self.y.copy(), "state": self.state.copy(), "holding": self.holding, "v0": self.v0.copy(),
                "d": self.d.copy(), "acc4": float(self.acc[4, 0]), "e_read": self.e_read.copy(),
                "noise_rng": self._noise_rng.bit_generator.state, "steps": self.steps}

    def set_state(self, st: dict) -> None:
        """Restore :meth:`get_state` (at the same simulated time)."""
        self.y[:] = st["y"]
        self.state[:] = st["state"]
        self.holding = bool(st["holding"])
        self.v0[:] = st["v0"]
        self.d[:] = st["d"]
        self.acc[4, 0] = st["acc4"]
        self.e_read[:] = st["e_read"]
        self._noise_rng.bit_generator.state = st["noise_rng"]
        self.steps = int(st["steps"])
        self._versions = [None] * self.L
        self._gather()
        self._currents0()
        self.t_state = self.env.now
