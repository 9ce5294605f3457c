"""The chip-design step: write voltage, PWM clock, ``t_max`` and perturbation width from the device.

What a chip designer does once per design, before the first training event
(:class:`~components.training.trainer.TrainingRun` calls :func:`design_chip`;
``mssim validate`` runs it too).  Every quantity comes from measurements of one
synaptic unit at the mid weight, made with the chip's own write pulse (its
``rise`` and ``fall`` edges) on fresh copies of the unit:

* the weight rate ``kappa(v)`` (1/s) for a weight-increasing and a
  weight-decreasing pulse of amplitude ``v``: two flat-top widths ``T`` and
  ``2T`` with the same edges, so the edges' share cancels; ``T`` is searched
  from 1 ps to 1 s until the flat top moves the weight by a measurable step;
* the *imbalance* ``s(v)``: the signed net drift of the device states
  (normalised, 0 = ON, 1 = OFF) under an increasing and a decreasing pulse,
  over the sum of their magnitudes.  ``s = 0``: the SET and RESET motions
  cancel (a pair keeps its common mode, a single device moves as fast each
  way); ``|s| = 1``: only one direction of switching happens, so every write
  drifts the devices toward one bound and the weights collapse.

The rule (docs/devices.md, "Out of the box"):

1. ``v_write``: on a log grid from 1 mV to :data:`V_SAFE` (refined where ``s``
   changes sign), the voltages that move the weight both ways, at least
   :data:`MARGIN` times the lowest such voltage (the switching threshold), and
   whose flat top is still resolved by a 1 ps pulse (not saturated).  Among
   them, those within :data:`IMBALANCE_TOL` of the smallest ``|s|``; of these,
   the one whose rate is closest (in log) to ``alpha / T_TYPICAL``, so a typical
   update lasts :data:`T_TYPICAL` when the device allows it.
2. ``clock``: a typical update ``alpha/kappa`` of the faster direction spans
   :data:`PERIODS_TYPICAL` clock periods (1-2-5 series, at least 1 ps).
3. ``t_max``: :data:`T_MAX_STEPS` typical updates of the slower direction, and at
   least twice the perturbation width; on the clock (1-2-5 series).
4. perturbation width: ``c / kappa_pert`` (the written perturbation's pulse).

Then :func:`choose_weight_span` (called by the trainer) the weight span: the largest of
:data:`WEIGHT_SPANS` whose :func:`reversion` (the pull of the write back toward weight 0 at ±0.5
of the span) is at most :data:`REVERSION_MAX`.  One network weight is ``span`` of the unit's
weight: ``R_f`` rises by ``1/span`` and the design is made again for ``alpha·span²`` and ``c·span``.

Before these, :func:`design_unit` chooses the unit's operating point (pair and bridge: write
topology and divider sum; reference: ``g_ref``) and :func:`choose_edges` the pulse edges, short
enough that the edges alone barely move a weight anywhere in the probed range (:func:`edge_motion`).
Where every voltage within :data:`IMBALANCE_TOL` leaves part of the weight range still or saturated,
rule 1 widens the tolerance (:data:`IMBALANCE_TOLS`).

A value the scenario sets (``timing.v_write``, ``timing.clock``, ``timing.t_max``,
``timing.t_pert``) is kept as given; the others are designed around it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from mssim.errors import ConfigError
from mssim.units import TICK

from ..synapses import WEIGHT_INCREASING_POLARITY, CrossbarLayer, SynapseParams

#: Highest write voltage the design considers (V): the write driver's supply.
V_SAFE = 5.0
#: Lowest voltage of the search grid (V).
V_LOWEST = 1e-3
#: Grid points per decade of voltage.
GRID_PER_DECADE = 8
#: The write voltage is at least this multiple of the switching threshold.
MARGIN = 1.5
#: Voltages whose |imbalance| is within this of the best are equally good ...
IMBALANCE_TOL = 0.005
#: ... widened in these steps while every such voltage leaves part of the weight range still or
#: saturated (evenness 0).
IMBALANCE_TOLS = (IMBALANCE_TOL, 0.02, 0.08, 0.32, 2.0)
#: Voltages whose evenness over the weight range (:func:`evenness`) is at least this are preferred ...
EVEN_MIN = 0.7
#: ... where a uniformity (slowest over fastest rate over the range) of this counts as fully even ...
UNIFORMITY_MIN = 0.3
#: ... measured at these fractions of the weight range (and the mid weight).
UNIFORMITY_AT = 0.5
#: The operating point of a divider unit keeps at least this programmable weight range.
W_RANGE_MIN = 0.5
#: An operating point other than the mid-range sum must raise the unit's merit by at least this.
MERIT_GAIN = 0.1
#: A series write with at least this merit is kept without trying the grounded-middle write.
MERIT_SERIES_OK = 0.8
#: The reference unit's weight 0 (``g_ref = G_off + f·(G_on − G_off)/2``, f = 1: the mid conductance) is
#: compared by the weight rates at the weights ±REF_PROBE_W ...
REF_PROBE_W = 0.5
#: ... for ``f`` on this grid, where both sides of the weight range keep REF_PROBE_W + 0.1.
REF_GRID = tuple(round(REF_PROBE_W + 0.1 + 0.1 * k, 10) for k in range(int(round((2.0 - 2 * (REF_PROBE_W + 0.1)) / 0.1)) + 1))
#: The weight span (the unit's weight per network weight) is the largest of these ...
WEIGHT_SPANS = tuple(2.0 ** -k for k in range(7))
#: ... whose reversion at ±UNIFORMITY_AT of the span (:func:`reversion`) is at most this.
REVERSION_MAX = 0.03
#: The pulse edges alone may move a weight by at most alpha over this.
EDGE_FRACTION = 10
#: A typical update (weight change ``alpha``) lasts this long when the device allows it (s).
T_TYPICAL = 100e-9
#: Clock periods in a typical update.
PERIODS_TYPICAL = 100
#: Clock periods in a typical update of the last epoch (``training.lr_decay`` shrinks alpha).
PERIODS_END = 10
#: ``t_max`` covers this many typical updates.
T_MAX_STEPS = 30
#: Weight change the calibration pulses aim at (normalised weight).
TARGET_DW = 0.01
#: Edges alone moving the weight by more than this make the voltage unusable.
EDGE_LIMIT = 0.5
#: The read amplitude is chosen so that a read of this long (s) at MARGIN times it ...
READ_TEST_S = 1e-3
#: ... moves the mid weight by less than this fraction of alpha.
READ_DISTURB_FRACTION = 0.01
#: Time constants a neuron layer gets to settle (to about 1 % after a full step, with margin).
SETTLE_TAUS = 6.0
T_SHORTEST = 1e-12
T_LONGEST = 1.0


@dataclass(frozen=True)
class Rate:
    """One calibration measurement: a pulse of amplitude ``v`` in one weight direction."""

    v: float
    direction: int  # +1 weight-increasing, -1 weight-decreasing
    kappa: float  # weight rate along ``direction`` (1/s; <= 0: does not move that way)
    status: str  # "ok", "still" (no motion up to 1 s), "saturated", "wrong_way"
    du_dt: tuple = ()  # per-device normalised state rate of the flat top (1/s)
    edge_dw: float = 0.0  # weight change of the edges alone
    du_pulse: tuple = ()  # per-device state change of a whole pulse (edges included) moving the weight by target_dw


def unit_for_calibration(dev, syn: SynapseParams) -> CrossbarLayer:
    """One synaptic unit at the mid weight, built outside a circuit (seed 0, no spread)."""
    return CrossbarLayer("cal", 1, 1, dev, syn.with_values(init="mid", init_spread=0.0)).build_detached(seed=0)


@lru_cache(maxsize=64)
def _prototype(dev, syn: SynapseParams):
    """A calibration unit and a snapshot of its just-built state (restored by :func:`_fresh`)."""
    xb = unit_for_calibration(dev, syn)
    a = xb.device_array
    rng = a.run_rng.bit_generator.state if a.run_rng is not None else None
    return xb, (a.U.copy(), a.dU.copy(), a.flags.copy(), a.switch_count.copy(), a.path_counts.copy(), rng)


def _fresh(dev, syn: SynapseParams) -> CrossbarLayer:
    """The calibration unit exactly as just built (same states, counters and random stream): the
    same as building a new one, ~10x faster."""
    xb, (U, dU, flags, sc, pc, rng) = _prototype(dev, syn)
    a = xb.device_array
    a.U[:] = U
    a.dU[:] = dU
    a.flags[:] = flags
    a.switch_count[:] = sc
    a.path_counts[:] = pc
    if rng is not None:
        a.run_rng.bit_generator.state = rng
    a.version += 1
    xb.energy_read_j = xb.energy_write_j = 0.0
    xb._changed()
    return xb


def _pulse(dev, syn, v, T, rise, fall, pol, w0=0.0):
    xb = _fresh(dev, syn)
    if w0:
        xb.set_weights(np.array([[w0 * (xb.w_max if w0 > 0 else -xb.w_min)]]), clip=True)
    p = np.array([pol])
    w0 = float(xb.weights()[0, 0])
    u0 = xb.device_array.u.copy()
    if rise > 0:
        xb.write(0.0, v, rise, p)
    if T > 0:
        xb.write(v, v, T, p)
    if fall > 0:
        xb.write(v, 0.0, fall, p)
    return float(xb.weights()[0, 0]) - w0, xb.device_array.u.copy() - u0


def measure(dev, syn: SynapseParams, v: float, rise: float, fall: float, direction: int = 1,
            target_dw: float = TARGET_DW, w0: float = 0.0) -> Rate:
    """The weight rate of one unit under a pulse of amplitude ``v`` (V), from the mid weight (or from
    ``w0`` times the end of the weight range in its direction)."""
    pol = WEIGHT_INCREASING_POLARITY * direction
    e, _ = _pulse(dev, syn, v, 0.0, rise, fall, pol, w0)
    if abs(e) > EDGE_LIMIT:
        return Rate(v, direction, 0.0, "saturated", edge_dw=e)

    def flat(T):
        a, ua = _pulse(dev, syn, v, T, rise, fall, pol, w0)
        b, ub = _pulse(dev, syn, v, 2 * T, rise, fall, pol, w0)
        return a, b, (ub - ua) / T

    T = 1e-9
    a, b, du = flat(T)
    if abs(b - a) > target_dw:
        while abs(b - a) > target_dw and T > T_SHORTEST * 1.5:
            T = max(T / 4.0, T_SHORTEST)
            a, b, du = flat(T)
        if abs(b - a) > target_dw:
            return Rate(v, direction, (b - a) * direction / T, "saturated", tuple(du), e)
    else:
        while abs(b - a) < target_dw / 4 and T < T_LONGEST:
            T *= 4.0
            a, b, du = flat(T)
    kappa = (b - a) * direction / T
    if abs(b - a) < 1e-9 * max(1.0, abs(a)) or not math.isfinite(kappa):
        # no flat-top motion: below threshold, or the edges already took the weight to its bound
        status = "saturated" if abs(a) > 0.25 else "still"
        return Rate(v, direction, 0.0, status, tuple(du), e)
    if kappa <= 0:
        return Rate(v, direction, kappa, "wrong_way", tuple(du), e)
    # a whole pulse of the typical width (target_dw/kappa of flat top), edges included
    T_typ = min(max(target_dw / kappa, T_SHORTEST), T_LONGEST)
    _, u_typ = _pulse(dev, syn, v, T_typ, rise, fall, pol, w0)
    return Rate(v, direction, kappa, "ok", tuple(du), e, tuple(u_typ))


def read_disturb(dev, syn: SynapseParams, v_read: float, duration: float = READ_TEST_S) -> float:
    """Largest |weight change| of a unit after reading it at ``+v_read`` and at ``-v_read`` (full-scale
    input, the read amplitude per unit input) for ``duration`` seconds each, beyond what the same
    time idle does (retention), from the weights -0.9, 0 and +0.9 of its range (the device
    currents of a read depend on the state)."""
    worst = 0.0
    for frac in (-0.9, 0.0, 0.9):
        moved = {}
        for sign in (1.0, -1.0, 0.0):  # 0: idle for as long (retention drift is not read disturb)
            xb = unit_for_calibration(dev, syn.with_values(v_read=v_read))
            w_set = frac * (xb.w_max if frac > 0 else -xb.w_min)
            xb.set_weights(np.array([[w_set]]), clip=True)
            w0 = float(xb.weights()[0, 0])
            xb.apply_read(np.array([sign * v_read]), np.array([sign * v_read]), duration)
            moved[sign] = float(xb.weights()[0, 0]) - w0
        worst = max(worst, abs(moved[1.0] - moved[0.0]), abs(moved[-1.0] - moved[0.0]))
    return worst


def choose_read(dev, syn: SynapseParams, alpha: float) -> float:
    """The read amplitude of the rule: the synapse's default (``syn.v_read``), halved until a read at
    :data:`MARGIN` times it for :data:`READ_TEST_S` moves the mid weight by less than
    ``alpha·READ_DISTURB_FRACTION`` (both polarities): reads stay below the switching threshold."""
    v = float(syn.v_read)
    limit = alpha * READ_DISTURB_FRACTION
    for _ in range(20):
        if read_disturb(dev, syn, MARGIN * v) < limit:
            return v
        v /= 2.0
    raise ConfigError(f"synapse.params.v_read: even a {v:.3g} V read disturbs the weights (it moves a weight by more "
                      f"than {limit:.2g} in {READ_TEST_S:g} s); the device has no usable read window with this "
                      "synaptic unit: choose another unit or device")


def resistance_at(dev, syn: SynapseParams, u: float) -> float:
    """Nominal resistance (ohm) of the unit's device at normalised state ``u`` (0 = ON, 1 = OFF)."""
    arr = unit_for_calibration(dev, syn).device_array
    arr.U[:] = u
    arr.version += 1
    return float(arr.resistance()[0])


