"""The component protocol.

A component is one *block* of hardware: a crossbar layer, a neuron layer, a
pulse source, the controller.  It

* declares its ports (:class:`Port`: name, kind, size, direction);
* is *built* once: allocates its arrays, draws device-to-device spread from
  build-phase streams, and resolves its nets (:meth:`Component.build`);
* then *runs*: at most one SimPy process per block (:meth:`Component.run`),
  never one per device.

Analog blocks (:class:`AnalogBlock`) hold continuous state that they advance to
``now`` lazily: when one of their input nets is about to change, and when
someone reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .errors import ConfigError, WiringError
from .net import KINDS

if TYPE_CHECKING:  # pragma: no cover
    from .circuit import Simulation
    from .net import Net

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class Port:
    """A component's connection point.

    Parameters
    ----------
    name : str
        Port name, unique within the component.
    kind : str
        ``"voltage"``, ``"current"``, ``"digital"`` or ``"signal"``.
    size : int
        Number of lines.
    direction : str
        ``"in"`` or ``"out"``.
    optional : bool
        An optional input may stay undriven (it then reads as ``default``).
    default : float
        Value of an undriven optional input.
    """

    name: str
    kind: str
    size: int
    direction: str
    optional: bool = False
    default: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ConfigError(f"Port.name: must be an identifier (got {self.name!r})")
        if self.kind not in KINDS:
            raise ConfigError(f"Port {self.name!r}.kind: must be one of {KINDS} (got {self.kind!r})")
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ConfigError(f"Port {self.name!r}.size: must be a positive integer (got {self.size!r})")
        if self.direction not in ("in", "out"):
            raise ConfigError(f"Port {self.name!r}.direction: must be 'in' or 'out' (got {self.direction!r})")


class BuildContext:
    """What a component sees while it builds and runs.

    Attributes
    ----------
    env : simpy.Environment
        The simulation's environment (integer ticks).
    path : str
        The component's name in the circuit; the key of its random streams.
    sim : Simulation
        The simulation being built.
    """

    def __init__(self, sim: "Simulation", component: "Component", nets: dict[str, "Net"]) -> None:
        self.sim = sim
        self.env = sim.env
        self.path = component.name
        self._nets = nets

    def net(self, port: str) -> "Net":
        """The net attached to ``port`` (an input's driver net, or the output's own net)."""
        try:
            return self._nets[port]
        except KeyError:
            raise WiringError(f"{self.path}: no port named {port!r}; ports are {sorted(self._nets)}") from None

    def build_rng(self, purpose: str) -> np.random.Generator:
        """Build-phase stream for this component and ``purpose`` (spread, initial states)."""
        return self.sim.seeds.build_stream(self.path, purpose)

    def run_rng(self, purpose: str) -> np.random.Generator:
        """Run-phase stream for this component and ``purpose`` (noise, perturbation signs)."""
        return self.sim.seeds.run_stream(self.path, purpose)

    def log(self, kind: str, **fields: Any) -> None:
        """Append an entry to the run's event log, stamped with the current tick."""
        self.sim.log(kind, source=self.path, **fields)


class Component:
    """Base class for every block.

    Subclasses override :meth:`ports`, and usually :meth:`build` and
    :meth:`run`.  ``feedthrough`` says whether an output can react to an input
    within the same tick; compile-time loop checks use it.  A block that only
    changes its outputs after a timeout (a register, a sample-and-hold clocked
    by the controller) sets ``feedthrough = False``.
    """

    feedthrough: bool = True

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(f"{type(self).__name__}.name: must be an identifier without dots (got {name!r})")
        self.name = name
        self.ctx: BuildContext | None = None

    def ports(self) -> list[Port]:
        """Declare the component's ports.  Called once, at compile time."""
        return []

    def build(self, ctx: BuildContext) -> None:
        """Allocate arrays, draw spread, resolve nets.  Default: keep ``ctx``."""
        self.ctx = ctx

    def run(self, ctx: BuildContext) -> Iterator | None:
        """Return the block's one SimPy process generator, or ``None`` for a passive block."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class AnalogBlock(Component):
    """A block with continuous state advanced lazily to ``now``.

    Subclasses implement :meth:`advance` (integrate the state from ``t_from`` to
    ``t_to`` under the present input segments) and call ``self.advance_to(now)``
    before reading their state.  :meth:`build` subscribes to every input net so
    the state is brought up to date just before an input changes.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.t_state = 0

    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        self.t_state = ctx.env.now
        env = ctx.env
        for port in self.ports():
            if port.direction == "in":
                ctx.net(port.name).on_before_change(lambda _net, env=env: self.advance_to(env.now))

    def advance_to(self, t: int) -> None:
        """Bring the continuous state up to tick ``t`` (no-op if already there)."""
        if t > self.t_state:
            self.advance(self.t_state, t)
            self.t_state = t

    def advance(self, t_from: int, t_to: int) -> None:  # pragma: no cover - abstract
        """Integrate the state from ``t_from`` to ``t_to`` under the present inputs."""
        raise NotImplementedError
