"""Generic stimulus: a source that plays a piecewise-linear schedule onto a net.

Device-agnostic, so it lives in the engine; pulse generators with hardware
nonidealities are components (``components.pulses``).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .component import BuildContext, Component, Port
from .errors import ConfigError
from .units import to_ticks


class PWLSource(Component):
    """Drive output ``out`` through a list of breakpoints.

    Parameters
    ----------
    name : str
        Component name.
    size : int
        Number of lines.
    points : sequence of (time, value) or (time, value, ramp)
        At ``time`` (seconds, unit string or int ticks) start moving to ``value``
        over ``ramp`` (default 0: a step).  Times must not decrease.
    kind : str
        Port kind, default ``"voltage"``.
    """

    feedthrough = False

    def __init__(self, name: str, size: int, points: Iterable[Sequence], *, kind: str = "voltage") -> None:
        super().__init__(name)
        self.size = size
        self.kind = kind
        sched = []
        last = 0
        for i, pt in enumerate(points):
            if len(pt) not in (2, 3):
                raise ConfigError(f"PWLSource {name!r}.points[{i}]: expected (time, value) or (time, value, ramp), got {pt!r}")
            t = pt[0] if isinstance(pt[0], int) else to_ticks(pt[0], name=f"PWLSource {name!r}.points[{i}].time")
            r = 0 if len(pt) == 2 else (pt[2] if isinstance(pt[2], int) else to_ticks(pt[2], name=f"PWLSource {name!r}.points[{i}].ramp"))
            if t < last:
                raise ConfigError(f"PWLSource {name!r}.points[{i}].time: times must not decrease ({t} < {last} ticks)")
            last = t
            sched.append((t, np.asarray(pt[1], dtype=float), r))
        self.schedule = sched

    def ports(self) -> list[Port]:
        return [Port("out", self.kind, self.size, "out")]

    def run(self, ctx: BuildContext):
        net = ctx.net("out")
        env = ctx.env
        for t, value, ramp in self.schedule:
            if t > env.now:
                yield env.timeout(t - env.now)
            if ramp:
                net.ramp(value, ramp)
            else:
                net.set(value)