def unit_merit(dev, syn: SynapseParams, v: float, rise: float, fall: float,
               alpha: float = TARGET_DW) -> tuple[float, float, float]:
    """``(merit, imbalance, evenness)`` of a unit at its programmed operating point under pulses of
    ``v``: merit = evenness·(1 − |imbalance|): the write moves every weight alike without pulling it
    toward the middle (:func:`evenness`) and changes the weight rather than the common mode
    (:func:`imbalance`)."""
    up, dn = measure(dev, syn, v, rise, fall, 1, alpha), measure(dev, syn, v, rise, fall, -1, alpha)
    if up.status != "ok" or dn.status != "ok":
        return 0.0, 1.0, 0.0
    s_ = imbalance(up, dn)
    ev = evenness(dev, syn, v, rise, fall, up.kappa)[0]
    return ev * (1.0 - abs(s_)), s_, ev


def choose_operating_point(dev, syn: SynapseParams, v: float, rise: float, fall: float,
                           alpha: float = TARGET_DW) -> float | None:
    """``r_sum`` for a pair or bridge: the common state ``u`` of both devices at w = 0 (``r_sum =
    2·R(u)``, ``u`` on a grid 0.1..0.9) with the best :func:`unit_merit`, among those whose
    programmable weight range is at least :data:`W_RANGE_MIN`; None (keep the mid-range sum
    R_on + R_off) unless it beats the default's merit by :data:`MERIT_GAIN`."""
    if syn.unit not in ("pair", "bridge"):
        return None
    m0, s0, _ = unit_merit(dev, syn, v, rise, fall, alpha)
    if abs(s0) <= IMBALANCE_TOL and m0 >= EVEN_MIN:
        return None  # balanced and even at the mid-range sum already
    xb = unit_for_calibration(dev, syn)
    r_lo, r_hi = xb.r_lo, xb.r_hi
    best = (m0 + MERIT_GAIN, None)
    for u in np.linspace(0.1, 0.9, 17):
        S = 2 * resistance_at(dev, syn, float(u))
        if not (2 * r_lo < S < 2 * r_hi and min(1 - 2 * r_lo / S, 2 * r_hi / S - 1) >= W_RANGE_MIN):
            continue
        m = unit_merit(dev, syn.with_values(r_sum=S), v, rise, fall, alpha)[0]
        if m > best[0]:
            best = (m, S)
    return best[1]


