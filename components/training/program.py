"""Program-and-verify: write a chip's initial weights with write pulses and read-back, as a real chip is.

``[program] method = "verify"`` (see :class:`~components.training.config.ProgramConfig`) builds the
chip unprogrammed (every synapse at weight 0, its devices at mid-range resistances) and then,
round by round:

1. **verify**: every crossbar row is read (``t_verify`` each, at the synapses' ``v_read``, through
   the crossbar's own read path, so read energy and read disturb are real; the weights are
   computed from the conductances with the devices' read noise);
2. every weight within ``tol`` of its target is done; a weight that has had ``max_pulses`` pulses
   and is still outside is given up (reported in ``failed_weights``);
3. every other weight gets one write pulse toward its target through the crossbars' write path
   (:meth:`~components.synapses.CrossbarLayer.write_pieces`: trapezoid of ``timing.rise``, flat
   top, ``timing.fall``; device physics, cycle-to-cycle noise, endurance).  The chip has one global
   write pulse with a polarity per synapse, so weights that need the same pulse share it: one
   global pulse per distinct width (or amplitude), each followed by ``timing.gap``.
   *Width stepping*: amplitude ``timing.v_write``; a weight's width (whole PWM clock periods,
   at most ``timing.t_max``) grows by ``grow`` while its error keeps its sign and halves when it
   overshoots.  *Amplitude stepping*: width ``width``; the amplitude rises by ``v_step`` up to
   ``v_max`` while the error keeps its sign and restarts at ``v_start`` when it overshoots.

Time: the rounds run one after the other; a round takes the global pulses (rise + width + fall +
gap each) plus the verify read (crossbars in parallel, rows one after the other: the largest
row count times ``t_verify``).  Energy: what the crossbars draw during the write pulses and the
verify reads.  Programming happens before the training's t = 0: its time and energy are reported
under ``program`` (metrics.json; ``program_round`` and ``program`` entries in events.jsonl) and are
not part of the training's ``sim_time_s`` and ``energy_j``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mssim.errors import ConfigError
from mssim.units import TICK, to_ticks

from ..synapses import WEIGHT_INCREASING_POLARITY
from ..synapses import topologies as T

DEFAULTS = {"tol": 0.02, "max_pulses": 100, "stepping": "width", "grow": 1.5, "t_verify": 1e-6}
#: At most this many failed weight indices are listed in the report (the count is always complete).
MAX_LISTED = 100


def settings(cfg, timing, kappa: float) -> dict[str, Any]:
    """The verify settings with the defaults filled in (``kappa``: calibrated |dw/dt| at ``v_write``, 1/s)."""
    s = {k: getattr(cfg, k) if getattr(cfg, k) is not None else v for k, v in DEFAULTS.items()}
    clock = timing.clock if timing.clock > 0 else TICK
    s["width"] = cfg.width if cfg.width is not None else max(clock, s["tol"] / kappa)
    vw = timing.v_write
    s["v_start"] = cfg.v_start if cfg.v_start is not None else 0.5 * vw
    s["v_step"] = cfg.v_step if cfg.v_step is not None else vw / 20.0
    s["v_max"] = cfg.v_max if cfg.v_max is not None else 1.5 * vw
    if s["v_start"] > s["v_max"]:
        raise ConfigError(f"program.v_start: {s['v_start']:g} V exceeds v_max = {s['v_max']:g} V; lower v_start or "
                          "raise v_max")
    if s["stepping"] == "width":
        for k in ("v_start", "v_step", "v_max"):
            s.pop(k)
    else:
        s.pop("grow")
    s["clock"] = clock
    return s


def _verify_read(xbars, v_read: float, t_verify: float, read_noise: bool) -> tuple[list[np.ndarray], float]:
    """Read every row of every crossbar for ``t_verify``; returns the weights per layer and the energy (J)."""
    e = 0.0
    out = []
    for xb in xbars:
        for i in range(xb.n_in):
            v = np.zeros(xb.n_in)
            v[i] = v_read
            e += xb.apply_read(v, v, t_verify)
        arr = xb.device_array
        g = arr.conductance(read_noise=read_noise).reshape(xb.topology.n_dev, xb.n_in, xb.n_out)
        out.append(T.weights(xb.synapse_params.unit, g, 1.0 / xb.r_hi, 1.0 / xb.r_lo, xb.g_ref))
    return out, e


def program_verify(run, w_target: np.ndarray) -> dict[str, Any]:
    """Write the flat weights ``w_target`` onto ``run.chip`` (built unprogrammed) by program-and-verify.

    Returns the report that goes to metrics.json under ``program`` (also logged as a ``program``
    event; every round logs a ``program_round`` event).
    """
    scn = run.scn
    chip = run.chip
    xbars = chip.crossbars
    t = scn.timing
    s = settings(scn.program, t, run.calibration["kappa_per_s"])
    targets = chip.split(np.asarray(w_target, dtype=float))
    for l, (xb, W) in enumerate(zip(xbars, targets)):
        if W.min() < xb.w_min - 1e-12 or W.max() > xb.w_max + 1e-12:
            raise ConfigError(f"synapse.w_init: layer {l} needs weights in [{W.min():.4g}, {W.max():.4g}] but its "
                              f"units reach only [{xb.w_min:.4g}, {xb.w_max:.4g}]; lower synapse.w_init")
    target = np.concatenate([W.ravel() for W in targets])
    sizes = [W.size for W in targets]
    bounds = np.cumsum([0] + sizes)
    n = target.size
    pulse = chip.spec.pulse_params
    rise, fall, gap = float(pulse.rise), float(pulse.fall), float(t.gap)
    clock = s["clock"]
    tmax_ticks = max(1, to_ticks(t.t_max) // to_ticks(clock))
    v_read = chip.spec.synapse_params.v_read
    read_noise = chip.spec.device_params.g_read_noise > 0
    rows_max = max(xb.n_in for xb in xbars)
    e_before = [(xb.energy_j.read, xb.energy_j.write) for xb in xbars]

    width_ticks = np.full(n, min(tmax_ticks, max(1, int(round(s["width"] / clock)))), dtype=np.int64)
    amp = np.full(n, s.get("v_start", t.v_write))
    last = np.zeros(n)          # sign of the error at the last pulse (0 = not pulsed yet)
    count = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    verify_s = write_s = 0.0
    e_write = e_read = 0.0
    global_pulses = rounds = 0
    by_width = s["stepping"] == "width"
    while True:
        W, e = _verify_read(xbars, v_read, s["t_verify"], read_noise)
        rounds += 1
        e_read += e
        verify_s += rows_max * s["t_verify"]
        err = target - np.concatenate([w.ravel() for w in W])
        done |= np.abs(err) <= s["tol"]
        active = ~done & (count < s["max_pulses"])
        if not active.any():
            break
        sign = np.sign(err)
        moved = active & (count > 0)
        over = moved & (sign != last)
        same = moved & (sign == last)
        if by_width:
            width_ticks[over] = np.maximum(1, width_ticks[over] // 2)
            grown = np.round(width_ticks[same] * s["grow"]).astype(np.int64)
            width_ticks[same] = np.minimum(tmax_ticks, np.maximum(width_ticks[same] + 1, grown))
            keys = width_ticks
        else:
            amp[over] = s["v_start"]
            amp[same] = np.minimum(s["v_max"], amp[same] + s["v_step"])
            keys = amp
        last[active] = sign[active]
        count[active] += 1
        pol_all = np.where(sign > 0, WEIGHT_INCREASING_POLARITY, -WEIGHT_INCREASING_POLARITY).astype(float)
        r_pulses = 0
        r_energy = 0.0
        r_time = 0.0
        for key in np.unique(keys[active]):
            sel = active & (keys == key)
            if by_width:
                v, width = t.v_write, int(key) * clock
            else:
                v, width = float(key), min(t.t_max, max(clock, round(s["width"] / clock) * clock))
            pieces = [(0.0, v, rise), (v, v, width), (v, 0.0, fall)]
            pol = np.where(sel, pol_all, 0.0)
            for l, xb in enumerate(xbars):
                r_energy += xb.write_pieces(pieces, pol[bounds[l]:bounds[l + 1]].reshape(xb.n_in, xb.n_out))
            r_pulses += int(sel.sum())
            r_time += rise + width + fall + gap
            global_pulses += 1
        e_write += r_energy
        write_s += r_time
        run.sim.log("program_round", round=rounds, active=int(active.sum()), pulses=r_pulses,
                    time_s=r_time + rows_max * s["t_verify"], energy_j=r_energy + e)
    time_s = write_s + verify_s
    # the training's energy counters start after programming (the programming energy is reported here)
    for xb, (er, ew) in zip(xbars, e_before):
        xb.energy_read_j, xb.energy_write_j = er, ew
    final = chip.weights_flat()
    ferr = np.abs(target - final)
    failed = np.flatnonzero(ferr > s["tol"])
    report = {
        "method": "verify", **{k: v for k, v in s.items() if k != "clock"},
        "weights": int(n), "within_tol": int(n - failed.size), "failed": int(failed.size),
        "failed_weights": [int(i) for i in failed[:MAX_LISTED]],
        "pulses": int(count.sum()), "pulses_max_per_weight": int(count.max()) if n else 0,
        "write_pulses": int(global_pulses), "verify_reads": int(rounds),
        "time_s": time_s, "write_time_s": write_s, "verify_time_s": verify_s,
        "energy_j": e_write + e_read, "energy_write_j": e_write, "energy_read_j": e_read,
        "max_error": float(ferr.max()) if n else 0.0, "rms_error": float(math.sqrt(np.mean(ferr ** 2))) if n else 0.0,
    }
    run.sim.log("program", **report)
    return report
