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

from ..errorcircuits import Comparator, ComparatorParams, ErrorCircuit, ErrorCircuitParams, SampleHold, SampleHoldParams
from ..neurons import NeuronLayer, NeuronParams
from ..pulses import PulseGenerator, PulseParams
from ..synapses import CrossbarLayer, SynapseParams


class Interlayer(Component):
    """Attenuator between a neuron layer and the next crossbar, plus the bias line.

    ``out[k] = scale·in[k]`` for ``k < n`` and ``out[n] = bias`` (the constant
    input that turns the last crossbar row into biases).  Follows the input's
    piecewise-linear segments exactly (same timing), so it adds no error.
    """

    def __init__(self, name: str, n: int, scale: float, bias: float) -> None:
        super().__init__(name)
        self.n, self.scale, self.bias = int(n), float(scale), float(bias)

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
    """A built chip: the circuit, the simulation and plain references to every block.

    Parameters
    ----------
    spec : ChipSpec
        What to build.
    controller : Component
        The controller block (it declares ports ``x``, ``target``, ``hold``,
        ``pol0``..``pol{L-1}``); see :class:`~components.training.controller.Controller`.
    seed, run_seed : int
        Root seeds (build streams: spread, offsets; run streams: noise, signs).
    """

    def __init__(self, spec: ChipSpec, controller: Component, seed: int, run_seed: int | None = None) -> None:
        self.spec = spec
        sp = spec.synapse_params
        vs = spec.neuron_params.v_sat
        L = len(spec.sizes) - 1
        c = Circuit("wsp_chip")
        self.circuit = c
        self.controller = c.add(controller)
        self.writer = c.add(PulseGenerator("writer", spec.pulse_params))
        self.crossbars: list[CrossbarLayer] = []
        self.neurons: list[NeuronLayer] = []
        self.inter: list[Interlayer] = []
        for l, (n_in, n_out) in enumerate(spec.shapes):
            xb = c.add(CrossbarLayer(f"xbar{l}", n_in, n_out, spec.device_params, sp, device_options=spec.device_options or None))
            nl = c.add(NeuronLayer(f"neuron{l}", n_out, spec.neuron_params))
            self.crossbars.append(xb)
            self.neurons.append(nl)
            c.connect(f"xbar{l}.out", f"neuron{l}.in")
            c.connect(f"xbar{l}.g", f"neuron{l}.g")
            c.connect("writer.out", f"xbar{l}.write")
            c.connect(f"controller.pol{l}", f"xbar{l}.polarity")
            if l == 0:
                c.connect("controller.x", "xbar0.in")
            else:
                c.connect(f"inter{l - 1}.out", f"xbar{l}.in")
            if l < L - 1:
                it = c.add(Interlayer(f"inter{l}", n_out, sp.v_read / vs, sp.v_read))
                self.inter.append(it)
                c.connect(f"neuron{l}.out", f"inter{l}.in")
        n_out = spec.sizes[-1]
        self.error = c.add(ErrorCircuit("error", n_out, spec.error_params))
        self.sh = c.add(SampleHold("sh", spec.sh_params))
        c.connect(f"neuron{L - 1}.out", "error.out")
        c.connect("controller.target", "error.target")
        c.connect("error.j", "sh.in")
        c.connect("controller.hold", "sh.hold")
        self.sim = c.build(seed=seed, run_seed=run_seed)
        self.comparator = Comparator(spec.comparator_params,
                                     build_rng=self.sim.seeds.build_stream("comparator", "offset"),
                                     run_rng=self.sim.seeds.run_stream("comparator", "noise"))
        if spec.w_init is not None:
            self.set_weights_flat(spec.w_init)

    # -- weights -------------------------------------------------------------------
    def weights(self) -> list[np.ndarray]:
        """Effective normalised weights per layer, shape ``(n_in + 1, n_out)``."""
        return [xb.weights() for xb in self.crossbars]

    def weights_flat(self) -> np.ndarray:
        """All weights in the reference flat order (layer by layer, row-major)."""
        return np.concatenate([w.ravel() for w in self.weights()])

    def set_weights_flat(self, flat: np.ndarray) -> None:
        """Program every device so the chip realises the flat weight vector."""
        flat = np.asarray(flat, dtype=float)
        k = 0
        for xb, (a, b) in zip(self.crossbars, self.spec.shapes):
            xb.set_weights(flat[k : k + a * b].reshape(a, b))
            k += a * b
        if k != flat.size:
            raise ConfigError(f"Chip.set_weights_flat: expected {k} weights, got {flat.size}")

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

        This is the chip's DC transfer: each crossbar's present conductance matrix
        (loading included) into each neuron layer's settled closed-loop response
        (finite gain, offsets, rails, activation).  Used for per-epoch evaluation,
        which is a measurement, not part of training.
        """
        sp = self.spec.synapse_params
        vs = self.spec.neuron_params.v_sat
        X = np.atleast_2d(np.asarray(X, dtype=float))
        v = np.hstack([X * sp.v_read, np.full((X.shape[0], 1), sp.v_read)])
        o = None
        for l, (xb, nl) in enumerate(zip(self.crossbars, self.neurons)):
            I = v @ xb.effective_gain_matrix()
            o = nl.transfer(I, xb.column_conductance())
            if l < len(self.crossbars) - 1:
                v = np.hstack([o * (sp.v_read / vs), np.full((X.shape[0], 1), sp.v_read)])
        return o / vs

    # -- energy ----------------------------------------------------------------------
    def energy_j(self) -> float:
        """Energy drawn so far by every block (J)."""
        e = sum(xb.energy_j.total for xb in self.crossbars)
        e += sum(float(nl.energy_j) for nl in self.neurons)
        e += float(self.error.energy_j) + float(self.sh.energy_j) + float(self.writer.energy_j)
        e += float(self.comparator.energy_j)
        return e