def choose_reference_point(dev, syn: SynapseParams, rise: float, fall: float, alpha: float,
                           v_write: float | None) -> float | None:
    """``g_ref`` for a ``reference`` unit: ``G_off + f·(G_on − G_off)/2`` for ``f`` on :data:`REF_GRID`,
    each at the write voltage the design would use there (``v_write`` if the scenario sets it, else
    :func:`choose_voltage`'s), with the best :func:`unit_merit` (its evenness compares the rates at
    the weights ±:data:`REF_PROBE_W`, inside the range every candidate keeps); None (keep the mid
    conductance, f = 1) unless another ``f`` beats it.  A device whose resistance is linear in its state moves a
    weight linear in conductance ~G^5 times faster near G_on (TEAM, cubic law): weight 0 placed
    higher in conductance keeps the negative weights movable."""
    xb = unit_for_calibration(dev, syn)
    g_on, g_off = 1.0 / xb.r_lo, 1.0 / xb.r_hi
    best = (-1.0, None)
    for f in REF_GRID:
        cand = syn.with_values(g_ref=None if f == 1.0 else g_off + f * 0.5 * (g_on - g_off))
        try:
            v = v_write if v_write is not None else choose_voltage(dev, cand, rise, fall, alpha)[0]
        except ConfigError:
            continue
        m = unit_merit(dev, cand, v, rise, fall, alpha)[0]
        if m > best[0] + 1e-12:
            best = (m, cand.g_ref)
    return best[1]


