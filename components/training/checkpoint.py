"""Checkpoints of a training run at epoch boundaries, and resuming from them.

``mssim run ... --checkpoint-every N`` keeps one file beside the run's results
folder, ``PARENT/NAME.checkpoint`` for ``--out PARENT/NAME``, rewritten
atomically (temporary file, then rename) after every N-th finished epoch.
``mssim resume PARENT/NAME`` rebuilds the chip from the scenario stored in the
checkpoint, puts the saved state back and continues at the next epoch; the
finished folder is bit-identical to an uninterrupted run's (``history.csv``,
``weights.npz``, ``events.jsonl``, ``metrics.json`` except ``wall_time_s``).
The checkpoint is removed once the results folder is published.

What a checkpoint holds (see :func:`capture_engine_state`, the one place that
knows the engine's insides):

* the scenario (resolved dict and its file name) and the run's options;
* the number of finished epochs, the simulated time (ticks), the history rows,
  the event log and the warnings so far, the recorded step waveforms if already taken;
* every block's state, found by walking the attributes of every circuit
  component, the comparator, the chip's analog engine and the fault injector: numpy
  arrays (device states, fault flags, switch counts, op-amp and S&H outputs,
  offsets, energies), scalars (counters, time stamps, flags), the state of
  every ``numpy.random.Generator`` (device c2c noise, op-amp and comparator
  noise, pattern order, perturbation signs, fault streams) and immutable
  parameter objects (a fault may replace the writer's parameters);
* the value and segment of every net.

Build-time quantities (device-to-device spread, offsets, calibration) are
rebuilt from the scenario and then overwritten with identical saved values.

Fault processes (drift, per-second failure and drop rates) keep their schedules
on their faults (next tick, drawn failure times, drift factors); a resumed run
restarts each from it.  A boundary at which something else is scheduled, or
inside a recorded step, is skipped.
The checkpoint is a Python pickle: resume only checkpoints you wrote.
"""

from __future__ import annotations

import dataclasses
import heapq
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mssim import __version__
from mssim.errors import ConfigError

FORMAT = 1
SUFFIX = ".checkpoint"


def checkpoint_path(out: str | Path) -> Path:
    """The checkpoint file of the run whose results folder is ``out``: ``PARENT/NAME.checkpoint``."""
    out = Path(out)
    return out.with_name(out.name + SUFFIX)


def unsupported(scn: Any) -> str | None:
    """Why a scenario cannot be checkpointed bit-exactly by this version, or None (every scenario
    can: the fault processes keep their schedules on their faults and restart from them)."""
    return None


# ---------------------------------------------------------------------- the engine-specific part
# Attribute names that point at other parts of the run (walked from their own root) or at
# things that are rebuilt identically from the scenario.
_SKIP = {"ctx", "env", "sim", "chip", "run", "controller", "task", "engine", "driver", "cfg", "on_epoch", "on_pattern",
         "epoch_start_hooks", "pulse_filters", "circuit", "spec", "_wake", "_changed", "_out", "_net_in",
         "_net_out", "_net_g", "_net_write", "_net_pol", "_x", "_target", "_hold", "_phase", "_pol"}
_SCALARS = (bool, int, float, str, type(None), np.generic)


def _is_leaf(v: Any) -> bool:
    if isinstance(v, (_SCALARS, np.ndarray)):
        return True
    if dataclasses.is_dataclass(v) and not isinstance(v, type) and v.__dataclass_params__.frozen:
        return True
    if isinstance(v, (list, tuple)):
        return all(_is_leaf(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, (str, int, np.integer)) and _is_leaf(x) for k, x in v.items())
    return False


def _ours(v: Any) -> bool:
    from mssim import Component
    from mssim.net import Net

    mod = type(v).__module__ or ""
    if not (mod.startswith("components.") or mod.startswith("mssim.")):
        return False
    if isinstance(v, (Component, Net)) or isinstance(v, type):
        return False
    try:
        from pydantic import BaseModel

        if isinstance(v, BaseModel):
            return False
    except ImportError:  # pragma: no cover
        pass
    return hasattr(v, "__dict__")


