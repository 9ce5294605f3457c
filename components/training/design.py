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
#: Voltages whose |imbalance| is within this of the best are equally good.
IMBALANCE_TOL = 0.1
#: A typical update (weight change ``alpha``) lasts this long when the device allows it (s).
T_TYPICAL = 100e-9
#: Clock periods in a typical update.
PERIODS_TYPICAL = 100
#: ``t_max`` covers this many typical updates.
T_MAX_STEPS = 30
#: Weight change the calibration pulses aim at (normalised weight).
TARGET_DW = 0.01
#: Edges alone moving the weight by more than this make the voltage unusable.
EDGE_LIMIT = 0.5
T_SHORTEST = 1e-12
T_LONGEST = 1.0


@dataclass(frozen=True)
class Rate:
    """One calibration measurement: a pulse of amplitude ``v`` in one weight direction."""

    v: float
    direction: int  # +1 weight-increasing, -1 weight-decreasing
    kappa: float  # weight rate along ``direction`` (1/s; <= 0: does not move that way)
    status: str  # "ok", "still" (no motion up to 1 s), "saturated", "wrong_way"
    du_dt: tuple = ()  # per-device normalised state rate (1/s)
    edge_dw: float = 0.0  # weight change of the edges alone


def _unit(dev, syn: SynapseParams) -> CrossbarLayer:
    return CrossbarLayer("cal", 1, 1, dev, syn.with_values(init="mid", init_spread=0.0)).build_detached(seed=0)


def _pulse(dev, syn, v, T, rise, fall, pol):
    xb = _unit(dev, syn)
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
            target_dw: float = TARGET_DW) -> Rate:
    """The weight rate of one unit at the mid weight under a pulse of amplitude ``v`` (V)."""
    pol = WEIGHT_INCREASING_POLARITY * direction
    e, _ = _pulse(dev, syn, v, 0.0, rise, fall, pol)
    if abs(e) > EDGE_LIMIT:
        return Rate(v, direction, 0.0, "saturated", edge_dw=e)

    def flat(T):
        a, ua = _pulse(dev, syn, v, T, rise, fall, pol)
        b, ub = _pulse(dev, syn, v, 2 * T, rise, fall, pol)
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
    return Rate(v, direction, kappa, "ok", tuple(du), e)


def imbalance(up: Rate, down: Rate) -> float:
    """Signed net state drift of an increasing plus a decreasing pulse over their total motion
    (0: balanced; +1/-1: only motion toward OFF / toward ON)."""
    du = np.concatenate([np.asarray(up.du_dt, float), np.asarray(down.du_dt, float)])
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
    return max(round(out / TICK) * TICK, T_SHORTEST)


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
    chosen: dict[str, str] = field(default_factory=dict)  # name -> "designed" | "scenario"
    typical_update_s: float = 0.0
    typical_periods: float = 0.0

    def record(self) -> dict[str, Any]:
        """The entry of events.jsonl and metrics.json."""
        return {"v_write_v": self.v_write, "v_pert_v": self.v_pert, "clock_s": self.clock, "t_max_s": self.t_max,
                "t_pert_s": self.t_pert, "kappa_up_per_s": self.kappa, "kappa_down_per_s": self.kappa_down,
                "kappa_pert_per_s": self.kappa_pert, "imbalance": self.imbalance,
                "v_threshold_v": self.v_threshold, "typical_update_s": self.typical_update_s,
                "typical_update_periods": self.typical_periods, "source": dict(self.chosen),
                "rule": {"v_safe_v": V_SAFE, "margin": MARGIN, "imbalance_tol": IMBALANCE_TOL,
                         "t_typical_s": T_TYPICAL, "periods_typical": PERIODS_TYPICAL, "t_max_steps": T_MAX_STEPS}}