def _unit_at(dev, syn, rise, fall, alpha, v_write, fix_r_sum):
    """(syn with its operating point, v, merit) for one write topology of a divider unit."""
    try:
        v = v_write if v_write is not None else choose_voltage(dev, syn, rise, fall, alpha)[0]
    except ConfigError:
        return syn, None, -1.0
    if not fix_r_sum:
        S = choose_operating_point(dev, syn, v, rise, fall, alpha)
        if S is not None:
            if v_write is None:
                try:
                    v2 = choose_voltage(dev, syn.with_values(r_sum=S), rise, fall, alpha)[0]
                except ConfigError:
                    v2 = v
                if v2 != v:
                    S = choose_operating_point(dev, syn, v2, rise, fall, alpha) or S
                    v = v2
            syn = syn.with_values(r_sum=S)
    return syn, v, unit_merit(dev, syn, v, rise, fall, alpha)[0]


@lru_cache(maxsize=256)
def design_unit(dev, syn: SynapseParams, rise: float, fall: float, alpha: float, v_write: float | None,
                fix_write_mid: bool = False, fix_r_sum: bool = False, fix_g_ref: bool = False) -> SynapseParams:
    """A divider unit's write topology (``write_mid``) and operating point (``r_sum``,
    :func:`choose_operating_point`) at the write voltage the design will use (``v_write`` if the
    scenario sets it, else :func:`choose_voltage`'s).  The series write (the default) is kept unless
    its :func:`unit_merit` is under :data:`MERIT_SERIES_OK` and the grounded-middle write beats it by
    :data:`MERIT_GAIN`.  A ``reference`` unit's operating point is its ``g_ref``
    (:func:`choose_reference_point`).  Values the scenario sets (``fix_*``) are kept."""
    if syn.unit == "reference":
        if fix_g_ref:
            return syn
        return syn.with_values(g_ref=choose_reference_point(dev, syn, rise, fall, alpha, v_write))
    if syn.unit not in ("pair", "bridge"):
        return syn
    best = _unit_at(dev, syn, rise, fall, alpha, v_write, fix_r_sum)
    if not fix_write_mid and syn.r_line == 0 and best[2] < MERIT_SERIES_OK:
        alt = _unit_at(dev, syn.with_values(write_mid="ground" if syn.write_mid == "series" else "series"),
                       rise, fall, alpha, v_write, fix_r_sum)
        if alt[2] > best[2] + MERIT_GAIN:
            best = alt
    return best[0]