def _walk(obj: Any, prefix: str, out: dict[str, Any], seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    for name, v in vars(obj).items():
        if name in _SKIP:
            continue
        key = f"{prefix}{name}"
        if isinstance(v, np.random.Generator):
            out[key] = ("rng", v.bit_generator.state)
        elif _is_leaf(v):
            out[key] = ("val", pickle.loads(pickle.dumps(v)))
        elif _ours(v):
            _walk(v, key + ".", out, seen)
        elif isinstance(v, list) and v and all(_ours(x) for x in v):
            for i, x in enumerate(v):
                _walk(x, f"{key}.{i}.", out, seen)


def _roots(run: Any) -> dict[str, Any]:
    roots = {f"block:{name}": comp for name, comp in run.sim.components.items()}
    roots["comparator"] = run.chip.comparator
    roots["engine"] = run.engine
    roots["faults"] = getattr(run, "faults", None)
    return {k: v for k, v in roots.items() if v is not None}


def capture_engine_state(run: Any) -> dict[str, Any] | None:
    """Everything of a :class:`~components.training.trainer.TrainingRun` that evolves during training,
    at an epoch boundary.  Returns None if this boundary cannot be captured exactly.

    This is the one function (with :func:`restore_engine_state`) that knows the
    engine's insides; see the module docstring for what it captures.
    """
    env = run.sim.env
    if run.controller.recording:
        return None  # a recorded step spans this boundary: its probes live outside the walked blocks
    pending_at_time = 0
    if run.faults is not None:
        pending_at_time = sum(1 for f in run.faults.faults if f.cfg.at_time is not None and not f.active)
        pending_at_time += run.faults.n_running  # each fault process waits on one timeout
    if len(env._queue) != pending_at_time:
        return None  # something is scheduled that a rebuilt chip would not schedule again
    blocks: dict[str, dict[str, Any]] = {}
    for key, obj in _roots(run).items():
        state: dict[str, Any] = {}
        _walk(obj, "", state, set())
        blocks[key] = state
    nets = {}
    for name, net in run.sim.nets.items():
        nets[name] = (net._t0, np.array(net._v0), net._t1, np.array(net._v1), net.n_changes)
    return {"now": int(env.now), "blocks": blocks, "nets": nets}


def _set(obj: Any, path: str, kind: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        obj = obj[int(p)] if isinstance(obj, list) else getattr(obj, p)
    name = parts[-1]
    cur = getattr(obj, name, None)
    if kind == "rng":
        cur.bit_generator.state = value
    elif (isinstance(cur, np.ndarray) and isinstance(value, np.ndarray) and cur.shape == value.shape
          and cur.dtype == value.dtype and cur.flags.writeable):
        cur[...] = value  # in place: arrays shared between blocks stay shared
    else:
        object.__setattr__(obj, name, value)


def restore_engine_state(run: Any, state: dict[str, Any]) -> None:
    """Put a state from :func:`capture_engine_state` into a freshly built run of the same scenario
    (before it has simulated anything), and move its clock to the saved time."""
    roots = _roots(run)
    for key, values in state["blocks"].items():
        obj = roots[key]
        for path, (kind, value) in values.items():
            _set(obj, path, kind, value)
    seen = set()
    for name, (t0, v0, t1, v1, n) in state["nets"].items():
        net = run.sim.nets[name]
        if id(net) in seen:
            continue
        seen.add(id(net))
        v0.flags.writeable = False
        v1.flags.writeable = False
        net._t0, net._v0, net._t1, net._v1, net.n_changes = t0, v0, t1, v1, n
    # The clock: the processes' first steps move to the saved time; one-off events of the build at
    # time 0 (initial publications) are dropped, their effect is in the restored nets; events the
    # build scheduled at absolute times (faults at_time) stay where they are if still ahead.
    from simpy.events import Initialize

    env = run.sim.env
    now = int(state["now"])
    queue = []
    for t, prio, eid, ev in env._queue:
        if isinstance(ev, Initialize):
            queue.append((now, prio, eid, ev))
        elif t >= now and t > 0:
            queue.append((t, prio, eid, ev))
    heapq.heapify(queue)
    env._queue[:] = queue
    env._now = now


# ---------------------------------------------------------------------- files
def save(path: Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temporary file in the same folder, then rename)."""
    # host and pid in the name: a run killed while writing leaves this file, and the next run into the
    # same parent removes it once that process is gone (results.clean_stale_temps)
    from .results import temp_file_prefix

    fd, tmp = tempfile.mkstemp(prefix=temp_file_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(out: str | Path) -> dict[str, Any]:
    """The checkpoint of the run whose results folder is ``out``; ConfigError if there is none."""
    path = checkpoint_path(out)
    if not path.is_file():
        if Path(out).is_dir() and (Path(out) / "metrics.json").exists():
            raise ConfigError(f"resume {out}: that run has finished (metrics.json is there) and keeps no checkpoint; "
                              "nothing to resume")
        raise ConfigError(f"resume {out}: no checkpoint {path}; only runs started with --checkpoint-every N can be "
                          "resumed")
    try:
        with path.open("rb") as fh:
            payload = pickle.load(fh)
    except Exception as exc:  # a damaged or foreign file: any unpickling error
        raise ConfigError(f"resume {out}: {path} is not a readable mssim checkpoint ({type(exc).__name__}); remove it "
                          "and start the run again") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"resume {out}: {path} is not an mssim checkpoint of format {FORMAT}; start the run again")
    if payload.get("mssim_version") != __version__:
        raise ConfigError(f"resume {out}: {path} was written by mssim {payload.get('mssim_version')}, this is "
                          f"{__version__}; resume it with that version or start again")
    return payload


class Checkpointer:
    """Saves a run's checkpoint after every ``every``-th finished epoch.

    Installed by wrapping the controller's ``on_epoch`` callback (its public hook), so
    the state is taken after the epoch's evaluation and before the next epoch draws
    anything.
    """

    def __init__(self, run: Any, path: Path, every: int, meta: dict[str, Any], *, wall_before: float = 0.0) -> None:
        self.run = run
        self.path = Path(path)
        self.every = int(every)
        self.meta = meta
        self.saved_epochs: list[int] = []
        self.skipped_epochs: list[int] = []
        self._t0 = time.perf_counter() - wall_before
        inner = run.controller.on_epoch

        def on_epoch(epoch: int) -> bool:
            stop = bool(inner(epoch)) if inner is not None else False
            if not stop and self.every > 0 and (epoch + 1) % self.every == 0 and epoch + 1 < run.scn.training.epochs:
                self.save(epoch + 1)
            return stop

        run.controller.on_epoch = on_epoch

    def save(self, epochs_done: int) -> bool:
        run = self.run
        state = capture_engine_state(run)
        if state is None:
            self.skipped_epochs.append(epochs_done)
            return False
        payload = {
            "format": FORMAT, "mssim_version": __version__, **self.meta, "epochs_done": int(epochs_done),
            "engine": state, "history": pickle.loads(pickle.dumps(run.history)),
            "events": pickle.loads(pickle.dumps(run.sim.events)), "probes": pickle.loads(pickle.dumps(run.probes)),
            "warnings": list(run.warnings), "warn_kinds": dict(run._warn_kinds),
            "wall_s": time.perf_counter() - self._t0,
        }
        save(self.path, payload)
        self.saved_epochs.append(epochs_done)
        return True


def restore_run(run: Any, payload: dict[str, Any]) -> None:
    """Put a checkpoint into a freshly built run: engine state, history, event log, waveforms,
    and the controller's first epoch."""
    restore_engine_state(run, payload["engine"])
    if run.faults is not None:
        run.faults.restart_processes()
    run.history[:] = payload["history"]
    run.sim.events[:] = payload["events"]
    run.warnings[:] = payload.get("warnings", [])
    run._warn_kinds.update(payload.get("warn_kinds", {}))
    if payload["probes"]:
        run.probes = payload["probes"]
    run.controller.start_epoch = int(payload["epochs_done"])
    run._t_wall = time.perf_counter() - float(payload.get("wall_s", 0.0))
