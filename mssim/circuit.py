"""Circuits: components wired into a networkx graph, compiled, built and run.

``Circuit`` is the netlist.  Components are nodes; each connection is an edge
from the driving component to the driven one, with the port names (and an
optional transport delay) as edge attributes.  The graph is there for users
too: :meth:`Circuit.to_graphml`, :meth:`Circuit.to_dot`, :meth:`Circuit.draw`.

:meth:`Circuit.compile` checks the wiring (unknown component or port, wrong
direction, size or kind mismatch, undriven input, two drivers, zero-delay
loops) and raises :class:`~mssim.errors.WiringError` naming the ports and the
fix.  :meth:`Circuit.build` compiles, creates one :class:`~mssim.net.Net` per
driven output, binds every input to its driver's net, calls each component's
``build`` and starts its process.  After that the run uses plain Python
references; the graph is never consulted in the hot path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import simpy

from .component import BuildContext, Component, Port
from .errors import ConfigError, WiringError
from .net import Net
from .rng import SeedTree
from .units import to_seconds, to_ticks


def _split(endpoint: str) -> tuple[str, str]:
    if not isinstance(endpoint, str) or endpoint.count(".") != 1:
        raise WiringError(f"connection endpoint {endpoint!r}: write it as 'component.port'")
    comp, port = endpoint.split(".")
    return comp, port


@dataclass
class Connection:
    """One edge of the netlist."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    delay: int = 0  # ticks

    @property
    def label(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


class Circuit:
    """A netlist of components.

    Parameters
    ----------
    name : str
        Name used in exports and messages.
    """

    def __init__(self, name: str = "circuit") -> None:
        self.name = name
        self.graph = nx.MultiDiGraph(name=name)
        self.connections: list[Connection] = []
        self._components: dict[str, Component] = {}

    # -- editing -----------------------------------------------------------------
    def add(self, component: Component) -> Component:
        """Add a component (a node).  Names must be unique.  Returns the component."""
        if not isinstance(component, Component):
            raise ConfigError(f"Circuit.add: expected a Component, got {type(component).__name__}")
        if component.name in self._components:
            raise WiringError(f"component name {component.name!r} is used twice; give each component a unique name")
        self._components[component.name] = component
        self.graph.add_node(component.name, component=component, type=type(component).__name__)
        return component

    def __getitem__(self, name: str) -> Component:
        try:
            return self._components[name]
        except KeyError:
            raise WiringError(f"no component named {name!r}; components are {sorted(self.graph.nodes)}") from None

    @property
    def components(self) -> list[Component]:
        """Components in insertion order."""
        return list(self._components.values())

    def connect(self, src: str, dst: str | list[str], *, delay: int | str | float = 0) -> None:
        """Connect output ``src`` (``"comp.port"``) to one or more inputs.

        ``delay`` is a transport delay (ticks as int, or seconds / a unit string);
        a non-zero delay breaks zero-delay loops.  Endpoint names are checked at
        :meth:`compile`, so a netlist can be written in any order.
        """
        d = delay if isinstance(delay, int) and not isinstance(delay, bool) else to_ticks(delay, name=f"connect({src!r}).delay")
        if d < 0:
            raise ConfigError(f"connect({src!r}).delay: must not be negative (got {delay!r})")
        for target in [dst] if isinstance(dst, str) else list(dst):
            s, sp = _split(src)
            t, tp = _split(target)
            conn = Connection(s, sp, t, tp, d)
            self.connections.append(conn)
            self.graph.add_edge(s, t, src_port=sp, dst_port=tp, delay=d)

    # -- checking ----------------------------------------------------------------
    def compile(self) -> dict[str, dict[str, Port]]:
        """Check the wiring; return ``{component: {port: Port}}``.

        Raises
        ------
        WiringError
            Naming the ports involved and how to fix it.
        """
        ports: dict[str, dict[str, Port]] = {}
        for comp in self.components:
            declared = comp.ports()
            table: dict[str, Port] = {}
            for p in declared:
                if p.name in table:
                    raise WiringError(f"{comp.name}: port {p.name!r} declared twice")
                table[p.name] = p
            ports[comp.name] = table

        drivers: dict[tuple[str, str], list[Connection]] = {}
        for c in self.connections:
            for cname, pname, role in ((c.src, c.src_port, "source"), (c.dst, c.dst_port, "destination")):
                if cname not in ports:
                    raise WiringError(f"{c.label}: no component named {cname!r} ({role}); components are {sorted(ports)}; add it with Circuit.add() or fix the name")
                if pname not in ports[cname]:
                    raise WiringError(f"{c.label}: component {cname!r} has no port {pname!r}; its ports are {sorted(ports[cname])}")
            sp, dp = ports[c.src][c.src_port], ports[c.dst][c.dst_port]
            if sp.direction != "out":
                raise WiringError(f"{c.label}: {c.src}.{c.src_port} is an input and cannot drive; connect from an output port")
            if dp.direction != "in":
                raise WiringError(f"{c.label}: {c.dst}.{c.dst_port} is an output and cannot be driven; connect to an input port")
            if sp.size != dp.size:
                raise WiringError(f"{c.label}: size mismatch, {c.src}.{c.src_port} has {sp.size} lines but {c.dst}.{c.dst_port} has {dp.size}; make the sizes equal")
            if sp.kind != dp.kind:
                raise WiringError(f"{c.label}: kind mismatch, {c.src}.{c.src_port} is {sp.kind} but {c.dst}.{c.dst_port} is {dp.kind}; insert a converter block or fix the port kinds")
            drivers.setdefault((c.dst, c.dst_port), []).append(c)

        for cname, table in ports.items():
            for p in table.values():
                if p.direction != "in":
                    continue
                ds = drivers.get((cname, p.name), [])
                if len(ds) > 1:
                    srcs = ", ".join(f"{d.src}.{d.src_port}" for d in ds)
                    raise WiringError(f"{cname}.{p.name} has {len(ds)} drivers ({srcs}); an input takes exactly one driver, remove all but one connection")
                if not ds and not p.optional:
                    raise WiringError(f"{cname}.{p.name} is not driven; connect an output to it with Circuit.connect('<component>.<port>', '{cname}.{p.name}')")

        self._check_loops()
        return ports

    def _check_loops(self) -> None:
        zero = nx.DiGraph()
        for c in self.connections:
            if c.delay == 0 and self[c.src].feedthrough and self[c.dst].feedthrough:
                zero.add_edge(c.src, c.dst, label=c.label)
        try:
            cycle = nx.find_cycle(zero)
        except nx.NetworkXNoCycle:
            return
        labels = [zero.edges[u, v]["label"] for u, v in cycle]
        raise WiringError("zero-delay loop: " + " ; ".join(labels) + "; add a delay to one connection (connect(..., delay='1ns')) or put a clocked block (feedthrough=False) in the loop")

    # -- building ----------------------------------------------------------------
    def build(self, seed: int = 0, *, run_seed: int | None = None) -> "Simulation":
        """Compile, create nets, build every component and start its process."""
        ports = self.compile()
        return Simulation(self, ports, SeedTree(seed, run_seed))

    # -- export --------------------------------------------------------------------
    def _export_graph(self) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph(name=self.name)
        for comp in self.components:
            g.add_node(comp.name, type=type(comp).__name__)
        for c in self.connections:
            g.add_edge(c.src, c.dst, src_port=c.src_port, dst_port=c.dst_port, delay=c.delay)
        return g

    def to_graphml(self, path: str | Path) -> Path:
        """Write the netlist as GraphML (opens in yEd, Gephi, networkx)."""
        path = Path(path)
        nx.write_graphml(self._export_graph(), path)
        return path

    def to_dot(self, path: str | Path) -> Path:
        """Write the netlist as a Graphviz DOT file (no pygraphviz needed)."""
        path = Path(path)
        lines = [f'digraph "{self.name}" {{', "  rankdir=LR;", "  node [shape=box];"]
        for comp in self.components:
            lines.append(f'  "{comp.name}" [label="{comp.name}\\n{type(comp).__name__}"];')
        for c in self.connections:
            extra = f" +{to_seconds(c.delay):g}s" if c.delay else ""
            lines.append(f'  "{c.src}" -> "{c.dst}" [label="{c.src_port}->{c.dst_port}{extra}"];')
        lines.append("}")
        path.write_text("\n".join(lines) + "\n")
        return path

    def draw(self, path: str | Path) -> Path:
        """Draw the netlist to a PNG with matplotlib."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        g = nx.DiGraph(self._export_graph())
        try:
            layers = list(nx.topological_generations(g))
            for i, layer in enumerate(layers):
                for n in layer:
                    g.nodes[n]["layer"] = i
            pos = nx.multipartite_layout(g, subset_key="layer")
        except nx.NetworkXUnfeasible:
            pos = nx.spring_layout(g, seed=0)
        fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(g)), 3))
        nx.draw_networkx(g, pos, ax=ax, node_shape="s", node_color="#dde", node_size=1800, font_size=8)
        nx.draw_networkx_edge_labels(g, pos, ax=ax, font_size=6,
                                     edge_labels={(u, v): f"{d['src_port']}->{d['dst_port']}" for u, v, d in g.edges(data=True)})
        ax.set_axis_off()
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


class Simulation:
    """A built circuit, ready to run.

    Attributes
    ----------
    env : simpy.Environment
        Integer-tick environment.
    seeds : SeedTree
        The run's random streams.
    nets : dict[str, Net]
        ``"component.port"`` -> net, for outputs and inputs alike.
    events : list[dict]
        The run's event log (faults, phases, anything components log).
    """

    def __init__(self, circuit: Circuit, ports: dict[str, dict[str, Port]], seeds: SeedTree) -> None:
        self.circuit = circuit
        self.env = simpy.Environment(initial_time=0)
        self.seeds = seeds
        self.events: list[dict[str, Any]] = []
        #: Event kinds not written to the log (e.g. {"pulse"} for long training runs).
        self.muted_kinds: set[str] = set()
        self.nets: dict[str, Net] = {}
        self.components: dict[str, Component] = {c.name: c for c in circuit.components}
        self.probes: list = []

        # One net per output port, then inputs resolved to their driver's net
        # (or to a delayed copy of it).
        for cname, table in ports.items():
            for p in table.values():
                if p.direction == "out":
                    net = Net(f"{cname}.{p.name}", p.size, p.kind)
                    net.bind(self.env)
                    self.nets[net.name] = net
        for c in circuit.connections:
            src = self.nets[f"{c.src}.{c.src_port}"]
            if c.delay == 0:
                self.nets[f"{c.dst}.{c.dst_port}"] = src
            else:
                dst = Net(f"{c.dst}.{c.dst_port}", src.size, src.kind)
                dst.bind(self.env)
                self.nets[dst.name] = dst
                src.on_after_change(self._delay_line(src, dst, c.delay))
        for cname, table in ports.items():
            for p in table.values():
                key = f"{cname}.{p.name}"
                if key not in self.nets:  # undriven optional input
                    net = Net(key, p.size, p.kind, initial=p.default)
                    net.bind(self.env)
                    self.nets[key] = net

        self.contexts: dict[str, BuildContext] = {}
        for comp in circuit.components:
            local = {p: self.nets[f"{comp.name}.{p}"] for p in ports[comp.name]}
            ctx = BuildContext(self, comp, local)
            self.contexts[comp.name] = ctx
            comp.build(ctx)
        #: The SimPy process of each component that has one (``name -> Process``).
        self.processes: dict[str, simpy.Process] = {}
        for comp in circuit.components:
            gen = comp.run(self.contexts[comp.name])
            if gen is not None:
                self.processes[comp.name] = self.env.process(gen)

    def _delay_line(self, src: Net, dst: Net, delay: int):
        env = self.env

        def copy_later(_net: Net) -> None:
            t0, v0, t1, v1 = src.segment

            def deliver():
                yield env.timeout(delay)
                if t1 == t0:
                    dst.set(v1)
                else:
                    dst._change(t0 + delay, v0, t1 + delay, v1)

            env.process(deliver())

        return copy_later

    # -- running -----------------------------------------------------------------
    @property
    def now(self) -> int:
        """Current time in ticks."""
        return self.env.now

    @property
    def now_s(self) -> float:
        """Current time in seconds (for reporting)."""
        return to_seconds(self.env.now)

    def run(self, until: int | str | float | None = None) -> None:
        """Run until tick ``until`` (int), a time in seconds or a unit string, or until no events remain."""
        if until is None:
            self.env.run()
            return
        t = until if isinstance(until, int) and not isinstance(until, bool) else to_ticks(until, name="run.until")
        if t < self.env.now:
            raise ConfigError(f"Simulation.run.until: {until!r} is before now ({self.env.now} ticks)")
        self.env.run(until=t)

    def net(self, name: str) -> Net:
        """The net ``"component.port"``."""
        try:
            return self.nets[name]
        except KeyError:
            raise WiringError(f"no net {name!r}; nets are {sorted(self.nets)}") from None

    def log(self, kind: str, **fields: Any) -> None:
        """Append an event-log entry stamped with the current tick and seconds."""
        if kind in self.muted_kinds:
            return
        entry = {"t": self.env.now, "t_s": to_seconds(self.env.now), "kind": kind}
        entry.update(fields)
        self.events.append(entry)

    def write_events(self, path: str | Path) -> Path:
        """Write the event log as JSON lines."""
        path = Path(path)
        with path.open("w") as fh:
            for e in self.events:
                fh.write(json.dumps(e, default=_json_default) + "\n")
        return path

    def probe(self, target: str, *, every: int | str | float | None = None, name: str | None = None):
        """Record a net (``"comp.port"``) at each change, or every ``every`` seconds/ticks.

        Returns the :class:`~mssim.probe.Probe`.
        """
        from .probe import Probe

        pr = Probe.for_net(self, self.net(target), every=every, name=name)
        self.probes.append(pr)
        return pr

    def probe_state(self, name: str, getter, *, every: int | str | float, size: int | None = None):
        """Record ``getter()`` (a component state as a vector) every ``every`` seconds/ticks."""
        from .probe import Probe

        pr = Probe.for_callable(self, name, getter, every=every, size=size)
        self.probes.append(pr)
        return pr


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