def _scan(dev, syn, rise, fall):
    """Measurements (up, down, imbalance) on the voltage grid, refined where the imbalance changes sign."""
    n = int(round(math.log10(V_SAFE / V_LOWEST) * GRID_PER_DECADE)) + 1
    vs = list(np.geomspace(V_LOWEST, V_SAFE, n))
    pts = {}

    def at(v):
        if v not in pts:
            up, dn = measure(dev, syn, v, rise, fall, 1), measure(dev, syn, v, rise, fall, -1)
            pts[v] = (up, dn, imbalance(up, dn))
        return pts[v]

    for v in vs:
        at(v)
    ok = lambda p: p[0].status == "ok" and p[1].status == "ok"  # noqa: E731
    for v1, v2 in zip(vs[:-1], vs[1:]):
        p1, p2 = at(v1), at(v2)
        if ok(p1) and ok(p2) and p1[2] * p2[2] < 0:
            lo, hi = v1, v2
            for _ in range(8):  # bisect the sign change of the imbalance
                mid = math.sqrt(lo * hi)
                pm = at(mid)
                if not ok(pm):
                    break
                if pm[2] * at(lo)[2] <= 0:
                    hi = mid
                else:
                    lo = mid
    return dict(sorted(pts.items()))


def choose_voltage(dev, syn, rise: float, fall: float, alpha: float) -> tuple[float, float | None]:
    """The write voltage of the rule (module docstring) and the switching threshold."""
    pts = _scan(dev, syn, rise, fall)
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
    good = [(v, p) for v, p in cands if abs(p[2]) <= best + IMBALANCE_TOL]
    target = alpha / T_TYPICAL
    v, _ = min(good, key=lambda vp: abs(math.log(math.sqrt(vp[1][0].kappa * vp[1][1].kappa) / target)))
    return float(v), v_th


@lru_cache(maxsize=256)
def _design_cached(dev, syn, rise, fall, alpha, c, written, v_write, v_pert, clock, t_max, t_pert):
    chosen = {}
    v_th = None
    if v_write is None:
        v_write, v_th = choose_voltage(dev, syn, rise, fall, alpha)
        chosen["v_write"] = "designed"
    else:
        chosen["v_write"] = "scenario"
    up = measure(dev, syn, v_write, rise, fall, 1)
    if up.status != "ok":
        raise calibration_error(up)
    dn = measure(dev, syn, v_write, rise, fall, -1)
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
    clk = clock if clock else TICK  # clock = 0: no clock (one tick)
    typ_fast = alpha / fast
    if clock is None:
        clock = _nice(typ_fast / PERIODS_TYPICAL, up=False)
        chosen["clock"] = "designed"
    else:
        chosen["clock"] = "scenario"
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
        t_max = math.ceil(round(t_max / TICK) / round(clk / TICK)) * round(clk / TICK) * TICK
        chosen["t_max"] = "designed"
    else:
        chosen["t_max"] = "scenario"
    return Design(v_write=float(v_write), v_pert=float(v_pert), clock=float(clock), t_max=float(t_max),
                  t_pert=float(t_pert_v), kappa=up.kappa, kappa_down=dn.kappa, kappa_pert=kp,
                  imbalance=imbalance(up, dn), v_threshold=v_th, chosen=chosen, typical_update_s=alpha / up.kappa,
                  typical_periods=alpha / up.kappa / clk)


def design_chip(dev, syn: SynapseParams, timing, training, rise: float, fall: float) -> Design:
    """The design of a chip for a scenario's ``timing`` and ``training`` sections (values the
    scenario sets, ``timing.model_fields_set``, are kept)."""
    fixed = timing.model_fields_set

    def given(name):
        return getattr(timing, name) if name in fixed and getattr(timing, name) is not None else None

    d = _design_cached(dev, syn, float(rise), float(fall), float(training.alpha), float(training.c),
                       training.perturbation == "written", given("v_write"), given("v_pert"), given("clock"),
                       given("t_max"), given("t_pert"))
    return replace(d, chosen=dict(d.chosen))
