"""From a scenario to a trained chip: build, calibrate, run the controller, evaluate, report.

:func:`build_run` turns a validated :class:`~components.training.config.Scenario`
into a :class:`TrainingRun` (chip + controller + calibration); :meth:`TrainingRun.run`
simulates the training and returns a :class:`TrainResult`.

Calibration is what a chip designer does once per design (:mod:`components.training.design`):
choose the write voltage, the PWM clock, ``t_max`` and the perturbation width from the
device and the synaptic unit (keeping any the scenario sets), measure how fast a weight
moves under an update pulse (``kappa``, 1/s, at the mid weight, from two pulse widths so
rise and fall cancel) and set the PWM gain so that a width of ``alpha·|ΔJ|/(c·kappa)``
results.  Perturbation pulses get ``t_pert = c/kappa_pert`` unless the scenario fixes
``timing.t_pert``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from mssim.errors import ConfigError, SimulationError
from mssim.units import TICK, parse_quantity, to_seconds, to_ticks

from ..devices import preset
from ..errorcircuits import ComparatorParams, ErrorCircuitParams, PWMParams, SampleHoldParams
from ..learning import init_weights
from ..learning.datasets import task_from_config
from ..neurons import NeuronParams
from ..opamp import OpAmpParams
from ..pulses import PulseParams
from ..synapses import WEIGHT_INCREASING_POLARITY, CrossbarLayer, SynapseParams
from .chip import Chip, ChipSpec
from .config import Scenario
from .controller import Controller, ControllerConfig
from .design import (choose_edges, choose_read_cached, choose_voltage, choose_weight_span, design_chip, design_unit,
                     settle_time, unit_for_calibration)
from .program import program_verify
from ..synapses.topologies import source_conductance, weight_resistance

OPAMPS = ("ideal", "typical", "tl07x", "opa27")


def _num(v: Any) -> Any:
    """Parse unit strings ('16k', '8.9uA') to floats; keep other strings (names like 'linear')."""
    if isinstance(v, str):
        try:
            return parse_quantity(v)
        except ConfigError:
            return v
    return v


def _params(section: str, factory: Callable, overrides: dict[str, Any], **base: Any):
    kw = dict(base)
    kw.update({k: _num(v) for k, v in overrides.items()})
    try:
        return factory(**kw)
    except TypeError as exc:  # unknown keyword
        raise ConfigError(f"{section}: {exc}".replace("__init__() ", "")) from None
    except ConfigError as exc:
        raise ConfigError(f"{section}: {exc}") from None


def opamp_params(name: str, overrides: dict[str, Any]) -> OpAmpParams:
    """The op-amp named in a scenario (``ideal``, ``typical``, ``tl07x``, ``opa27``) with overrides."""
    ov = {k: _num(v) for k, v in overrides.items()}
    try:
        if name == "ideal":
            return OpAmpParams.ideal(**ov)
        if name == "typical":
            return OpAmpParams(**ov)
        if name == "tl07x":
            return OpAmpParams.tl07x(**ov)
        if name == "opa27":
            return OpAmpParams.opa27(**ov)
    except TypeError as exc:
        raise ConfigError(f"neuron.opamp_params: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"neuron.opamp_params: {exc}") from None
    raise ConfigError(f"neuron.opamp: unknown op-amp {name!r}; choose one of {', '.join(OPAMPS)}")


def device_params(scn: Scenario):
    """The scenario's device parameters (preset plus overrides by the papers' names)."""
    d = scn.device
    try:
        return preset(d.model, d.preset, **{k: _num(v) for k, v in d.params.items()})
    except TypeError as exc:
        raise ConfigError(f"device.params: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"device: {exc}") from None


def calibrate_kappa(dev, syn: SynapseParams, v: float, rise: float, fall: float, *, target_dw: float = 0.01,
                    field_name: str = "timing.v_write") -> float:
    """|dw/dt| (1/s) of one synapse at the mid weight under a weight-increasing write pulse of amplitude ``v``.

    Two flat-top widths ``T`` and ``2T`` (each with the same edges) are applied to fresh copies;
    the slope ``(w(2T) − w(T))/T`` excludes the edges' share.  ``T`` is searched from 1 ns down
    to 1 ps or up to 1 s until the flat top moves the weight by about ``target_dw``
    (:func:`components.training.design.measure`).  A voltage that cannot be calibrated is a
    ConfigError saying which way to go: below the switching threshold (raise it), switching
    within a picosecond or on the edges alone (lower it, or shorten the edges), or moving the
    weight the wrong way.
    """
    from .design import calibration_error, measure

    r = measure(dev, syn, v, rise, fall, 1, target_dw)
    if r.status != "ok":
        raise calibration_error(r, field_name)
    return r.kappa


#: Fields the blocks accept for hand-built circuits that a chip cannot use: (section, key, why).
INERT = [
    ("circuit.error", "pwl_tol", "it sets the knots of the event-level waveforms of hand-built circuits; the chip's engine "
                                 "has none"),
    ("circuit.sample_hold", "pwl_tol", "it sets the knots of the event-level waveforms of hand-built circuits; the chip's "
                                       "engine has none"),
    ("circuit.pulse", "width", "the PWM sets every pulse width"),
    ("circuit.pulse", "amplitude", "use timing.v_write (and timing.v_pert)"),
    ("synapse.params", "init", "the initial weights come from synapse.w_init"),
    ("synapse.params", "w_init_scale", "use synapse.w_init"),
]


def _refuse_inert(scn: Scenario) -> None:
    """Every setting a scenario accepts changes the simulation or is refused here, by name."""
    sections = {"circuit.error": scn.circuit.error, "circuit.sample_hold": scn.circuit.sample_hold,
                "circuit.pulse": scn.circuit.pulse, "synapse.params": scn.synapse.params}
    for sec, key, why in INERT:
        if key in sections[sec]:
            raise ConfigError(f"{sec}.{key}: has no effect on a chip ({why}); remove it")


@dataclass
class TrainResult:
    """What a training run produced."""

    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    events: list[dict[str, Any]]
    weights: list[np.ndarray]
    conductances: list[tuple[np.ndarray, ...]]
    waveforms: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    probes: list = field(default_factory=list)
    calibration: dict[str, float] = field(default_factory=dict)
    widths_s: np.ndarray | None = None  # every update-pulse width the PWM chose (s), in order


class TrainingRun:
    """A chip built from a scenario, ready to train.

    Attributes
    ----------
    task, chip, controller, cfg : the pieces, for inspection and scripting.
    """

    def __init__(self, scn: Scenario, *, record_pattern: int | None = None, progress: bool = False,
                 task=None) -> None:
        self.scn = scn
        t = scn.timing
        d = scn.data
        # ``task`` lets scripts and benchmarks train on their own data (a components.learning.Task).
        self.task = task if task is not None else task_from_config(d, scn.seed)
        sizes = (self.task.n_inputs, *scn.network.hidden, self.task.n_outputs)
        self.sizes = sizes
        _refuse_inert(scn)
        dev = device_params(scn)
        syn = _params("synapse.params", SynapseParams, scn.synapse.params, unit=scn.synapse.unit)
        cc = scn.circuit
        # The chip-design step (components.training.design), unit first: its operating point (pair and
        # bridge: the divider sum r_sum), then the read amplitude, then the write pulses.
        pulse0 = _params("circuit.pulse", PulseParams, cc.pulse, amplitude=1.0, rise=t.rise, fall=t.fall, clock=None)
        fixed_v = t.v_write if "v_write" in t.model_fields_set else None
        syn_given, t_given = syn, t

        def unit_design(tr_):
            """(edges' timing, unit, edge source, unit sources) designed for the training section tr_."""
            t, syn, p0 = t_given, syn_given, pulse0
            edge_source = "scenario"
            if not ({"rise", "fall"} & t.model_fields_set):  # the edges: short enough for the PWM to rule
                # the smallest updates are those of the last epoch (training.lr_decay shrinks alpha)
                alpha_end = float(tr_.alpha * tr_.lr_decay ** (tr_.epochs - 1))
                rise, fall = choose_edges(dev, syn, p0.rise, p0.fall, float(tr_.alpha), fixed_v, alpha_end)
                if (rise, fall) != (p0.rise, p0.fall):
                    t = t.model_copy(update={"rise": rise, "fall": fall})
                    p0 = _params("circuit.pulse", PulseParams, cc.pulse, amplitude=1.0, rise=rise, fall=fall,
                                 clock=None)
                edge_source = "designed"
            unit_sources = {}
            if syn.unit in ("pair", "bridge", "reference"):
                sp = scn.synapse.params
                syn = design_unit(dev, syn, p0.rise, p0.fall, float(tr_.alpha), fixed_v,
                                  "write_mid" in sp, "r_sum" in sp, "g_ref" in sp)
                if syn.unit == "reference":
                    unit_sources = {"g_ref": "scenario" if "g_ref" in sp else ("designed" if syn.g_ref is not None
                                                                               else "default")}
                else:
                    unit_sources = {"write_mid": "scenario" if "write_mid" in sp else "designed",
                                    "r_sum": "scenario" if "r_sum" in sp else ("designed" if syn.r_sum is not None
                                                                               else "default")}
            return t, syn, p0, edge_source, unit_sources

        # The weight span: the unit's weight per network weight (design.choose_weight_span), at the
        # write voltage the design uses for the scenario's alpha; below 1 the network's alpha, c and
        # w_init are written in the unit's weight (alpha·span², c·span, w_init·span) and the neurons'
        # gain per unit weight rises by 1/span (R_f below), and the design is made for those.
        tr_net = scn.training
        t, syn, pulse0, self.edge_source, self.unit_sources = unit_design(tr_net)
        v_span = fixed_v if fixed_v is not None else choose_voltage(dev, syn, pulse0.rise, pulse0.fall,
                                                                    float(tr_net.alpha))[0]
        self.w_span = choose_weight_span(dev, syn, float(v_span), pulse0.rise, pulse0.fall)
        if self.w_span < 1.0:
            s_ = self.w_span
            tr_chip = tr_net.model_copy(update={"alpha": tr_net.alpha * s_ * s_, "c": tr_net.c * s_})
            t, syn, pulse0, self.edge_source, self.unit_sources = unit_design(tr_chip)
        else:
            tr_chip = tr_net
        #: The training section in the unit's weight (the scenario's own when the weight span is 1).
        self.training_chip = tr_chip
        if "v_read" in scn.synapse.params:
            self.v_read_source = "scenario"
        else:
            syn = syn.with_values(v_read=choose_read_cached(dev, syn, float(tr_chip.alpha)))
            self.v_read_source = "designed"
        op = opamp_params(scn.neuron.opamp, scn.neuron.opamp_params)
        ng = scn.neuron
        # Neuron gain: R_f = gain·R_w·v_sat/v_read makes v_sat·act(gain·Σ w x), with R_w the unit's
        # resistance per unit weight (R_in for pair and bridge, exact when buffered; 1/(G_on − G_off)
        # for differential, twice that for reference): every unit gets the same weight-to-output gain.
        cal = unit_for_calibration(dev, syn)
        r_f = ng.gain * weight_resistance(syn.unit, cal.r_lo, cal.r_hi, syn.r_in) * ng.v_sat / syn.v_read / self.w_span
        neu = _params("neuron", NeuronParams, {}, r_f=r_f, activation=ng.activation, v_sat=ng.v_sat, invert=False, opamp=op)
        ideal = op.instant
        cc = scn.circuit
        err = _params("circuit.error", ErrorCircuitParams, cc.error, opamp=op)
        sh = _params("circuit.sample_hold", SampleHoldParams, cc.sample_hold, **({"t_acq": 0.0, "opamp": op} if ideal else {}))
        cmp_ = _params("circuit.comparator", ComparatorParams, cc.comparator)
        # The write pulses (components.training.design): v_write, clock, t_max and t_pert from the
        # device and the unit, each kept as given where the scenario sets it.
        self.design = design_chip(dev, syn, t, tr_chip, pulse0.rise, pulse0.fall)
        dz = self.design
        #: The timing section as built: the scenario's values with the designed ones filled in.
        upd = {"v_write": dz.v_write, "clock": dz.clock, "t_max": dz.t_max}
        # t_settle: the neurons' settling with this unit, read amplitude and feedback resistor
        usrc = float(source_conductance(syn.unit, cal._conductances(), syn.r_in, syn.buffer).ravel()[0])
        self.t_settle_designed = settle_time(op, r_f, usrc, sizes, ng.v_sat)
        if "t_settle" not in t.model_fields_set:
            upd["t_settle"] = self.t_settle_designed
        self.t_settle_source = "scenario" if "t_settle" in t.model_fields_set else "designed"
        self.timing = t.model_copy(update=upd)
        t = self.timing
        pulse = _params("circuit.pulse", PulseParams, cc.pulse, amplitude=t.v_write, rise=t.rise, fall=t.fall, clock=None)
        self.calibration = {"kappa_per_s": dz.kappa, "kappa_pert_per_s": dz.kappa_pert}
        v_pert = dz.v_pert
        j_scale = err.sum_gain * err.k_sq * err.sub_gain ** 2 * ng.v_sat ** 2
        tr = tr_chip
        clock = t.clock if t.clock > 0 else TICK
        # SPSA halves it per step; timing.width_scale stretches every update width
        gain = t.width_scale * tr.alpha / (tr.c * self.calibration["kappa_per_s"] * j_scale)
        pwm = _params("circuit.pwm", PWMParams, cc.pwm, gain=gain, clock=clock, t_min=t.t_min, t_max=t.t_max)
        kp = self.calibration["kappa_pert_per_s"]
        if t.t_pert is not None:
            kp = tr.c / t.t_pert  # a fixed perturbation width: the controller asks for c at this rate
        self.cfg = ControllerConfig(
            sizes=sizes, algorithm=tr.algorithm, rule=tr.rule, perturbation=tr.perturbation, signs=tr.signs,
            epochs=tr.epochs, alpha=tr.alpha, c=tr.c, lr_decay=tr.lr_decay, c_decay=tr.c_decay,
            t_settle=to_ticks(t.t_settle, name="timing.t_settle"), t_pert=to_ticks(t.t_pert or 0.0),
            gap=to_ticks(t.gap, name="timing.gap"), v_write=t.v_write, v_pert=v_pert,
            kappa=self.calibration["kappa_per_s"], kappa_pert=kp, j_scale=j_scale,
            v_read=syn.v_read, v_sat=ng.v_sat, pwm=pwm, eval_every=tr.eval_every, width_scale=t.width_scale)
        w0 = np.concatenate([w.ravel() for w in init_weights(sizes, seed=scn.seed,
                                                             scale=scn.synapse.w_init * self.w_span)])
        verify = scn.program.method == "verify"  # program-and-verify from the unprogrammed chip (program.py)
        if verify and syn.init_spread > 0:
            raise ConfigError("synapse.params.init_spread: the error of the direct set; with program.method = 'verify' "
                              "the weights are written with pulses to within program.tol; remove init_spread")
        spec = ChipSpec(sizes=sizes, device_params=dev, synapse_params=syn.with_values(init="mid"), neuron_params=neu,
                        error_params=err, sh_params=sh, comparator_params=cmp_, pulse_params=pulse, pwm_params=pwm,
                        w_init=None if verify else w0)
        self.history: list[dict[str, Any]] = []
        self._t_wall = time.perf_counter()
        self._progress = None
        if progress:
            from tqdm import tqdm

            self._progress = tqdm(total=tr.epochs, desc=scn.name, unit="epoch", leave=False)
        self.record_pattern = record_pattern
        self.probes: list = []
        self.chip = Chip(spec, lambda chip: Controller(self.cfg, self.task, chip, on_epoch=self._on_epoch,
                                                       on_pattern=self._on_pattern),
                         seed=scn.seed, run_seed=scn.run_seed)
        self.controller = self.chip.controller
        self.engine = self.chip.engine
        self.sim = self.chip.sim
        self.sim.muted_kinds |= {"pulse", "sample_hold"}
        #: What a device built from data took from it (table model), and the program-and-verify report.
        self.device_table = dev.summary() if hasattr(dev, "summary") else None
        if self.device_table is not None:
            self.sim.log("device_table", **self.device_table)
        self.program = program_verify(self, w0) if verify else None
        self.initial_weights = self.chip.weights_flat()
        self.faults = None
        if scn.faults.events:
            from ..faults import FaultInjector

            self.faults = FaultInjector(self, scn.faults.events)
        self.sim.log("calibration", **self.calibration, t_pert_s=to_seconds(self.controller.width_for(tr.c, kp)),
                     pwm_gain_s_per_v=gain)
        self.sim.log("design", **self.design_record())
        self._rec_nets: list = []
        #: One-line warnings raised during the run (also in events.jsonl and metrics.json).
        self.warnings: list[str] = []
        self._warn_kinds: dict[str, tuple[int, int, float, str]] = {}

    def design_record(self) -> dict[str, Any]:
        """The design step's choices (events.jsonl ``design`` and metrics.json ``design``)."""
        rec = self.design.record()
        rec["v_read_v"] = self.chip.spec.synapse_params.v_read
        rec["source"]["v_read"] = self.v_read_source
        rec["r_sum_ohm"] = self.chip.spec.synapse_params.r_sum
        rec["write_mid"] = self.chip.spec.synapse_params.write_mid
        rec["g_ref_s"] = self.chip.spec.synapse_params.g_ref
        rec["source"].update(self.unit_sources)
        rec["r_f_ohm"] = self.chip.spec.neuron_params.r_f
        rec["w_span"] = self.w_span
        rec["source"]["w_span"] = "designed"
        rec["t_settle_s"] = self.timing.t_settle
        rec["rise_s"], rec["fall_s"] = self.timing.rise, self.timing.fall
        rec["source"]["rise"] = rec["source"]["fall"] = self.edge_source
        rec["source"]["t_settle"] = self.t_settle_source
        return rec

    # -- callbacks -----------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Settled-chip losses and accuracies on the train and test sets (normalised J)."""
        from ..learning import accuracy

        task = self.task
        out = {}
        for split, X, Y, lab in (("train", task.x_train, task.y_train, task.labels_train),
                                 ("test", task.x_test, task.y_test, task.labels_test)):
            o = self.chip.infer(X)
            if not np.all(np.isfinite(o)):
                raise SimulationError(f"chip outputs became non-finite at epoch {self.controller.epoch}")
            out[f"{split}_loss"] = float(np.mean(0.5 * np.sum((Y - o) ** 2, axis=1)))
            out[f"{split}_accuracy"] = float(accuracy(o, lab, task))
        return out

    def _on_epoch(self, epoch: int) -> bool:
        tr = self.scn.training
        last = epoch == tr.epochs - 1
        widths = self._width_stats(epoch)  # every epoch: its event and warnings
        if (epoch + 1) % tr.eval_every and not last:
            return False
        eb = self.chip.energy_breakdown()
        row = {"epoch": epoch + 1, **self.evaluate(), "sim_time_s": self.sim.now_s, "energy_j": float(sum(eb.values())),
               "energy_read_j": eb["crossbar_read"], "energy_write_j": eb["crossbar_write"],
               "energy_static_j": float(sum(eb.values())) - eb["crossbar_read"] - eb["crossbar_write"],
               "write_pulses": self.controller.update_pulses + self.controller.pert_pulses,
               **widths}
        self.history.append(row)
        if self._progress is not None:
            self._progress.update(epoch + 1 - self._progress.n)
            self._progress.set_postfix(train=f"{100 * row['train_accuracy']:.1f}%", loss=f"{row['train_loss']:.4f}")
        stop = tr.stop_at_accuracy is not None and row["train_accuracy"] >= tr.stop_at_accuracy
        return bool(stop)

    def _width_stats(self, epoch: int) -> dict[str, float]:
        """Update-pulse widths of this epoch as the PWM chose them: median, min and max (s) of the
        non-zero ones, the fraction rounded to zero clock periods and the fraction clipped at
        t_max (an "update_widths" entry in events.jsonl every epoch).  More than 5 % zero or
        clipped gives one warning (events.jsonl, metrics.json)."""
        w = np.asarray(self.controller.widths, dtype=np.int64)
        tmax = self.controller.pwm.params.t_max_ticks
        nz = w[w > 0]
        n = max(len(w), 1)
        st = {"width_median_s": float(np.median(nz)) * TICK if nz.size else 0.0,
              "width_min_s": float(nz.min()) * TICK if nz.size else 0.0,
              "width_max_s": float(nz.max()) * TICK if nz.size else 0.0,
              "width_frac_zero": float(np.count_nonzero(w == 0)) / n,
              "width_frac_clipped": float(np.count_nonzero(w >= tmax)) / n}
        if len(w):
            self.sim.log("update_widths", epoch=epoch + 1, pulses=int(len(w)), zero=int(np.count_nonzero(w == 0)),
                         clipped=int(np.count_nonzero(w >= tmax)), median_s=st["width_median_s"])
        for key, what, fix in (("width_frac_zero", "rounded to zero clock periods",
                                "use a finer timing.clock, a larger training.alpha or a lower timing.v_write"),
                               ("width_frac_clipped", "clipped at timing.t_max",
                                "raise timing.t_max, lower training.alpha or raise timing.v_write")):
            if st[key] > 0.05:
                msg = (f"epoch {epoch + 1}: {100 * st[key]:.0f} % of the update pulses were {what}; {fix}")
                self.warnings.append(msg)
                self.sim.log("warning", message=msg)
                n, first, worst, _ = self._warn_kinds.get(what, (0, epoch + 1, 0.0, fix))
                self._warn_kinds[what] = (n + 1, first, max(worst, st[key]), fix)
        return st

    def _on_pattern(self, k: int) -> None:
        """Start and stop recording one training step.  Recording is an observer: the engine keeps
        its sub-steps and the controller posts its port values, nothing else changes."""
        if self.record_pattern is None:
            return
        if k == self.record_pattern:
            self.engine.start_recording()
            self.controller.recording = True
            self._rec_nets = [self.sim.probe(n) for n in ("controller.phase", "controller.hold")]
        elif k == self.record_pattern + 1:
            self._finish_recording()

    def _finish_recording(self) -> None:
        if not self.controller.recording:
            return
        self.controller.recording = False
        end = self.engine.t_state
        for p in self._rec_nets:  # close each trace at the end of the recorded step
            p.record(end, self.sim.net(p.name).value())
            p.stop()
        eng = self.engine.stop_recording()
        order = ["controller.x", "controller.target", "controller.phase", "controller.hold", "writer.out"]
        order += [f"neuron{l}.out" for l in range(len(self.chip.neurons))] + ["error.j", "sh.out"]
        byname = {**eng, **{p.name: p for p in self._rec_nets}}
        order += sorted(n for n in eng if n.endswith(".w"))
        self.probes = [byname[n] for n in order]

    # -- run --------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Simulate the whole training; returns the result."""
        self.sim.log("run_start", seed=self.scn.seed, sizes=list(self.sizes))
        proc = self.sim.processes["controller"]
        try:
            self.sim.env.run(until=proc)
        finally:
            if self._progress is not None:
                self._progress.close()
        self._finish_recording()
        self.sim.log("run_end", patterns=self.controller.patterns_done)
        wall = time.perf_counter() - self._t_wall
        last = self.history[-1] if self.history else {"epoch": 0, **self.evaluate()}
        ctl = self.controller
        metrics = {
            "name": self.scn.name,
            "seed": self.scn.seed,
            "run_seed": self.scn.run_seed if self.scn.run_seed is not None else self.scn.seed,
            "task": self.scn.data.task,
            "sizes": list(self.sizes),
            "epochs": int(last["epoch"]),
            "train_accuracy": last["train_accuracy"],
            "test_accuracy": last["test_accuracy"],
            "train_loss": last["train_loss"],
            "test_loss": last["test_loss"],
            "sim_time_s": self.sim.now_s,
            "wall_time_s": wall,
            "energy_j": self.chip.energy_j(),
            "energy_breakdown_j": self.chip.energy_breakdown(),
            "energy_per_update_j": self.chip.energy_j() / max(ctl.patterns_done, 1),
            "write_energy_per_pulse_j": (self.chip.energy_breakdown()["crossbar_write"]
                                         / max(ctl.update_pulses + ctl.pert_pulses, 1)),
            "read_disturb_events": self.engine.disturb_events,
            "t_max_s": self.controller.pwm.params.t_max_ticks * TICK,
            "warnings": len(self.warnings),
            "warning_messages": list(self.warnings),
            "warning_summary": [f"in {n} epoch(s) from epoch {first}, more than 5 % (up to {100 * w:.0f} %) of "
                                f"the update pulses were {what}; {fix}"
                                for what, (n, first, w, fix) in self._warn_kinds.items()],
            "real_time_factor": (self.sim.now_s / wall) if wall > 0 else None,
            "write_pulses": ctl.update_pulses + ctl.pert_pulses,
            "update_pulses": ctl.update_pulses,
            "perturbation_pulses": ctl.pert_pulses,
            "device_pulses": ctl.device_pulses,
            "patterns": ctl.patterns_done,
            "calibration": self.calibration,
            "design": self.design_record(),
        }
        if self.device_table is not None:
            metrics["device_table"] = self.device_table
        if self.program is not None:
            metrics["program"] = self.program
        waveforms = {}
        for p in self.probes:
            t, v = p.arrays()
            waveforms[p.name] = (t * TICK, v)
        return TrainResult(
            history=self.history, metrics=metrics, events=self.sim.events, weights=self.chip.weights(),
            conductances=[tuple(1.0 / r for r in xb.resistances()) for xb in self.chip.crossbars],
            waveforms=waveforms, probes=self.probes, calibration=self.calibration,
            widths_s=np.asarray(self.controller.all_widths, dtype=float) * TICK)


def train(scn: Scenario, *, record_pattern: int | None = None, progress: bool = False) -> TrainResult:
    """Build the chip a scenario describes and train it.  See :class:`TrainingRun`."""
    return TrainingRun(scn, record_pattern=record_pattern, progress=progress).run()