@lru_cache(maxsize=256)
def choose_edges(dev, syn: SynapseParams, rise: float, fall: float, alpha: float,
                 v_write: float | None, alpha_end: float | None = None) -> tuple[float, float]:
    """Write-pulse edges (s) short enough that the edges alone move a weight by at most
    ``alpha_end/EDGE_FRACTION`` in either direction, from the mid weight and from the weights where
    :func:`evenness` probes the range (:func:`edge_motion`), at the write voltage the design will use (the
    PWM controls only the flat top; ``alpha_end``: the learning rate of the last epoch, default
    ``alpha``): from ``rise``/``fall`` (the scenario's defaults), each step the next shorter value
    of the 1-2-5 series, down to 1 ps."""
    a_end = alpha if alpha_end is None else min(alpha, alpha_end)
    for _ in range(40):
        try:
            v = v_write if v_write is not None else choose_voltage(dev, syn, rise, fall, alpha)[0]
        except ConfigError:
            v = None
        if v is not None:
            if edge_motion(dev, syn, v, rise, fall) <= a_end / EDGE_FRACTION:
                return rise, fall
        if max(rise, fall) <= T_SHORTEST:
            return rise, fall
        rise, fall = (_nice(x * 0.99, up=False) if x > T_SHORTEST else x for x in (rise, fall))
    return rise, fall


def _probes(dev, syn: SynapseParams) -> tuple[float, float]:
    """Where :func:`evenness` and :func:`edge_motion` probe the weight range, as fractions of its ends
    (the ``w0`` of :func:`measure`): ±:data:`UNIFORMITY_AT`; a ``reference`` unit at the weights
    ±:data:`REF_PROBE_W` (its range is asymmetric when ``g_ref`` is not the mid conductance: fractions
    of it would compare different weights)."""
    if syn.unit == "reference":
        xb = unit_for_calibration(dev, syn)
        return (-REF_PROBE_W / -xb.w_min, REF_PROBE_W / xb.w_max)
    return (-UNIFORMITY_AT, UNIFORMITY_AT)


def edge_motion(dev, syn: SynapseParams, v: float, rise: float, fall: float) -> float:
    """Largest |weight change| of a pulse's edges alone (no flat top) at amplitude ``v``, either
    direction, from the mid weight and from the :func:`_probes` weights: a device whose rate grows
    across the range moves most at one end."""
    return max(abs(_pulse(dev, syn, v, 0.0, rise, fall, WEIGHT_INCREASING_POLARITY * d, w0)[0])
               for w0 in (0.0, *_probes(dev, syn)) for d in (1, -1))


def settle_time(op, r_f: float, usrc: float, sizes, v_sat: float) -> float:
    """How long the neuron layers take to settle after a new input (s): each layer's single-pole
    summer has a closed-loop time constant ``NG/(2π·GBW)`` with the noise gain
    ``NG = 1 + R_f·n_in·usrc`` (``usrc``: one unit's source conductance into the summing node at the
    mid weight, ``n_in`` rows with the bias); the layers settle in series, each to 1 % in about
    :data:`SETTLE_TAUS` time constants, plus a full-swing slew ``2·v_sat/slew_rate``; the sum is
    rounded up on the 1-2-5 series.  Instant (ideal) op-amps: 1 us."""
    if op.instant:
        return 1e-6
    total = 0.0
    for n_in in sizes[:-1]:
        ng = 1.0 + r_f * (n_in + 1) * usrc
        total += SETTLE_TAUS * ng / (2 * math.pi * op.gbw)
        if math.isfinite(op.slew_rate):
            total += 2 * v_sat / op.slew_rate
    return _nice(total, up=True)


@lru_cache(maxsize=256)
def choose_read_cached(dev, syn: SynapseParams, alpha: float) -> float:
    """:func:`choose_read`, remembered per (device, unit, alpha)."""
    return choose_read(dev, syn, alpha)


def imbalance(up: Rate, down: Rate) -> float:
    """Signed net state drift of an increasing plus a decreasing typical pulse (edges included) over
    their total motion (0: balanced; +1/-1: only motion toward OFF / toward ON)."""
    a, b = (up.du_pulse, down.du_pulse) if up.du_pulse and down.du_pulse else (up.du_dt, down.du_dt)
    du = np.concatenate([np.asarray(a, float), np.asarray(b, float)])
    tot = float(np.sum(np.abs(du)))
    return float(np.sum(du)) / tot if tot > 0 else 0.0


