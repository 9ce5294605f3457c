"""Nets: vector-valued, piecewise-linear signals in integer time.

A :class:`Net` carries one value per line of a bus (a crossbar row, a neuron
layer's outputs).  Its waveform is piecewise linear: at any moment it holds a
*segment* that runs linearly from ``v0`` at tick ``t0`` to ``v1`` at tick ``t1``
and stays at ``v1`` afterwards.  A step is a segment with ``t1 == t0``, so
pulse edges with rise and fall times are represented exactly and reading a net
mid-edge interpolates.

Changing a net at ``now`` happens in three steps, always in this order:

1. every ``before_change`` callback runs while the old segment is still in
   place (analog blocks integrate their state up to ``now`` under it);
2. the new segment is installed;
3. every ``after_change`` callback runs and the ``changed`` SimPy event fires,
   waking processes that wait on it.

Callbacks run in subscription order, so behaviour within a tick is
deterministic.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .errors import ConfigError, SimulationError

KINDS = ("voltage", "current", "digital", "signal")


class Net:
    """A vector-valued piecewise-linear signal.

    Parameters
    ----------
    name : str
        Full name, usually ``"component.port"``.
    size : int
        Number of lines.
    kind : str
        ``"voltage"``, ``"current"``, ``"digital"`` or ``"signal"``.
    initial : float or array
        Value before anything drives the net.
    """

    __slots__ = ("name", "size", "kind", "_env", "_t0", "_v0", "_t1", "_v1", "_before", "_after", "_changed", "n_changes")

    def __init__(self, name: str, size: int, kind: str = "voltage", initial: float | np.ndarray = 0.0) -> None:
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
            raise ConfigError(f"Net {name!r}.size: must be a positive integer (got {size!r})")
        if kind not in KINDS:
            raise ConfigError(f"Net {name!r}.kind: must be one of {KINDS} (got {kind!r})")
        self.name = name
        self.size = int(size)
        self.kind = kind
        self._env = None
        v = self._coerce(initial, "initial")
        self._t0 = 0
        self._t1 = 0
        self._v0 = v
        self._v1 = v
        self._before: list[Callable[[Net], None]] = []
        self._after: list[Callable[[Net], None]] = []
        self._changed = None
        self.n_changes = 0

    # -- wiring ------------------------------------------------------------------
    def bind(self, env) -> None:
        """Attach the net to a SimPy environment (done by the circuit at build)."""
        self._env = env
        self._changed = None  # created lazily: most changes have nobody waiting

    def on_before_change(self, callback: Callable[["Net"], None]) -> None:
        """Call ``callback(net)`` just before every change, with the old segment in place."""
        self._before.append(callback)

    def on_after_change(self, callback: Callable[["Net"], None]) -> None:
        """Call ``callback(net)`` just after every change."""
        self._after.append(callback)

    @property
    def changed(self):
        """SimPy event that fires at the next change of this net."""
        if self._changed is None:
            if self._env is None:
                raise SimulationError(f"Net {self.name!r} is not bound to a simulation; build the circuit first")
            self._changed = self._env.event()
        return self._changed

    # -- reading -----------------------------------------------------------------
    @property
    def segment(self) -> tuple[int, np.ndarray, int, np.ndarray]:
        """The current segment ``(t0, v0, t1, v1)`` (arrays are read-only)."""
        return self._t0, self._v0, self._t1, self._v1

    def value(self, t: int | None = None) -> np.ndarray:
        """Value at tick ``t`` (default: now).  Returns a read-only array.

        Only the current segment is kept, so ``t`` must not precede its start.
        """
        if t is None:
            t = self._env.now if self._env is not None else self._t0
        t1 = self._t1
        if t >= t1:
            return self._v1
        t0 = self._t0
        if t < t0:
            raise SimulationError(f"Net {self.name!r}: cannot read tick {t}, before the current segment starts at {t0}; record it with a probe instead")
        frac = (t - t0) / (t1 - t0)
        out = self._v0 + (self._v1 - self._v0) * frac
        out.flags.writeable = False
        return out

    def slope(self, t: int | None = None) -> np.ndarray:
        """Rate of change in units per tick at ``t`` (zero outside a ramp)."""
        if t is None:
            t = self._env.now
        if self._t0 <= t < self._t1:
            return (self._v1 - self._v0) / (self._t1 - self._t0)
        return np.zeros(self.size)

    # -- driving -----------------------------------------------------------------
    def _coerce(self, value, what: str) -> np.ndarray:
        # Fast path (hot): an already-frozen float64 vector of the right size is shared, not copied.
        if type(value) is np.ndarray and not value.flags.writeable and value.dtype == np.float64 and value.shape == (self.size,):
            return value
        if self.size == 1 and type(value) is float:  # a scalar on a one-wire net (decisions, widths)
            arr = np.array((value,))
            arr.flags.writeable = False
            return arr
        arr = np.array(value, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(self.size, float(arr))
        elif arr.shape != (self.size,):
            raise ConfigError(f"Net {self.name!r}: {what} has shape {arr.shape}, expected ({self.size},) or a scalar")
        arr.flags.writeable = False
        return arr

    def _now(self) -> int:
        if self._env is None:
            raise SimulationError(f"Net {self.name!r} is not bound to a simulation; build the circuit first")
        return self._env.now

    def set(self, value: float | np.ndarray) -> None:
        """Step the net to ``value`` at the current tick.

        The net keeps a read-only copy; pass an array with ``flags.writeable =
        False`` to have it shared without copying (the hot-path idiom).
        """
        env = self._env
        if env is None:
            self._now()
        now = env.now
        v = self._coerce(value, "value")
        self._change(now, v, now, v)

    def ramp(self, target: float | np.ndarray, duration: int) -> None:
        """Ramp linearly from the present value to ``target`` over ``duration`` ticks.

        ``duration`` of 0 is a step.  Negative durations are an error.
        """
        if duration < 0:
            raise ConfigError(f"Net {self.name!r}.ramp: duration must not be negative (got {duration})")
        now = self._now()
        start = self.value(now).copy()
        start.flags.writeable = False
        v = self._coerce(target, "target")
        if duration == 0:
            self._change(now, v, now, v)
        else:
            self._change(now, start, now + int(duration), v)

    def drive(self, start: float | np.ndarray, target: float | np.ndarray, duration: int) -> None:
        """Jump to ``start`` now, then ramp to ``target`` over ``duration`` ticks.

        Lets a block that follows another net copy its segment exactly (same start,
        end and timing) in one change.
        """
        if duration < 0:
            raise ConfigError(f"Net {self.name!r}.drive: duration must not be negative (got {duration})")
        now = self._now()
        v1 = self._coerce(target, "target")
        if duration == 0:
            self._change(now, v1, now, v1)
        else:
            self._change(now, self._coerce(start, "start"), now + int(duration), v1)

    def _change(self, t0: int, v0: np.ndarray, t1: int, v1: np.ndarray) -> None:
        for cb in self._before:
            cb(self)
        self._t0, self._v0, self._t1, self._v1 = t0, v0, t1, v1
        self.n_changes += 1
        for cb in self._after:
            cb(self)
        ev = self._changed
        if ev is not None:
            self._changed = None
            ev.succeed(self)

    def __repr__(self) -> str:
        return f"Net({self.name!r}, size={self.size}, kind={self.kind!r})"
