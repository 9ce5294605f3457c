"""Assembling a WSP chip: crossbars, op-amp neurons, the error path and the controller, as one netlist.

The netlist (a networkx graph, see :class:`mssim.Circuit`) for a network with
layer sizes ``n_0 - n_1 - ... - n_L``::

    controller.x ──> xbar0.in                      (row read voltages x·v_read, plus the bias line)
    xbar{l}.out ──> neuron{l}.in, xbar{l}.g ──> neuron{l}.g
    neuron{l}.out ──> inter{l}.in ──> xbar{l+1}.in   (attenuator v_read/v_sat, plus the bias line)
    neuron{L-1}.out ──> error.out, controller.target ──> error.target
    error.j ──> sh.in, controller.hold ──> sh.hold  (J0 is held; J1 is read live)
    writer.out ──> xbar{l}.write                   (one global write pulse for every synapse)
    controller.pol{l} ──> xbar{l}.polarity          (one stored sign bit and polarity switch per synapse)

Every block is one SimPy process at most (never one per device).  Voltage
scales: the neuron output ``o`` (V, within ±v_sat) means the normalised
activation ``o / v_sat``; a normalised input ``x`` is read as ``x·v_read``.
With ``R_f = gain·R_in·v_sat / v_read`` and a buffered pair, the neuron computes
``v_sat·tanh(gain·Σ w·x)``: exactly the reference network of
:mod:`components.learning.network`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mssim import BuildContext, Circuit, Component, Port
from mssim.errors import ConfigError

from ..errorcircuits import (PWM, Comparator, ComparatorParams, ErrorCircuit, ErrorCircuitParams, PWMParams, SampleHold,
                             SampleHoldParams)
from ..neurons import NeuronLayer, NeuronParams
from ..pulses import PulseGenerator, PulseParams
from ..synapses import CrossbarLayer, SynapseParams


class Interlayer(Component):
    """Attenuator between a neuron layer and the next crossbar, plus the bias line.

    ``out[k] = scale·in[k]`` for ``k < n`` and ``out[n] = bias`` (the constant
    input that turns the last crossbar row into biases).  Follows the input's
    piecewise-linear segments exactly (same timing), so it adds no error.
    """

    def __init__(self, name: str, n: int, scale: float, bias: float, *, driven: bool = False) -> None:
        super().__init__(name)
        self.n, self.scale, self.bias = int(n), float(scale), float(bias)
        #: True when an engine integrates the chain (it applies :meth:`map` itself): no net events.
        self.driven = driven

    def ports(self) -> list[Port]:
        return [Port("in", "voltage", self.n, "in"), Port("out", "voltage", self.n + 1, "out")]

    def map(self, v: np.ndarray) -> np.ndarray:
        """The static map: scaled inputs with the bias line appended."""
        out = np.empty(self.n + 1)
        np.multiply(v, self.scale, out=out[: self.n])
        out[self.n] = self.bias
        return out

    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        if self.driven:
            return
        inp, out, env = ctx.net("in"), ctx.net("out"), ctx.env

        def follow(net) -> None:
            t0, v0, t1, v1 = net.segment
            now = env.now
            if t1 > now:
                out.drive(self.map(net.value(now)), self.map(v1), t1 - now)
            else:
                out.set(self.map(v1))

        inp.on_after_change(follow)
        ev = env.timeout(0)  # publish the initial value once every block has built
        ev.callbacks.append(lambda _e: follow(inp))


@dataclass
class ChipSpec:
    """Everything needed to build one chip (validated component parameters)."""

    sizes: tuple[int, ...]
    device_params: object
    synapse_params: SynapseParams
    neuron_params: NeuronParams
    error_params: ErrorCircuitParams
    sh_params: SampleHoldParams
    comparator_params: ComparatorParams
    pulse_params: PulseParams
    pwm_params: PWMParams = field(default_factory=PWMParams)
    w_init: np.ndarray | None = None  # flat initial weights (reference order); None = synapse init
    device_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or any(int(n) < 1 for n in self.sizes):
            raise ConfigError(f"ChipSpec.sizes: need at least an input and an output layer of positive size (got {self.sizes})")

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """Weight-matrix shapes ``(n_in + 1, n_out)`` per layer, bias row last."""
        return [(self.sizes[l] + 1, self.sizes[l + 1]) for l in range(len(self.sizes) - 1)]


class Chip:
    """A built chip: the circuit, the simulation, the analog engine and plain references to every block.

    Parameters
    ----------
    spec : ChipSpec
        What to build.
    make_controller : callable
        ``make_controller(chip) -> Component``: builds the controller block, handing it this chip
        (its interface: engine, comparator, PWM, writer, crossbars) at construction.  The block
        declares ports ``x``, ``target``, ``hold``, ``pol0``..``pol{L-1}``, ``decision`` and
        ``width``; see :class:`~components.training.controller.Controller`.
    seed, run_seed : int
        Root seeds (build streams: spread, offsets; run streams: noise, signs).

    Notes
    -----
    Every analog block of the chip is driven by one :class:`~components.engine.AnalogEngine`
    (``chip.engine``): the netlist shows the wiring, the engine integrates it.
    """

    def __init__(self, spec: ChipSpec, make_controller, seed: int, run_seed: int | None = None) -> None:
        from mssim.rng import SeedTree

        from ..engine import AnalogEngine

        self.spec = spec
        sp = spec.synapse_params
        vs = spec.neuron_params.v_sat
        L = len(spec.sizes) - 1
        self.engine = eng = AnalogEngine()
        c = Circuit("wsp_chip")
        self.circuit = c
        self.writer = c.add(PulseGenerator("writer", spec.pulse_params))
        self.crossbars: list[CrossbarLayer] = []
        self.neurons: list[NeuronLayer] = []
        self.inter: list[Interlayer] = []
        for l, (n_in, n_out) in enumerate(spec.shapes):
            xb = c.add(CrossbarLayer(f"xbar{l}", n_in, n_out, spec.device_params, sp,
                                     device_options=spec.device_options or None, driver=eng))
            nl = c.add(NeuronLayer(f"neuron{l}", n_out, spec.neuron_params, driver=eng))
            self.crossbars.append(xb)
            self.neurons.append(nl)
        n_out = spec.sizes[-1]
        self.error = c.add(ErrorCircuit("error", n_out, spec.error_params, driver=eng))
        self.sh = c.add(SampleHold("sh", spec.sh_params, driver=eng))
        tree = SeedTree(seed, run_seed)  # the same streams the built simulation hands out
        self.comparator = c.add(Comparator(spec.comparator_params,
                                           build_rng=tree.build_stream("comparator", "offset"),
                                           run_rng=tree.run_stream("comparator", "noise")))
        self.pwm = c.add(PWM(spec.pwm_params))
        self.controller = c.add(make_controller(self))
        for l in range(L):
            c.connect(f"xbar{l}.out", f"neuron{l}.in")
            c.connect(f"xbar{l}.g", f"neuron{l}.g")
            c.connect("writer.out", f"xbar{l}.write")
            c.connect(f"controller.pol{l}", f"xbar{l}.polarity")
            if l == 0:
                c.connect("controller.x", "xbar0.in")
            else:
                c.connect(f"inter{l - 1}.out", f"xbar{l}.in")
            if l < L - 1:
                it = c.add(Interlayer(f"inter{l}", spec.sizes[l + 1], sp.v_read / vs, sp.v_read, driven=True))
                self.inter.append(it)
                c.connect(f"neuron{l}.out", f"inter{l}.in")
        c.connect(f"neuron{L - 1}.out", "error.out")
        c.connect("controller.target", "error.target")
        c.connect("error.j", "sh.in")
        c.connect("controller.hold", "sh.hold")
        c.connect("error.j", "comparator.a")
        c.connect("sh.out", "comparator.b")
        c.connect("error.j", "pwm.a")
        c.connect("sh.out", "pwm.b")
        c.connect("comparator.out", "controller.decision")
        c.connect("pwm.width", "controller.width")
        self.sim = c.build(seed=seed, run_seed=run_seed)
        if spec.w_init is not None:
            flat = np.asarray(spec.w_init, dtype=float)
            if flat.size != self.n_weights:
                raise ConfigError(f"ChipSpec.w_init: expected {self.n_weights} weights, got {flat.size}")
            for xb, W in zip(self.crossbars, self.split(flat)):
                xb.program_weights(W)
        eng.bind(self)

    # -- weights -------------------------------------------------------------------
    def weights(self) -> list[np.ndarray]:
        """Effective normalised weights per layer, shape ``(n_in + 1, n_out)``."""
        self.engine.flush_writes()
        return [xb.weights() for xb in self.crossbars]

    def weights_flat(self) -> np.ndarray:
        """All weights in the reference flat order (layer by layer, row-major)."""
        return np.concatenate([w.ravel() for w in self.weights()])

    def set_weights_flat(self, flat: np.ndarray) -> None:
        """Program every device so the chip realises the flat weight vector."""
        flat = np.asarray(flat, dtype=float)
        k = 0
        for xb, (a, b) in zip(self.crossbars, self.spec.shapes):
            if k + a * b > flat.size:
                break
            xb.set_weights(flat[k : k + a * b].reshape(a, b))
            k += a * b
        if k != flat.size:
            raise ConfigError(f"Chip.set_weights_flat: expected {self.n_weights} weights, got {flat.size}")

    @property
    def n_weights(self) -> int:
        return sum(a * b for a, b in self.spec.shapes)

    def split(self, flat: np.ndarray) -> list[np.ndarray]:
        """Split a flat per-synapse vector into per-layer ``(n_in + 1, n_out)`` arrays."""
        out, k = [], 0
        for a, b in self.spec.shapes:
            out.append(np.asarray(flat[k : k + a * b]).reshape(a, b))
            k += a * b
        return out

    # -- static inference (settled chip, no time, no state change) -----------------
    def infer(self, X: np.ndarray) -> np.ndarray:
        """Settled, noise-free outputs (normalised, ``o/v_sat``) for a batch of inputs.

        The chip's DC transfer from the engine (:meth:`~components.engine.AnalogEngine.infer`):
        each crossbar's present conductance matrix (loading included) into each neuron layer's
        settled closed-loop response (finite gain, offsets, rails, stuck outputs, activation).
        Used for per-epoch evaluation, which is a measurement, not part of training.
        """
        return self.engine.infer(X)

    # -- energy ----------------------------------------------------------------------
    def energy_breakdown(self) -> dict[str, float]:
        """Energy drawn so far (J) by block: crossbar reads and writes, neurons (quiescent and
        output-stage load), error circuit, sample-and-hold, comparator, PWM, write drivers."""
        self.engine.advance_to(self.sim.env.now)
        return {
            "crossbar_read": float(sum(xb.energy_j.read for xb in self.crossbars) + self.engine.e_read.sum()),
            "crossbar_write": float(sum(xb.energy_j.write for xb in self.crossbars)),
            "neurons": float(sum(float(nl.energy_j) for nl in self.neurons) + self.engine.load_energy_j),
            "error_circuit": float(self.error.energy_j),
            "sample_hold": float(self.sh.energy_j),
            "comparator": float(self.comparator.energy_j),
            "pwm": float(self.pwm.energy_j),
            "drivers": float(self.writer.energy_j),
        }

    def energy_j(self) -> float:
        """Energy drawn so far by every block (J)."""
        return float(sum(self.energy_breakdown().values()))
