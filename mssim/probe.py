"""Probes: record nets and component states, and write them as waveforms.

A probe records either at every change of a net (exact piecewise-linear
breakpoints, so ramps survive) or every ``every`` ticks (decimated sampling of
a net or of any state getter).  Recorded probes are written as

* VCD with real-valued variables, through the ``pyvcd`` library, which
  GTKWave and other standard viewers open;
* CSV (long format: ``time_s, signal, value``);
* NPZ (per signal: ``<name>__t`` ticks and ``<name>__v`` values).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from .errors import ConfigError
from .units import TICKS_PER_SECOND, to_ticks

if TYPE_CHECKING:  # pragma: no cover
    from .circuit import Simulation
    from .net import Net


class Probe:
    """A recorded signal: ticks and value vectors.

    Attributes
    ----------
    name : str
        Signal name, ``"component.port"`` for nets.
    size : int
        Number of lines.
    times : list[int]
        Ticks of the samples.
    values : list[numpy.ndarray]
        Value vectors at those ticks.
    """

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.times: list[int] = []
        self.values: list[np.ndarray] = []
        self._pending: tuple[int, np.ndarray] | None = None
        #: Set to False to stop recording (callbacks stay registered but return at once).
        self.active = True

    def stop(self) -> None:
        """Stop recording; samples taken so far are kept."""
        self.active = False

    def record(self, t: int, value: np.ndarray) -> None:
        """Append a sample (ticks, vector); samples must come in time order."""
        self.times.append(int(t))
        self.values.append(np.array(value, dtype=np.float64, copy=True).reshape(self.size))

    def arrays(self, until: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ticks, values)`` as arrays; values has shape ``(n, size)``.

        A ramp that was still running when recording stopped contributes its end
        point only if ``until`` reaches it.
        """
        t = list(self.times)
        v = list(self.values)
        if self._pending is not None and (until is None or self._pending[0] <= until):
            t.append(self._pending[0])
            v.append(self._pending[1])
        if not t:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.size))
        return np.asarray(t, dtype=np.int64), np.vstack(v)

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def for_net(cls, sim: "Simulation", net: "Net", *, every=None, name: str | None = None) -> "Probe":
        """Probe a net at each change (``every=None``) or every ``every`` (ticks int, seconds, or string)."""
        pr = cls(name or net.name, net.size)
        if every is None:
            t0, v0, t1, v1 = net.segment
            pr.record(sim.env.now, net.value(sim.env.now))
            if t1 > sim.env.now:
                pr._pending = (t1, v1)

            def before(n: "Net") -> None:
                if not pr.active:
                    return
                # Close the old segment: its end point if a ramp finished, then
                # its value now, so the record is exact piecewise-linear.
                now = sim.env.now
                if pr._pending is not None and pr._pending[0] < now:
                    pr.record(*pr._pending)
                pr._pending = None
                pr.record(now, n.value(now))

            def on_change(n: "Net") -> None:
                if not pr.active:
                    return
                a, va, b, vb = n.segment
                pr.record(a, va)
                if b > a:
                    pr._pending = (b, vb)

            net.on_before_change(before)
            net.on_after_change(on_change)
        else:
            period = _period(every)
            sim.env.process(_sampler(sim, pr, lambda: net.value(), period))
        return pr

    @classmethod
    def for_callable(cls, sim: "Simulation", name: str, getter: Callable[[], np.ndarray], *, every, size: int | None = None) -> "Probe":
        """Probe ``getter()`` every ``every`` (ticks int, seconds, or string)."""
        first = np.atleast_1d(np.asarray(getter(), dtype=np.float64))
        pr = cls(name, size or first.size)
        sim.env.process(_sampler(sim, pr, getter, _period(every)))
        return pr


def _period(every) -> int:
    p = every if isinstance(every, int) and not isinstance(every, bool) else to_ticks(every, name="probe.every")
    if p <= 0:
        raise ConfigError(f"probe.every: must be positive (got {every!r})")
    return p


def _sampler(sim: "Simulation", pr: Probe, getter, period: int):
    env = sim.env
    while pr.active:
        pr.record(env.now, np.atleast_1d(getter()))
        yield env.timeout(period)


# -- writers ---------------------------------------------------------------------------
_SAFE = re.compile(r"[^A-Za-z0-9_]")


def _scope_and_name(signal: str) -> tuple[str, str]:
    if "." in signal:
        scope, name = signal.split(".", 1)
    else:
        scope, name = "top", signal
    return _SAFE.sub("_", scope) or "top", _SAFE.sub("_", name) or "sig"


def write_vcd(probes: Iterable[Probe], path: str | Path, *, until: int | None = None) -> Path:
    """Write probes to a VCD file with real-valued variables (timescale 1 ps).

    A vector signal ``layer.out`` of size 3 becomes variables ``out_0``,
    ``out_1``, ``out_2`` in scope ``layer``.  Uses the ``pyvcd`` library.
    """
    from vcd import VCDWriter

    probes = list(probes)
    path = Path(path)
    changes: list[tuple[int, int, object, float]] = []
    with path.open("w") as fh, VCDWriter(fh, timescale="1 ps", date="mssim", version="mssim") as writer:
        seq = 0
        for pr in probes:
            t, v = pr.arrays(until)
            scope, base = _scope_and_name(pr.name)
            init = v[0] if len(v) else np.zeros(pr.size)
            for k in range(pr.size):
                var_name = base if pr.size == 1 else f"{base}_{k}"
                var = writer.register_var(scope, var_name, "real", init=float(init[k]))
                for ti, vi in zip(t, v[:, k]):
                    changes.append((int(ti), seq, var, float(vi)))
                    seq += 1
        changes.sort(key=lambda c: (c[0], c[1]))
        for ti, _, var, val in changes:
            writer.change(var, ti, val)
    return path


def write_csv(probes: Iterable[Probe], path: str | Path, *, until: int | None = None) -> Path:
    """Write probes as CSV rows ``time_s, signal, value`` (one row per line per sample)."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time_s", "signal", "value"])
        for pr in probes:
            t, v = pr.arrays(until)
            for ti, row in zip(t, v):
                for k, x in enumerate(row):
                    sig = pr.name if pr.size == 1 else f"{pr.name}[{k}]"
                    w.writerow([repr(int(ti) / TICKS_PER_SECOND), sig, repr(float(x))])
    return path


def write_npz(probes: Iterable[Probe], path: str | Path, *, until: int | None = None) -> Path:
    """Write probes to a NumPy ``.npz``: ``<name>__t`` (int64 ticks) and ``<name>__v``."""
    path = Path(path)
    arrays = {}
    for pr in probes:
        t, v = pr.arrays(until)
        arrays[f"{pr.name}__t"] = t
        arrays[f"{pr.name}__v"] = v
    np.savez(path, **arrays)
    return path
