"""mssim's own numbers for one training step: the single place that reads them out of a run.

:func:`mssim_step_trace` trains the chip a scenario describes up to training
pattern ``K`` (patterns counted from the start of the run, over epochs), reads
that one step from the chip's analog engine (the one integrator training uses)
and returns a :class:`StepTrace`: the states at the start of the step (initial
conditions for ngspice), the stimulus (row voltages, targets, the electrical
perturbation schedule, every write pulse with its polarities) and the values
mssim computed (J0, J1, neuron outputs at both sampling instants, the update
decision and width, device resistances at the end of the step).

Everything else in :mod:`components.spicechip` takes the chip's *parameters*
from the built objects and its *numbers* from the trace, so when the training
path's internals change, only this module has to follow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mssim.errors import ConfigError
from mssim.units import TICK

from ..synapses import WEIGHT_INCREASING_POLARITY


@dataclass
class PulseRecord:
    """One global write pulse of the step.

    ``times`` (s, from the step start) and ``volts`` are the corners of the
    writer's output waveform for this pulse (0 V at both ends); ``polarity`` is
    the latched polarity of every unit per layer, shape ``(n_in, n_out)``,
    values +1/-1/0 (the crossbars' write-polarity convention).
    """

    kind: str  # "pert" | "update"
    t_on: float  # s from the step start: the pulse starts (write path connected)
    t_off: float  # s: the fall has ended (read path back)
    times: np.ndarray
    volts: np.ndarray
    polarity: list[np.ndarray]


@dataclass
class StepTrace:
    """What mssim did and computed in one training step (times in seconds from the step start).

    Initial conditions (at the step start, i.e. when pattern K is applied):
    ``u0[l]`` device states (normalised u, shape ``(k_dev, n_in, n_out)``),
    ``y0[l]`` op-amp outputs before the activation (V), ``j_state0`` the error
    circuit's output (V), ``sh_state0`` the sample-and-hold's internal value
    (V, output offset excluded).

    Stimulus: ``x_rows`` (V, first crossbar's rows, bias line last),
    ``target`` (V), ``inject`` (electrical perturbation: list of
    ``(t, delta)`` with ``delta`` a list of per-layer ``(n_in, n_out)`` arrays
    in weight units, or None = removed), ``pulses`` (:class:`PulseRecord`),
    ``t_j0`` and ``t_j1`` (sampling instants), ``t_end`` (the next pattern's
    start or the end of the run), ``j_offset`` (V added to J1 before the
    comparator: the written perturbation's ``c^2/alpha``).

    Results: ``j0`` (held J, V), ``j1`` (live J, V), ``o_j0[l]`` / ``o_j1[l]``
    (activated neuron outputs, V), ``direction`` (+1: the update moved every
    weight along the perturbation signs s, −1: against them, 0: no update),
    ``update_width_s`` (flat top of the update pulse, 0 if none), ``r_end[l]``
    (device resistances at ``t_end``, ohm, shape ``(k_dev, n_in, n_out)``).
    ``wall_s``: mssim's wall time for this step (from the start of pattern K
    to the start of pattern K + 1, on the path the trace used).

    Faults in force at the step start: ``stuck0[l]`` / ``open0[l]`` (bool,
    ``(k_dev, n_in, n_out)``: frozen and non-conducting devices), ``offsets0[l]``
    (op-amp input offsets, V, drawn spread plus offset faults), ``stuck_y0[l]``
    (stuck op-amp outputs, V, NaN = healthy).
    """

    pattern: int
    epoch: int
    t_abs: float
    t_j0: float
    t_j1: float
    t_end: float
    x_rows: np.ndarray
    target: np.ndarray
    u0: list[np.ndarray]
    y0: list[np.ndarray]
    j_state0: float
    sh_state0: float
    inject: list[tuple[float, list[np.ndarray] | None]]
    pulses: list[PulseRecord]
    j0: float
    j1: float
    j_offset: float
    o_j0: list[np.ndarray]
    o_j1: list[np.ndarray]
    direction: float
    update_width_s: float
    r_end: list[np.ndarray]
    wall_s: float = 0.0
    stuck0: list[np.ndarray] = field(default_factory=list)
    open0: list[np.ndarray] = field(default_factory=list)
    offsets0: list[np.ndarray] = field(default_factory=list)
    stuck_y0: list[np.ndarray] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def _prepare(scn, K: int, n_train: int):
    """A scenario that runs just far enough to reach pattern K + 1 (no early stop)."""
    epochs = K // n_train + 1
    tr = scn.training.model_copy(update={"epochs": epochs, "stop_at_accuracy": None, "baselines": []})
    return scn.model_copy(update={"training": tr})


def load_weights(chip, path) -> None:
    """Program ``chip`` from a results folder's ``weights.npz`` (device conductances if present,
    else the normalised weights).  Errors name the option and the fix."""
    try:
        data = np.load(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--weights: cannot read {path!r} ({exc}); give a weights.npz written by 'mssim run'") from None
    L = len(chip.crossbars)
    for l, xb in enumerate(chip.crossbars):
        k = len(xb.resistances())
        keys = [f"layer{l}_G{s + 1}" for s in range(k)]
        if all(key in data for key in keys):
            g = [np.asarray(data[key], float) for key in keys]
            if any(a.shape != (xb.n_in, xb.n_out) for a in g):
                raise ConfigError(f"--weights: {path}: layer {l} has shape {g[0].shape}, the chip needs "
                                  f"({xb.n_in}, {xb.n_out}); use weights of the same scenario")
            r = np.concatenate([1.0 / np.maximum(a, 1e-300) for a in g], axis=None)
            xb.device_array.set_resistance(r)
        elif f"layer{l}" in data:
            w = np.asarray(data[f"layer{l}"], float)
            if w.shape != (xb.n_in, xb.n_out):
                raise ConfigError(f"--weights: {path}: layer {l} has shape {w.shape}, the chip needs "
                                  f"({xb.n_in}, {xb.n_out}); use weights of the same scenario")
            xb.set_weights(w, clip=True)
        else:
            raise ConfigError(f"--weights: {path} has no 'layer{l}' array; give a weights.npz written by 'mssim run' "
                              f"({L} layers)")
        xb.device_array.touch()


def mssim_step_trace(scn, K: int = 0, *, weights=None) -> tuple[StepTrace, object]:
    """Train the scenario's chip up to pattern ``K`` and record what mssim does in step K.

    Parameters
    ----------
    scn : Scenario
        A validated scenario (``components.training.config.load``).  Its epoch
        count is replaced by the smallest that reaches pattern K, early stopping
        and baselines are switched off; everything else is as the scenario says.
    K : int
        Training pattern index counted from the start of the run (0 = the first).
    weights : path or None
        A ``weights.npz`` to program into the chip before training starts.

    The values come from the chip's analog engine (components/engine.py), the one integrator
    training uses; reading them is an observer (the engine is advanced to instants at which
    the controller acts anyway), and the controller posts its port values for pattern K only.

    Returns
    -------
    (StepTrace, TrainingRun)
        The trace and the run (its ``chip`` holds the parameters the netlist uses).
    """
    from ..learning.datasets import task_from_config
    from ..training.trainer import TrainingRun

    if K < 0:
        raise ConfigError(f"--pattern: must be a non-negative training pattern index (got {K})")
    d = scn.data
    task = task_from_config(d, scn.seed)
    n_train = task.x_train.shape[0]
    scn = _prepare(scn, K, n_train)
    if scn.training.algorithm != "wsp":
        raise ConfigError("training.algorithm: the SPICE export covers the 'wsp' step (apply, J0, perturb, J1, "
                          f"update), not {scn.training.algorithm!r}; use --set training.algorithm=wsp")
    run = TrainingRun(scn, task=task)
    if weights is not None:
        load_weights(run.chip, weights)
    sim, chip, ctl = run.sim, run.chip, run.controller
    sim.muted_kinds.discard("sample_hold")
    sim.muted_kinds.discard("pulse")
    cap: dict = {"inject": [], "pulses": [], "phase": {}}
    rec = {"on": False}

    def now_s() -> float:
        return sim.now * TICK

    eng = run.engine

    def device_u() -> list[np.ndarray]:
        eng.advance_to(sim.now)  # read disturb and any pulse so far reach the devices (observer)
        eng.flush_writes()
        out = []
        for xb in chip.crossbars:
            k = len(xb.resistances())
            out.append(xb.device_array.u.copy().reshape(k, xb.n_in, xb.n_out))
        return out

    def resistances() -> list[np.ndarray]:
        eng.advance_to(sim.now)
        eng.flush_writes()
        return [np.stack(xb.resistances()) for xb in chip.crossbars]

    def y_now() -> list[np.ndarray]:
        """Op-amp outputs before the activation, per layer, now."""
        eng.advance_to(sim.now)
        return [eng.y[eng.y_off[l] : eng.y_off[l] + nl.n].copy() for l, nl in enumerate(chip.neurons)]

    def j_now() -> float:
        """J at the error circuit's output now (noise-free: noise is not exported)."""
        eng.advance_to(sim.now)
        return float(eng.state[0])

    def sh_state_now() -> float:
        """The S&H's internal value (output offset excluded)."""
        eng.advance_to(sim.now)
        return float(eng.state[1])

    def held_now() -> float:
        """The held J0 (offset and pedestal included), right after the controller held it."""
        return eng.held() if eng.holding else float("nan")

    orig_pattern = ctl.on_pattern

    def on_pattern(k: int) -> None:
        if k == K + 1:
            cap["t_end"] = sim.now
            cap["r_end"] = resistances()
            cap["wall_end"] = time.perf_counter()
            rec["on"] = False
            ctl.recording = False
        orig_pattern(k)
        if k == K:
            rec["on"] = True
            ctl.recording = True  # the controller posts its port values (phase, x, target, polarities)
            cap["t0"] = sim.now
            cap["epoch"] = ctl.epoch
            cap["wall0"] = time.perf_counter()
            cap["u0"] = device_u()
            masks = [(xb.device_array.stuck_mask.reshape(-1, xb.n_in, xb.n_out).copy(),
                      xb.device_array.open_mask.reshape(-1, xb.n_in, xb.n_out).copy()) for xb in chip.crossbars]
            cap["stuck0"], cap["open0"] = [m[0] for m in masks], [m[1] for m in masks]
            cap["offsets0"] = [np.array(nl.offset, dtype=float) for nl in chip.neurons]
            cap["stuck_y0"] = [np.array(nl.stuck_y, dtype=float) for nl in chip.neurons]
            cap["y0"] = y_now()
            cap["j_state0"] = j_now()
            cap["sh_state0"] = sh_state_now()

    ctl.on_pattern = on_pattern

    orig_inject = ctl.inject

    def inject(delta_flat):
        if rec["on"]:
            cap["inject"].append((sim.now, None if delta_flat is None else [a.copy() for a in chip.split(delta_flat)]))
        return orig_inject(delta_flat)

    ctl.inject = inject

    def pulse_filter(kind, width, amplitude):
        if rec["on"]:
            pol = []
            for l, xb in enumerate(chip.crossbars):
                p = np.asarray(sim.net(f"controller.pol{l}").value(), float).reshape(xb.n_in, xb.n_out)
                pol.append(np.where(p > 0.5, 1.0, np.where(p < -0.5, -1.0, 0.0)))
            cap["pulses"].append({"kind": kind, "t": sim.now, "width": int(width), "amplitude": float(amplitude),
                                  "pol": pol})
        return width, amplitude

    ctl.pulse_filters.append(pulse_filter)

    def on_phase(net) -> None:
        if not rec["on"]:
            return
        code = int(round(float(net.value()[0])))
        if code == ctl.PHASES["sample_j0"]:
            cap["t_j0"] = sim.now
            cap["o_j0"] = [nl.params.activate(y) for nl, y in zip(chip.neurons, y_now())]
            cap["x_rows"] = np.array(sim.net("controller.x").value(), dtype=float)
            cap["target"] = np.array(sim.net("controller.target").value(), dtype=float)
        elif code == ctl.PHASES["perturb"] and "j0" not in cap:
            cap["j0"] = held_now()
        elif code == ctl.PHASES["sample_j1"]:
            cap["t_j1"] = sim.now
            cap["o_j1"] = [nl.params.activate(y) for nl, y in zip(chip.neurons, y_now())]
            cap["j1"] = j_now()

    sim.net("controller.phase").on_after_change(on_phase)

    n_events0 = len(sim.events)
    run.run()
    if "t0" not in cap:
        raise ConfigError(f"--pattern: the run never reached training pattern {K}")
    if "t_end" not in cap:  # K was the last pattern of the run
        cap["t_end"] = sim.now
        cap["r_end"] = resistances()
        cap["wall_end"] = time.perf_counter()
    if "t_j1" not in cap or "t_j0" not in cap:
        raise ConfigError(f"--pattern: step {K} has no J0/J1 sampling instants; the export covers the 'wsp' step")
    t0 = cap["t0"]
    rel = lambda t: (t - t0) * TICK  # noqa: E731
    j0 = float(cap["j0"])
    # write pulses: the trapezoid the writer logged (start, rise, flat top, fall), with the
    # polarities latched when it started; zero-time edges are drawn as 1 ps ramps
    logged = [e for e in sim.events[n_events0:] if e.get("kind") == "pulse" and t0 <= int(e["t"]) < cap["t_end"]]
    if len(logged) != len(cap["pulses"]):
        raise ConfigError(f"--pattern: pattern {K}: {len(cap['pulses'])} pulses requested, {len(logged)} played")
    pulses = []
    for p, e in zip(cap["pulses"], logged):
        ts = (int(e["t"]) - t0) * TICK
        rise = max(int(e["rise_ticks"]), 1) * TICK
        fall = max(int(e["fall_ticks"]), 1) * TICK
        flat = int(e["width_ticks"]) * TICK
        amp = np.asarray(e["amplitude"], float).ravel()
        if amp.size != 1:
            raise ConfigError("circuit.pulse: the SPICE export needs one write-pulse line")
        times = np.array([ts, ts + rise, ts + rise + flat, ts + rise + flat + fall])
        volts = np.array([0.0, amp[0], amp[0], 0.0])
        if flat <= 0:
            times, volts = times[[0, 1, 3]], volts[[0, 1, 3]]
        pulses.append(PulseRecord(p["kind"], ts, float(times[-1]), times, volts, p["pol"]))
    upd = [p for p in cap["pulses"] if p["kind"] == "update"]
    cfg = ctl.cfg
    epoch = cap["epoch"]
    alpha = cfg.alpha * cfg.lr_decay ** epoch
    c = cfg.c * cfg.c_decay ** epoch
    j_offset = (c * c / alpha) * cfg.j_scale if cfg.perturbation == "written" and cfg.rule != "sign" else 0.0
    # the update's direction along the perturbation signs s: the update polarities against the
    # polarities that would increase every weight along s (the written perturbation pulse, or
    # the signs of the injected perturbation)
    direction = 0.0
    if upd:
        pol_u = np.concatenate([a.ravel() for a in upd[0]["pol"]])
        pert = [p for p in cap["pulses"] if p["kind"] == "pert"]
        inj = [d for _, d in cap["inject"] if d is not None]
        if pert:
            ref = np.concatenate([a.ravel() for a in pert[0]["pol"]])
        elif inj:
            ref = np.sign(np.concatenate([a.ravel() for a in inj[-1]])) * WEIGHT_INCREASING_POLARITY
        else:
            ref = None
        if ref is not None:
            direction = float(np.sign(np.sum(pol_u * ref)))
    trace = StepTrace(
        pattern=K, epoch=epoch, t_abs=t0 * TICK, t_j0=rel(cap["t_j0"]), t_j1=rel(cap["t_j1"]), t_end=rel(cap["t_end"]),
        x_rows=cap["x_rows"], target=cap["target"], u0=cap["u0"], y0=cap["y0"], j_state0=float(cap["j_state0"]),
        sh_state0=float(cap["sh_state0"]),
        inject=[(rel(t), d) for t, d in cap["inject"]], pulses=pulses, j0=j0, j1=float(cap["j1"]), j_offset=j_offset,
        o_j0=cap["o_j0"], o_j1=cap["o_j1"], direction=direction,
        update_width_s=upd[0]["width"] * TICK if upd else 0.0, r_end=cap["r_end"],
        wall_s=cap["wall_end"] - cap["wall0"], stuck0=cap["stuck0"], open0=cap["open0"], offsets0=cap["offsets0"],
        stuck_y0=cap["stuck_y0"])
    return trace, run