def calibration_error(r: Rate, field_name: str = "timing.v_write") -> ConfigError:
    """A calibration failure that says which way to go."""
    way = "increase" if r.direction > 0 else "decrease"
    if r.status == "still":
        return ConfigError(f"{field_name}: a {r.v:g} V pulse does not move the weight (a pulse to {way} it moved "
                           f"nothing in up to {T_LONGEST:g} s): it is below the device's switching threshold; "
                           f"raise {field_name}, or leave it out and let the design step choose it")
    if r.status == "saturated":
        if abs(r.edge_dw) > EDGE_LIMIT:
            what = (f"the pulse's edges alone move the weight by {abs(r.edge_dw):.2g} (of a range of about 2)")
            fix = f"lower {field_name} or shorten timing.rise and timing.fall"
        else:
            what = "the weight moves its whole step in under 1 ps"
            fix = f"lower {field_name}"
        return ConfigError(f"{field_name}: at {r.v:g} V the device switches too fast to be controlled by pulse "
                           f"width ({what}); {fix}, or leave it out and let the design step choose it")
    return ConfigError(f"{field_name}: a {r.v:g} V pulse meant to {way} the weight moves it the other way "
                       f"(dw/dt = {r.kappa:g} /s); the device's polarity does not match the synaptic unit: check the "
                       "device parameters' signs (e.g. k_on < 0 < k_off)")


def _nice(x: float, up: bool) -> float:
    """``x`` rounded to the 1-2-5 series (down, or up), in whole picoseconds."""
    if x <= T_SHORTEST:
        return T_SHORTEST
    e = math.floor(math.log10(x))
    cands = [m * 10.0 ** k for k in (e - 1, e, e + 1) for m in (1, 2, 5)]
    out = max(c for c in cands if c <= x * (1 + 1e-9)) if not up else min(c for c in cands if c >= x * (1 - 1e-9))
    return max(float(f"{round(out / TICK) * TICK:.9g}"), T_SHORTEST)


@dataclass
class Design:
    """The outcome of the design step (all SI)."""

    v_write: float
    v_pert: float
    clock: float
    t_max: float
    t_pert: float
    kappa: float  # weight-increasing rate at v_write (the PWM gain's kappa)
    kappa_down: float
    kappa_pert: float
    imbalance: float
    v_threshold: float | None
    evenness: float | None
    chosen: dict[str, str] = field(default_factory=dict)  # name -> "designed" | "scenario"
    typical_update_s: float = 0.0
    typical_periods: float = 0.0

    def record(self) -> dict[str, Any]:
        """The entry of events.jsonl and metrics.json."""
        return {"v_write_v": self.v_write, "v_pert_v": self.v_pert, "clock_s": self.clock, "t_max_s": self.t_max,
                "t_pert_s": self.t_pert, "kappa_up_per_s": self.kappa, "kappa_down_per_s": self.kappa_down,
                "kappa_pert_per_s": self.kappa_pert, "imbalance": self.imbalance,
                "v_threshold_v": self.v_threshold, "evenness": self.evenness, "typical_update_s": self.typical_update_s,
                "typical_update_periods": self.typical_periods, "source": dict(self.chosen),
                "rule": {"v_safe_v": V_SAFE, "margin": MARGIN, "imbalance_tol": IMBALANCE_TOL,
                         "t_typical_s": T_TYPICAL, "even_min": EVEN_MIN, "uniformity_min": UNIFORMITY_MIN, "periods_typical": PERIODS_TYPICAL, "t_max_steps": T_MAX_STEPS,
                         "reversion_max": REVERSION_MAX}}


def _scan(dev, syn, rise, fall, alpha=TARGET_DW):
    """Measurements (up, down, imbalance) on the voltage grid, refined where the imbalance changes sign."""
    n = int(round(math.log10(V_SAFE / V_LOWEST) * GRID_PER_DECADE)) + 1
    vs = list(np.geomspace(V_LOWEST, V_SAFE, n))
    pts = {}

    def at(v):
        if v not in pts:
            up, dn = measure(dev, syn, v, rise, fall, 1, alpha), measure(dev, syn, v, rise, fall, -1, alpha)
            pts[v] = (up, dn, imbalance(up, dn))
        return pts[v]

    for v in vs:
        at(v)
    ok = lambda p: p[0].status == "ok" and p[1].status == "ok"  # noqa: E731
    for v1, v2 in zip(vs[:-1], vs[1:]):
        p1, p2 = at(v1), at(v2)
        if ok(p1) and ok(p2) and p1[2] * p2[2] < 0:
            lo, hi = v1, v2
            for _ in range(20):  # bisect the sign change of the imbalance (to ~1e-5 in v)
                mid = math.sqrt(lo * hi)
                pm = at(mid)
                if not ok(pm):
                    break
                if pm[2] * at(lo)[2] <= 0:
                    hi = mid
                else:
                    lo = mid
    return dict(sorted(pts.items()))


