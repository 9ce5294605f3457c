"""Fault injection: device, op-amp and pulse faults as events of a training run.

A scenario's ``[[faults.events]]`` tables (validated by
:class:`components.training.config.FaultConfig`) become one
:class:`FaultInjector` per run.  It hooks into the run through three doors
only: SimPy timeouts and processes on the chip's environment, the controller's
``epoch_start_hooks`` and its ``pulse_filters``.  Every injection is written to
the run's event log (``events.jsonl``) as ``kind = "fault"`` with the
simulated time, the fault kind and its location (layer and device or neuron
indices, or the pulse it hit).

Kinds
-----
``stuck_on`` / ``stuck_off``
    Devices frozen at their ON (lowest resistance) or OFF bound; writes no
    longer move them.
``open``
    Devices become open circuits (no current, infinite resistance).
``drift``
    Conductance drift: from the onset, every ``period`` the resistance of each
    chosen healthy device ``k`` is multiplied by ``exp(r_k·period)``, clipped to
    the device's own bounds, i.e. ``dR/dt = r_k·R`` with ``r_k = value + std·N(0, 1)``
    drawn once per device at the onset (1/s; positive drifts towards OFF,
    negative towards ON).  A staircase that is exact at the step instants;
    choose ``period`` well below the time scale of interest (default:
    ``timing.t_settle``).  Stuck and open devices do not drift.  Note that a
    drift common to both devices of a buffered pair leaves its weight
    ``(M2 − M1)/(M1 + M2)`` unchanged (until a device reaches a bound): it is
    the device-to-device spread ``std`` that moves the weights.
``opamp_offset``
    Adds ``value`` volts to the input offset of the chosen op-amps (default all
    neurons of the chosen layers).
``opamp_stuck``
    The chosen op-amp outputs stick at ``value`` volts (before the activation).
``drop_pulse``
    Write pulses are lost: without a rate, the next ``count`` (default 1) pulses
    after the onset; with ``rate`` and ``per = "pulse"``, each pulse with
    probability ``rate``; with ``per = "s"``, drops arrive as a Poisson process
    of ``rate`` per second and each removes the next pulse.
``jitter``
    From the onset, the write driver's edges jitter by ``value`` seconds rms
    (the pulse generator's ``jitter_c2c``).
``amplitude``
    From the onset, write pulses are scaled by ``1 + value`` (a gain error) and
    carry a relative rms noise ``std`` (the generator's ``amplitude_c2c``).

When and where
--------------
The onset is ``at_time`` (simulated seconds), ``at_epoch`` (start of that
0-based epoch), or the start of the run.  Without a ``rate`` the fault is
injected once at the onset; with a ``rate`` healthy devices (or neurons) fail
from the onset on, each with probability ``rate`` per write pulse
(``per = "pulse"``; ``pulses`` picks update, perturbation or all pulses) or
at ``rate`` per second (``per = "s"``: exponential failure times drawn at the
onset).  The location is ``layer`` (default: every layer) with explicit
``devices`` (indices into that layer's
:attr:`~components.synapses.CrossbarLayer.device_array`: device ``d`` of unit
``(i, j)`` is ``d·n_in·n_out + i·n_out + j``) or ``neurons``, or a random
``fraction`` (per layer, of that layer's population, chosen among devices still
healthy) or ``count`` (over all chosen layers).  Random choices come from the
run stream ``("faults/<i>", purpose)`` of the run's seed tree, so they repeat
exactly for a given seed and do not disturb any other stream.

Faults persist to the end of the run.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from mssim.errors import ConfigError
from mssim.units import TICK, TICKS_PER_SECOND, to_ticks

_DEVICE = ("stuck_on", "stuck_off", "open", "drift")
_NEURON = ("opamp_offset", "opamp_stuck")
_MAX_LOGGED = 4096  # longer index lists are logged as a count only


class _Fault:
    """Run-time state of one ``[[faults.events]]`` entry."""

    def __init__(self, i: int, cfg: Any, sim: Any) -> None:
        self.i = i
        self.cfg = cfg
        self.kind = cfg.kind
        self.path = f"faults/{i}"
        self.rng_select = sim.seeds.run_stream(self.path, "select")
        self.rng_rate = sim.seeds.run_stream(self.path, "rate")
        self.active = False
        self.pending_drops = 0
        self.hit: dict[int, np.ndarray] = {}   # layer -> bool mask of units this fault already hit
        self.drift_targets: dict[int, np.ndarray] = {}
        # The schedule of the fault's own process (drift, per-second rates), kept here in plain
        # numbers so that a checkpoint holds it and a resumed run continues it exactly.
        self.running = False                   # a process of this fault is scheduled
        self.next_t = -1                       # drift: tick of the next application; drops: of the next arrival
        self.drift_factor: dict[int, np.ndarray] = {}
        self.haz_t = np.zeros(0, dtype=np.int64)       # hazard: failure ticks, ascending
        self.haz_units = np.zeros((0, 2), dtype=np.int64)  # ... and the (layer, index) that fails then
        self.haz_j = 0
        self.proc = None                       # the SimPy process (not saved; restarted on resume)


class FaultInjector:
    """Schedules and applies a run's faults.

    Parameters
    ----------
    run : components.training.trainer.TrainingRun
        The run (its ``chip``, ``controller`` and ``scn``).
    events : sequence of FaultConfig
        The validated ``faults.events`` entries.

    Attributes
    ----------
    injections : list of dict
        Every injection, as logged (also in the run's event log).
    """

    def __init__(self, run: Any, events: Sequence[Any]) -> None:
        self.run = run
        self.chip = run.chip
        self.sim = run.chip.sim
        self.env = self.sim.env
        self.controller = run.controller
        self.injections: list[dict[str, Any]] = []
        self.faults = [_Fault(i, cfg, self.sim) for i, cfg in enumerate(events)]
        self._n_layers = len(self.chip.crossbars)
        epochs = run.scn.training.epochs
        for f in self.faults:
            self._check(f, epochs)
        self.controller.epoch_start_hooks.append(self._on_epoch)
        self.controller.pulse_filters.append(self._on_pulse)
        for f in self.faults:
            c = f.cfg
            if c.at_epoch is not None:
                continue  # started by the epoch hook
            if c.at_time is not None:
                ev = self.env.timeout(to_ticks(c.at_time, name=f"faults.events.{f.i}.at_time"))
                ev.callbacks.append(lambda _e, f=f: self._start(f, "at_time"))
            else:
                self._start(f, "start")

    # ------------------------------------------------------------------ checks
    def _check(self, f: _Fault, epochs: int) -> None:
        c, where = f.cfg, f"faults.events.{f.i}"
        if c.layer is not None and c.layer >= self._n_layers:
            raise ConfigError(f"{where}.layer: the network has {self._n_layers} weight layers (0..{self._n_layers - 1}); "
                              f"got {c.layer}")
        if c.at_epoch is not None and c.at_epoch >= epochs:
            raise ConfigError(f"{where}.at_epoch: the run has {epochs} epochs (0..{epochs - 1}); got {c.at_epoch}")
        for name, idx in (("devices", c.devices), ("neurons", c.neurons)):
            if idx is None:
                continue
            n = self._size(f, c.layer)
            bad = [k for k in idx if k >= n]
            if bad:
                what = "devices" if name == "devices" else "neurons"
                raise ConfigError(f"{where}.{name}: index {bad[0]} out of range; layer {c.layer} has {n} {what} (0..{n - 1})")
        if c.count is not None and f.kind in _DEVICE + _NEURON:
            total = sum(self._size(f, l) for l in self._layers(f))
            if c.count > total:
                raise ConfigError(f"{where}.count: {c.count} exceeds the {total} "
                                  f"{'devices' if f.kind in _DEVICE else 'neurons'} of the chosen layers")

    def _layers(self, f: _Fault) -> list[int]:
        return [f.cfg.layer] if f.cfg.layer is not None else list(range(self._n_layers))

    def _size(self, f: _Fault, layer: int) -> int:
        if f.kind in _DEVICE:
            return int(self.chip.crossbars[layer].device_array.n)
        return int(self.chip.neurons[layer].n)

    # ------------------------------------------------------------------ onsets
    def _on_epoch(self, epoch: int) -> None:
        for f in self.faults:
            if f.cfg.at_epoch == epoch:
                self._start(f, "at_epoch")

    def _start(self, f: _Fault, cause: str) -> None:
        """The fault's onset: inject once, or arm its rate.  A process's random draws happen here
        and its schedule is kept on ``f`` (see :meth:`restart_processes`)."""
        c, k = f.cfg, f.kind
        f.active = True
        if k in ("stuck_on", "stuck_off", "open") + _NEURON:
            for l in self._layers(f):
                f.hit[l] = np.zeros(self._size(f, l), dtype=bool)
            if c.rate is None:
                for l, idx in self._choose(f).items():
                    self._inject(f, l, idx, cause)
            elif c.per == "s":
                self._arm_hazard(f)
                self._spawn(f)
        elif k == "drift":
            f.drift_targets = self._choose(f)
            for l, idx in f.drift_targets.items():
                self._log(f, cause, layer=l, idx=idx, value=c.value, std=c.std,
                          period_s=c.period if c.period is not None else self.run.scn.timing.t_settle)
            p_ticks = self._drift_period(f)
            for l, idx in f.drift_targets.items():
                rates = np.full(self.chip.crossbars[l].device_array.n, float(c.value))
                if c.std:
                    rates[idx] += c.std * f.rng_select.standard_normal(len(idx))
                f.drift_factor[l] = np.exp(rates * (p_ticks * TICK))
            f.next_t = self.env.now + p_ticks
            self._spawn(f)
        elif k == "drop_pulse":
            if c.rate is None:
                f.pending_drops += c.count if c.count is not None else 1
            elif c.per == "s":
                f.next_t = self.env.now + self._next_arrival(f)
                self._spawn(f)
            self._log(f, cause, armed=True, rate=c.rate, per=c.per if c.rate is not None else None,
                      pulses=c.pulses)
        elif k == "jitter":
            w = self.chip.writer
            w.set_jitter(float(c.value))
            self._log(f, cause, value=c.value)
        elif k == "amplitude":
            if c.std:
                w = self.chip.writer
                w.set_amplitude_spread(float(c.std))
            self._log(f, cause, value=c.value, std=c.std, pulses=c.pulses)

    def _spawn(self, f: _Fault) -> None:
        body = {"drift": self._drift, "drop_pulse": self._drop_arrivals}.get(f.kind, self._hazard)
        f.running = True
        f.proc = self.env.process(body(f))

    def restart_processes(self) -> int:
        """After a checkpoint was restored: start again every fault process the saved run had
        running and this freshly built run has not (each continues from the schedule kept on its
        fault).  Returns how many were started."""
        n = 0
        for f in self.faults:
            if f.running and f.proc is None:
                self._spawn(f)
                n += 1
        return n

    @property
    def n_running(self) -> int:
        """Fault processes with a pending timeout (each holds one event in the queue)."""
        return sum(1 for f in self.faults if f.running)

    # ------------------------------------------------------------------ choosing locations
    def _healthy(self, f: _Fault, layer: int) -> np.ndarray:
        """Units of ``layer`` this fault may still hit (not yet hit; devices: not stuck or open)."""
        ok = ~f.hit.get(layer, np.zeros(self._size(f, layer), dtype=bool))
        if f.kind in _DEVICE:
            ok &= self.chip.crossbars[layer].device_array.faults == 0
        return np.flatnonzero(ok)

    def _choose(self, f: _Fault) -> dict[int, np.ndarray]:
        """Where an onset injection lands: explicit indices, a random fraction or count, or everything."""
        c = f.cfg
        explicit = c.devices if c.devices is not None else c.neurons
        if explicit is not None:
            return {c.layer: np.array(sorted(set(explicit)), dtype=np.int64)}
        layers = self._layers(f)
        if c.fraction is not None:
            out = {}
            for l in layers:
                h = self._healthy(f, l)
                k = min(len(h), int(round(c.fraction * self._size(f, l))))
                out[l] = np.sort(f.rng_select.choice(h, size=k, replace=False)) if k else np.zeros(0, np.int64)
            return out
        if c.count is not None:
            pool = [(l, i) for l in layers for i in self._healthy(f, l)]
            k = min(len(pool), c.count)
            pick = f.rng_select.choice(len(pool), size=k, replace=False) if k else []
            out = {l: [] for l in layers}
            for p in pick:
                out[pool[p][0]].append(pool[p][1])
            return {l: np.array(sorted(v), dtype=np.int64) for l, v in out.items()}
        if f.kind == "drift":
            return {l: self._healthy(f, l) for l in layers}
        return {l: np.arange(self._size(f, l), dtype=np.int64) for l in layers}  # opamp_offset: every neuron

    # ------------------------------------------------------------------ applying
    def _inject(self, f: _Fault, layer: int, idx: np.ndarray, cause: str) -> None:
        if len(idx) == 0:
            return
        k = f.kind
        if k in _DEVICE:
            # the crossbar's fault methods bring the chip up to now under the old states first
            xb = self.chip.crossbars[layer]
            if k == "open":
                xb.set_open(idx)
            else:
                xb.set_stuck(idx, "on" if k == "stuck_on" else "off")
        else:
            nl = self.chip.neurons[layer]
            if k == "opamp_offset":
                nl.add_offset(idx, float(f.cfg.value))
            else:
                nl.stick_output(idx, float(f.cfg.value))
        if layer in f.hit:
            f.hit[layer][idx] = True
        self._log(f, cause, layer=layer, idx=idx, value=f.cfg.value)

    def _log(self, f: _Fault, cause: str, *, layer: int | None = None, idx: np.ndarray | None = None, **extra: Any) -> None:
        entry: dict[str, Any] = {"fault": f.kind, "index": f.i, "cause": cause}
        if layer is not None:
            entry["layer"] = int(layer)
        if idx is not None:
            key = "neurons" if f.kind in _NEURON else "devices"
            entry[f"n_{key}"] = int(len(idx))
            if len(idx) <= _MAX_LOGGED:
                entry[key] = [int(i) for i in idx]
        entry.update({k: v for k, v in extra.items() if v is not None})
        # ``kind`` of the log entry is "fault"; the fault's own kind goes under "fault".
        self.sim.log("fault", **entry)
        self.injections.append({"t": self.env.now, "t_s": self.env.now * TICK, **entry})

    # ------------------------------------------------------------------ processes and hooks
    def _arm_hazard(self, f: _Fault) -> None:
        """Per-second failure rate: each healthy unit fails at an exponential time after the onset."""
        start = self.env.now
        units = [(l, i) for l in self._layers(f) for i in self._healthy(f, l)]
        if not units:
            return
        dt = f.rng_rate.exponential(1.0 / f.cfg.rate, size=len(units))
        ticks = (np.minimum(dt, 1e6) * TICKS_PER_SECOND).astype(np.int64)
        order = np.argsort(ticks, kind="stable")
        f.haz_t = start + ticks[order]
        f.haz_units = np.array(units, dtype=np.int64)[order]
        f.haz_j = 0

    def _hazard(self, f: _Fault):
        """Fail the units at the armed times, groups falling on one tick together."""
        try:
            n = len(f.haz_t)
            while f.haz_j < n:
                t = int(f.haz_t[f.haz_j])
                j1 = f.haz_j
                while j1 < n and int(f.haz_t[j1]) == t:
                    j1 += 1
                if t > self.env.now:
                    yield self.env.timeout(t - self.env.now)
                group = f.haz_units[f.haz_j: j1]
                f.haz_j = j1
                for l in sorted(set(int(x) for x in group[:, 0])):
                    ids = group[group[:, 0] == l, 1].astype(np.int64)
                    ids = ids[np.isin(ids, self._healthy(f, l))]
                    self._inject(f, l, np.sort(ids), "rate")
        finally:
            f.running = False

    def _next_arrival(self, f: _Fault) -> int:
        return max(1, int(min(f.rng_rate.exponential(1.0 / f.cfg.rate), 1e6) * TICKS_PER_SECOND))

    def _drop_arrivals(self, f: _Fault):
        """Per-second drop rate: a Poisson process; each arrival removes the next pulse."""
        while True:
            yield self.env.timeout(max(0, f.next_t - self.env.now))
            f.pending_drops += 1
            f.next_t = self.env.now + self._next_arrival(f)

    def _drift_period(self, f: _Fault) -> int:
        c = f.cfg
        period = c.period if c.period is not None else self.run.scn.timing.t_settle
        return to_ticks(period, name=f"faults.events.{f.i}.period")

    def _drift(self, f: _Fault):
        """Multiply the chosen devices' resistances by exp(rate·period) every period."""
        p_ticks = self._drift_period(f)
        factor = f.drift_factor
        while True:
            yield self.env.timeout(max(0, f.next_t - self.env.now))
            f.next_t = self.env.now + p_ticks
            for l, idx in f.drift_targets.items():
                xb = self.chip.crossbars[l]
                live = idx[xb.device_array.faults[idx] == 0]
                if not len(live):
                    continue
                xb.scale_resistance(live, factor[l][live])

    def _on_pulse(self, kind: str, width_ticks: int, amplitude: float):
        """Controller pulse filter: per-pulse failure rates, dropped pulses, amplitude errors."""
        for f in self.faults:
            c = f.cfg
            if not f.active or (c.pulses != "all" and c.pulses != kind):
                continue
            if f.kind == "drop_pulse":
                drop = False
                if f.pending_drops > 0:
                    f.pending_drops -= 1
                    drop = True
                elif c.rate is not None and c.per == "pulse" and f.rng_rate.random() < c.rate:
                    drop = True
                if drop:
                    self._log(f, "rate" if c.rate is not None else "scheduled", pulse=kind, width_ticks=int(width_ticks))
                    return None
            elif f.kind == "amplitude" and c.value is not None:
                amplitude = amplitude * (1.0 + float(c.value))
            elif c.rate is not None and c.per == "pulse" and f.kind in ("stuck_on", "stuck_off", "open") + _NEURON:
                for l in self._layers(f):
                    h = self._healthy(f, l)
                    n = f.rng_rate.binomial(len(h), c.rate) if len(h) else 0
                    if n:
                        self._inject(f, l, np.sort(f.rng_rate.choice(h, size=n, replace=False)), "rate")
        return width_ticks, amplitude