def choose_voltage(dev, syn, rise: float, fall: float, alpha: float) -> tuple[float, float | None, float]:
    """The write voltage of the rule (module docstring), the switching threshold and the evenness."""
    pts = _scan(dev, syn, rise, fall, alpha)
    moving = [v for v, (u, d, _) in pts.items() if u.status in ("ok", "saturated") and d.status in ("ok", "saturated")]
    v_th = moving[0] if moving else None
    cands = [(v, p) for v, p in pts.items() if p[0].status == "ok" and p[1].status == "ok"
             and v_th is not None and v >= MARGIN * v_th * (1 - 1e-12)]
    if not cands:
        # all usable voltages sit within the margin of the threshold: take the usable ones
        cands = [(v, p) for v, p in pts.items() if p[0].status == "ok" and p[1].status == "ok"]
    if not cands:
        lowest = min(pts.items())[1]
        highest = max(pts.items())[1]
        if any(p[0].status == "wrong_way" or p[1].status == "wrong_way" for p in pts.values()):
            bad = next(p for p in pts.values() if "wrong_way" in (p[0].status, p[1].status))
            raise calibration_error(bad[0] if bad[0].status == "wrong_way" else bad[1])
        if lowest[0].status == "saturated" or lowest[1].status == "saturated":
            raise ConfigError(f"timing.v_write: the device switches too fast to be controlled by pulse width even at "
                              f"{V_LOWEST:g} V (the write pulse's edges alone move the weight by "
                              f"{abs(lowest[0].edge_dw):.2g}); shorten timing.rise and timing.fall or use a slower device")
        raise ConfigError(f"timing.v_write: no write voltage up to {V_SAFE:g} V moves the weight both ways at the mid "
                          f"weight (up: {highest[0].status}, down: {highest[1].status}); the device's switching "
                          "threshold is above the safe write voltage: lower its thresholds or choose another device")
    best = min(abs(p[2]) for _, p in cands)
    target = alpha / T_TYPICAL
    uni = {}
    for tol in IMBALANCE_TOLS:
        good = [(v, p) for v, p in cands if abs(p[2]) <= best + tol]
        # nearest to the target rate first; the first even enough one wins
        good.sort(key=lambda vp: abs(math.log(math.sqrt(vp[1][0].kappa * vp[1][1].kappa) / target)))
        for v, p in good:
            if v not in uni:
                uni[v] = evenness(dev, syn, v, rise, fall, p[0].kappa)[0]
            if uni[v] >= EVEN_MIN:
                return float(v), v_th, uni[v]
        if max(uni.values()) > 0:
            break  # else part of the weight range is still or saturated at every balanced voltage: widen
    v = max(uni, key=uni.get)  # no voltage keeps the range controllable: the most even one
    return float(v), v_th, uni[v]


def _rates_at(dev, syn, v: float, rise: float, fall: float, w0: float) -> tuple[float, float, float]:
    """``(reversion, kappa_up, kappa_down)`` at ``w0`` (a fraction of the range's end, as in
    :func:`measure`): reversion = (inward − outward)/(inward + outward) of the two weight rates."""
    k = {}
    for d in (1, -1):
        r = measure(dev, syn, v, rise, fall, d, w0=w0)
        k[d] = r.kappa if r.status == "ok" else 0.0
    inward, outward = (k[1], k[-1]) if w0 < 0 else (k[-1], k[1])
    return ((inward - outward) / (inward + outward) if inward + outward > 0 else 1.0), k[1], k[-1]


def evenness(dev, syn, v: float, rise: float, fall: float, kappa_mid: float) -> tuple[float, float, float]:
    """``(evenness, uniformity, reversion)`` of the write over the weight range, from the weight rates
    at the weights -0.5, 0 and +0.5 of the range (:data:`UNIFORMITY_AT`), both directions.

    uniformity: smallest over largest rate (1: the pulse moves every weight alike; near 0: part of
    the range barely moves).  reversion: at ±0.5, (inward − outward)/(inward + outward), averaged:
    how much faster a pulse pulls a weight back toward the middle than it pushes it out (a weight
    decay: WSP's updates are mostly noise, so any reversion shrinks the weights).  evenness =
    (1 − |reversion|)·min(1, uniformity/UNIFORMITY_MIN).  A ``reference`` unit is measured at the
    weights ±:data:`REF_PROBE_W` (:func:`_probes`)."""
    ks = [kappa_mid]
    rev = []
    for w0 in _probes(dev, syn):
        r, ku, kd = _rates_at(dev, syn, v, rise, fall, w0)
        ks += [ku, kd]
        rev.append(r)
    hi = max(ks)
    uni = max(min(ks), 0.0) / hi if hi > 0 else 0.0
    reversion = float(np.mean(rev))
    return (1.0 - min(abs(reversion), 1.0)) * min(1.0, uni / UNIFORMITY_MIN), uni, reversion


def reversion(dev, syn, v: float, rise: float, fall: float, span: float = 1.0) -> float:
    """The :func:`evenness` reversion measured at ``span`` times its probes (the weights ±0.5·span of
    the range): how strongly the write pulls the weights of a network that uses only that part of
    the range back toward 0."""
    return float(np.mean([_rates_at(dev, syn, v, rise, fall, span * w0)[0] for w0 in _probes(dev, syn)]))


@lru_cache(maxsize=256)
def choose_weight_span(dev, syn: SynapseParams, v: float, rise: float, fall: float) -> float:
    """The weight span of the rule (docs/devices.md, "Out of the box"): the largest of
    :data:`WEIGHT_SPANS` whose :func:`reversion` is at most :data:`REVERSION_MAX` (the smallest if
    none is).  One network weight is then ``span`` of the unit's weight: the trainer raises the
    neuron gain (``R_f``) by ``1/span`` and writes ``alpha·span²``, ``c·span`` and ``w_init·span`` in
    the unit's weight.  A device whose windows slow the motion toward both of its bounds (Yakopcic)
    pulls every weight of a pair back toward the middle, the more the farther out it is: a network
    that keeps to the middle of the range does not feel it."""
    for s in WEIGHT_SPANS:
        if abs(reversion(dev, syn, v, rise, fall, s)) <= REVERSION_MAX:
            return s
    return WEIGHT_SPANS[-1]


@lru_cache(maxsize=256)
def _design_cached(dev, syn, rise, fall, alpha, c, written, v_write, v_pert, clock, t_max, t_pert, alpha_end=None):
    chosen = {}
    v_th = None
    uni = None
    if v_write is None:
        v_write, v_th, uni = choose_voltage(dev, syn, rise, fall, alpha)
        chosen["v_write"] = "designed"
    else:
        chosen["v_write"] = "scenario"
    up = measure(dev, syn, v_write, rise, fall, 1, alpha)
    if up.status != "ok":
        raise calibration_error(up)
    dn = measure(dev, syn, v_write, rise, fall, -1, alpha)
    if dn.status != "ok":
        raise calibration_error(dn)
    if v_pert is None:
        v_pert, kp = v_write, up.kappa
        chosen["v_pert"] = "v_write"
    else:
        chosen["v_pert"] = "scenario"
        rp = measure(dev, syn, v_pert, rise, fall, 1)
        if rp.status != "ok":
            raise calibration_error(rp, "timing.v_pert")
        kp = rp.kappa
    fast, slow = max(up.kappa, dn.kappa), min(up.kappa, dn.kappa)
    typ_fast = alpha / fast
    if clock is None:
        clock = _nice(typ_fast / PERIODS_TYPICAL, up=False)
        if alpha_end is not None and alpha_end < alpha:  # the last epoch's updates still span PERIODS_END
            clock = min(clock, _nice(alpha_end / fast / PERIODS_END, up=False))
        chosen["clock"] = "designed"
    else:
        chosen["clock"] = "scenario"
    clk = clock if clock else TICK  # clock = 0: no clock (one tick)
    if t_pert is None:
        t_pert_v = c / kp
        chosen["t_pert"] = "designed"
    else:
        t_pert_v = t_pert
        chosen["t_pert"] = "scenario"
    if t_max is None:
        need = T_MAX_STEPS * alpha / slow
        if written:
            need = max(need, 2 * t_pert_v)
        t_max = max(_nice(need, up=True), 10 * clk)
        t_max = float(f"{math.ceil(round(t_max / TICK) / round(clk / TICK)) * round(clk / TICK) * TICK:.9g}")
        chosen["t_max"] = "designed"
    else:
        chosen["t_max"] = "scenario"
    return Design(v_write=float(v_write), v_pert=float(v_pert), clock=float(clock), t_max=float(t_max),
                  t_pert=float(t_pert_v), kappa=up.kappa, kappa_down=dn.kappa, kappa_pert=kp,
                  imbalance=imbalance(up, dn), v_threshold=v_th, evenness=uni, chosen=chosen, typical_update_s=alpha / up.kappa,
                  typical_periods=alpha / up.kappa / clk)


def design_chip(dev, syn: SynapseParams, timing, training, rise: float, fall: float) -> Design:
    """The design of a chip for a scenario's ``timing`` and ``training`` sections (values the
    scenario sets, ``timing.model_fields_set``, are kept)."""
    fixed = timing.model_fields_set

    def given(name):
        return getattr(timing, name) if name in fixed and getattr(timing, name) is not None else None

    d = _design_cached(dev, syn, float(rise), float(fall), float(training.alpha), float(training.c),
                       training.perturbation == "written", given("v_write"), given("v_pert"), given("clock"),
                       given("t_max"), given("t_pert"),
                       float(training.alpha * training.lr_decay ** (training.epochs - 1)))
    return replace(d, chosen=dict(d.chosen))
