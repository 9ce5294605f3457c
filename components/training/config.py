"""The scenario schema: what a training experiment file may contain.

Validated with pydantic (``extra="forbid"`` everywhere, so a misspelt key is an
error with a did-you-mean).  Values with units accept numbers in SI units or
strings such as ``"10us"``, ``"0.9 V"``, ``"16k"``; durations must be whole
picoseconds.  Device, op-amp and synapse parameter overrides are passed on to
those components' own validated dataclasses.

Sections: ``seed``, ``name``, ``base`` (handled by the loader), ``[data]``,
``[network]``, ``[device]``, ``[synapse]``, ``[program]``, ``[neuron]``, ``[timing]``,
``[training]``, ``[faults]``, ``[sweep]``, ``[output]``.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from mssim.errors import ConfigError
from mssim.scenario import format_validation_error, load_scenario
from mssim.units import parse_quantity, to_ticks


def _q(unit: str):
    def conv(v: Any) -> Any:
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            try:
                return parse_quantity(v, unit)
            except ConfigError as exc:
                raise ValueError(str(exc).split(": ", 1)[-1]) from None
        return v

    return BeforeValidator(conv)


#: Longest duration a scenario may give (s): longer ones are typos (and overflow integer ticks).
MAX_SECONDS = 1e6


def _duration(v: Any) -> Any:
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        try:
            secs = parse_quantity(v, "s")
            if abs(secs) > MAX_SECONDS:  # also refuses inf before it reaches the integer ticks
                raise ValueError(f"must be at most {MAX_SECONDS:g} s")
            to_ticks(secs)
        except ConfigError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
        return secs
    return v


Seconds = Annotated[float, BeforeValidator(_duration), Field(ge=0)]
PosSeconds = Annotated[float, BeforeValidator(_duration), Field(gt=0)]
Volts = Annotated[float, _q("V")]
Ohms = Annotated[float, _q("ohm"), Field(gt=0)]


class _Section(BaseModel):
    # allow_inf_nan=False: "inf" and "nan" are refused in every float field (they would reach the results)
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class DataConfig(_Section):
    """Which task to learn and how to split it."""

    task: Literal["xor", "parity3", "iris", "breast_cancer", "wine", "digits", "synthetic"] = "iris"
    test_fraction: float | None = Field(default=None, gt=0, lt=1)
    target: float = Field(default=0.8, gt=0, le=1)
    # task = "synthetic" only (scaling studies; components.learning.datasets.synthetic_task):
    n_inputs: int | None = Field(default=None, ge=1, le=100000)
    n_outputs: int | None = Field(default=None, ge=1, le=10000)
    n_patterns: int | None = Field(default=None, ge=2, le=10**7)

    @model_validator(mode="after")
    def _synthetic_sizes(self):
        sizes = (self.n_inputs, self.n_outputs, self.n_patterns)
        if self.task == "synthetic" and None in sizes:
            raise ValueError("task 'synthetic' needs n_inputs, n_outputs and n_patterns")
        if self.task != "synthetic" and sizes != (None, None, None):
            raise ValueError(f"n_inputs, n_outputs and n_patterns are for task 'synthetic' only (task is {self.task!r})")
        return self


class NetworkConfig(_Section):
    """Hidden layer sizes; input and output sizes come from the task."""

    hidden: list[Annotated[int, Field(ge=1, le=4096)]] = Field(default_factory=lambda: [8])


class DeviceConfig(_Section):
    """Memristor model, preset, and overrides by the papers' parameter names."""

    model: Literal["hp", "team", "vteam", "yakopcic", "table"] = "team"
    preset: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class SynapseConfig(_Section):
    """Synaptic unit and crossbar options (see ``components.synapses.SynapseParams``)."""

    unit: Literal["pair", "differential", "bridge", "reference"] = "pair"
    params: dict[str, Any] = Field(default_factory=dict)
    w_init: float = Field(default=0.3, ge=0, lt=1)


class ProgramConfig(_Section):
    """How the initial weights are written (``components.training.program``).

    ``method = "direct"`` (default) sets every device to its target state at build time, as a
    perfect programmer would.  ``method = "verify"`` starts from the unprogrammed chip (every
    synapse at weight 0, its devices at mid-range resistances) and writes each weight with
    write pulses through the crossbars' own write path, reading it back after every pulse, until it is within ``tol`` of
    its target or has had ``max_pulses`` pulses.  ``stepping = "width"``: pulses of
    ``timing.v_write``; a weight's width starts at ``width`` and grows by ``grow`` while the
    error keeps its sign, halving when it overshoots.  ``stepping = "amplitude"``: pulses of
    ``width``; the amplitude starts at ``v_start`` and rises by ``v_step`` (at most ``v_max``)
    while the error keeps its sign, restarting at ``v_start`` when it overshoots.  Every
    verify read takes ``t_verify`` per crossbar row.  Defaults (verify only): tol 0.02,
    max_pulses 100, stepping width, width = tol/kappa (the calibrated weight rate at v_write),
    grow 1.5, v_start v_write/2, v_step v_write/20, v_max 1.5·v_write, t_verify 1 us.
    """

    method: Literal["direct", "verify"] = "direct"
    tol: float | None = Field(default=None, gt=0, lt=1)
    max_pulses: int | None = Field(default=None, ge=1, le=100000)
    stepping: Literal["width", "amplitude"] | None = None
    width: PosSeconds | None = None
    grow: float | None = Field(default=None, gt=1, le=100)
    v_start: Volts | None = Field(default=None, gt=0, le=1000)
    v_step: Volts | None = Field(default=None, gt=0, le=1000)
    v_max: Volts | None = Field(default=None, gt=0, le=1000)
    t_verify: PosSeconds | None = None

    @model_validator(mode="after")
    def _consistent(self):
        given = [k for k in ("tol", "max_pulses", "stepping", "width", "grow", "v_start", "v_step", "v_max", "t_verify")
                 if getattr(self, k) is not None]
        if self.method == "direct" and given:
            raise ValueError(f"{', '.join(given)}: only used with method = 'verify' (the direct set writes no pulses); "
                             "set method = 'verify' or remove them")
        stepping = self.stepping or "width"
        amp_only = [k for k in ("v_start", "v_step", "v_max") if getattr(self, k) is not None]
        if stepping == "width" and amp_only:
            raise ValueError(f"{', '.join(amp_only)}: only used with stepping = 'amplitude' (width stepping writes at "
                             "timing.v_write); set stepping = 'amplitude' or remove them")
        if stepping == "amplitude" and self.grow is not None:
            raise ValueError("grow: only used with stepping = 'width' (amplitude stepping adds v_step); remove it")
        if self.v_start is not None and self.v_max is not None and self.v_start > self.v_max:
            raise ValueError(f"v_start ({self.v_start:g} V) must not exceed v_max ({self.v_max:g} V)")
        return self


class NeuronConfig(_Section):
    """Neuron activation and op-amp."""

    activation: Literal["rails", "tanh", "clip", "linear"] = "tanh"
    gain: float = Field(default=2.0, gt=0, le=1e6)
    v_sat: Volts = Field(default=1.0, gt=0, le=1000)
    opamp: str = "typical"
    opamp_params: dict[str, Any] = Field(default_factory=dict)


class TimingConfig(_Section):
    """Durations of one training step (all whole picoseconds)."""

    t_settle: PosSeconds = 2e-6
    t_pert: PosSeconds | None = None
    rise: Seconds = 5e-9
    fall: Seconds = 5e-9
    gap: Seconds = 100e-9
    clock: Seconds = 1e-9
    t_min: Seconds = 0.0
    t_max: PosSeconds = 10e-6
    v_write: Volts = 1.0
    v_pert: Volts | None = None
    width_scale: float = Field(default=1.0, gt=0, le=1e6)
    """Multiplies every update-pulse width the PWM chooses (its gain): a sweep of the update width
    itself, with the learning rule and the perturbation unchanged."""

    @model_validator(mode="after")
    def _order(self):
        if self.t_min > self.t_max:
            raise ValueError(f"t_min ({self.t_min:g} s) must not exceed t_max ({self.t_max:g} s)")
        return self


class CircuitConfig(_Section):
    """Overrides for the error circuit, sample-and-hold, comparator and write-pulse generator
    (fields of ``ErrorCircuitParams``, ``SampleHoldParams``, ``ComparatorParams``, ``PulseParams``)."""

    error: dict[str, Any] = Field(default_factory=dict)
    sample_hold: dict[str, Any] = Field(default_factory=dict)
    comparator: dict[str, Any] = Field(default_factory=dict)
    pulse: dict[str, Any] = Field(default_factory=dict)
    pwm: dict[str, Any] = Field(default_factory=dict)
    """``PWMParams`` fields other than those the timing section sets (gain, clock, t_min, t_max):
    ``e_conversion``, ``below_min``, ``rounding``."""


class TrainingConfig(_Section):
    """The learning rule and its hyper-parameters."""

    algorithm: Literal["wsp", "serial_wp", "rwc"] = "wsp"
    rule: Literal["maeda", "spsa", "sign"] = "maeda"
    perturbation: Literal["electrical", "written"] = "electrical"
    signs: Literal["stream", "lfsr"] = "stream"
    epochs: int = Field(default=50, ge=1, le=100000)
    alpha: float = Field(default=0.1, gt=0, le=1e3)
    c: float = Field(default=0.05, gt=0, lt=1)
    lr_decay: float = Field(default=1.0, gt=0, le=1)
    c_decay: float = Field(default=1.0, gt=0, le=1)
    eval_every: int = Field(default=1, ge=1)
    stop_at_accuracy: float | None = Field(default=None, gt=0, le=1)
    baselines: list[Literal["ideal_wsp", "backprop"]] = Field(default_factory=list)


#: Final metrics a sweep can plot and tabulate (the columns of sweep.csv after the keys and the seed).
SWEEP_METRICS = ["train_accuracy", "test_accuracy", "train_loss", "test_loss", "epochs", "epochs_to_accuracy",
                 "time_to_accuracy_s", "sim_time_s", "energy_j", "write_pulses", "patterns"]

FAULT_KINDS = ("stuck_on", "stuck_off", "open", "drift", "opamp_offset", "opamp_stuck", "drop_pulse", "jitter", "amplitude")
DEVICE_FAULTS = ("stuck_on", "stuck_off", "open", "drift")
NEURON_FAULTS = ("opamp_offset", "opamp_stuck")
PULSE_FAULTS = ("drop_pulse", "jitter", "amplitude")


class FaultConfig(_Section):
    """One fault injection (semantics in ``components.faults`` and docs/scenarios.md).

    When: ``at_time`` (simulated time) or ``at_epoch`` (start of that epoch), default the
    start of the run; with ``rate`` the fault recurs from then on at ``rate`` per device
    (or neuron, or pulse) per pulse (``per = "pulse"``) or per second (``per = "s"``).
    Where: ``layer`` (default every layer) and ``devices`` / ``neurons`` (explicit indices),
    or ``fraction`` / ``count`` chosen at random from the run stream ``faults/<i>``.
    """

    kind: Literal["stuck_on", "stuck_off", "open", "drift", "opamp_offset", "opamp_stuck", "drop_pulse", "jitter", "amplitude"]
    at_epoch: int | None = Field(default=None, ge=0)
    at_time: Seconds | None = None
    rate: float | None = Field(default=None, gt=0)
    per: Literal["pulse", "s"] = "pulse"
    fraction: float | None = Field(default=None, ge=0, le=1)
    count: int | None = Field(default=None, ge=0)
    layer: int | None = Field(default=None, ge=0)
    devices: list[Annotated[int, Field(ge=0)]] | None = None
    neurons: list[Annotated[int, Field(ge=0)]] | None = None
    value: float | None = None
    std: float | None = Field(default=None, ge=0)
    period: PosSeconds | None = None
    pulses: Literal["all", "update", "pert"] = "all"

    @field_validator("value", "std", "rate")
    @classmethod
    def _finite(cls, v):
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        k = self.kind
        if self.at_epoch is not None and self.at_time is not None:
            raise ValueError("give at_epoch or at_time, not both")
        picks = [n for n in ("fraction", "count", "devices", "neurons") if getattr(self, n) is not None]
        if len(picks) > 1:
            raise ValueError(f"choose the location one way: {' or '.join(picks)}, not several")
        if self.devices is not None and k not in DEVICE_FAULTS:
            raise ValueError(f"{k} is not a device fault; use neurons = [...] for op-amp faults" if k in NEURON_FAULTS
                             else f"{k} acts on write pulses and takes no devices")
        if self.neurons is not None and k not in NEURON_FAULTS:
            raise ValueError(f"neurons = [...] belongs to opamp_offset / opamp_stuck, not {k}")
        if (self.devices is not None or self.neurons is not None) and self.layer is None:
            raise ValueError("explicit indices need layer = L (indices are per layer)")
        if k in PULSE_FAULTS and (self.fraction is not None or self.layer is not None):
            raise ValueError(f"{k} acts on the global write pulse; it takes no layer or fraction")
        if k == "drift":
            if self.rate is not None:
                raise ValueError("drift has no injection rate; put the relative resistance drift rate (1/s) in value")
            if self.value is None:
                raise ValueError("drift needs value = relative resistance drift rate (1/s), e.g. 2 (std: per-device spread)")
        elif self.period is not None:
            raise ValueError("period (the drift update period) only applies to kind = 'drift'")
        if k in ("opamp_offset", "opamp_stuck") and self.value is None:
            raise ValueError(f"{k} needs value (V): the {'input offset' if k == 'opamp_offset' else 'stuck output voltage'}")
        if k in ("jitter", "amplitude") and self.rate is not None:
            raise ValueError(f"{k} is a lasting degradation from its onset; it takes no rate")
        if k == "jitter" and not (self.value and self.value > 0):
            raise ValueError("jitter needs value = rms edge jitter (s, > 0)")
        if k == "amplitude" and self.value is None and not self.std:
            raise ValueError("amplitude needs value (relative amplitude error, e.g. -0.1) and/or std (relative rms)")
        if k == "drop_pulse" and self.rate is not None and self.per == "pulse" and self.rate > 1:
            raise ValueError(f"a per-pulse drop rate is a probability; must not exceed 1 (got {self.rate})")
        if k in DEVICE_FAULTS[:3] + NEURON_FAULTS and self.rate is None and not picks and k != "opamp_offset":
            raise ValueError("say where: devices/neurons = [...] with layer, fraction, count, or a rate")
        if self.rate is not None and (self.fraction is not None or self.count is not None):
            raise ValueError("with a rate, the faulty devices are drawn as time passes; drop fraction/count")
        if k in DEVICE_FAULTS[:3] + NEURON_FAULTS and self.rate is not None and self.per == "pulse" and self.rate > 1:
            raise ValueError(f"a per-pulse fault rate is a probability per device; must not exceed 1 (got {self.rate})")
        return self


class FaultsConfig(_Section):
    """Fault injections: ``[[faults.events]]`` tables."""

    events: list[FaultConfig] = Field(default_factory=list)


class RandomRange(_Section):
    """A continuous range for ``design = "random"``: uniform (or log-uniform) in [low, high]."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _order(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"need finite low <= high (got {self.low!r}, {self.high!r})")
        if self.log and self.low <= 0:
            raise ValueError(f"log ranges need low > 0 (got {self.low!r})")
        return self


class SweepConfig(_Section):
    """A parameter sweep: grid, zipped or random designs over dotted keys (see ``components.training.sweep``).

    ``params`` maps dotted keys (``"timing.t_settle"``, ``"faults.events.0.fraction"``) to
    lists of values (grid: every combination; zip: element by element, equal lengths;
    random: ``samples`` draws, each key from its list, or from a ``{low, high, log}`` range).
    Every design point runs once per seed: ``seeds`` explicitly, else ``repeats`` seeds
    ``seed, seed + 1, ...`` from the scenario's seed.
    """

    design: Literal["grid", "zip", "random"] = "grid"
    params: dict[str, list[Any] | RandomRange] = Field(default_factory=dict)
    samples: int = Field(default=10, ge=1, le=100000)
    seeds: list[Annotated[int, Field(ge=0)]] | None = None
    repeats: int = Field(default=1, ge=1, le=10000)
    metric: str = "test_accuracy"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v):
        if v not in SWEEP_METRICS:
            close = difflib.get_close_matches(v, SWEEP_METRICS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(SWEEP_METRICS)}"
            raise ValueError(f"unknown metric {v!r}; {hint}")
        return v

    @model_validator(mode="after")
    def _shape(self):
        for key, vals in self.params.items():
            parts = key.split(".")
            if not key or any(not p for p in parts):
                raise ValueError(f"params key {key!r} is not a dotted key such as 'timing.t_settle'")
            if parts[0] in ("sweep", "base"):
                raise ValueError(f"params key {key!r}: the sweep cannot sweep its own section or 'base'")
            if isinstance(vals, list) and not vals:
                raise ValueError(f"params.{key}: give at least one value")
            if isinstance(vals, RandomRange) and self.design != "random":
                raise ValueError(f"params.{key}: a {{low, high}} range needs design = 'random'; give a list of values")
        if self.design == "zip":
            lens = {k: len(v) for k, v in self.params.items()}
            if len(set(lens.values())) > 1:
                raise ValueError(f"zip design needs lists of equal length (got {lens})")
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must not repeat (got {self.seeds})")
        return self


class OutputConfig(_Section):
    """What a run writes."""

    dir: str | None = None

    @field_validator("dir")
    @classmethod
    def _dir_named(cls, v):
        if v is not None and v.strip() in ("", ".", ".."):
            raise ValueError("must name a results folder such as 'results/xor' (an empty name would write into the "
                             "current folder)")
        return v
    plots: bool = True
    vcd: bool = False
    vcd_pattern: int = Field(default=0, ge=0)
    progress: bool = True


class Scenario(_Section):
    """A whole experiment."""

    name: str = "scenario"
    seed: int = Field(default=1, ge=0)

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, v):
        # the default results folder is results/<name>: an empty name would be results/ itself
        if not v.strip() or v.strip() in (".", "..") or any(c in v for c in "/\\\0") or v.startswith("."):
            raise ValueError("must be a plain folder name such as 'xor_run' (not empty, no '/', not starting with "
                             "'.'): the default results folder is results/<name>")
        return v
    run_seed: int | None = Field(default=None, ge=0)
    data: DataConfig = Field(default_factory=DataConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    synapse: SynapseConfig = Field(default_factory=SynapseConfig)
    program: ProgramConfig = Field(default_factory=ProgramConfig)
    neuron: NeuronConfig = Field(default_factory=NeuronConfig)
    timing: TimingConfig = Field(default_factory=TimingConfig)
    circuit: CircuitConfig = Field(default_factory=CircuitConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    faults: FaultsConfig = Field(default_factory=FaultsConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)


def validate_scenario(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a loaded scenario dict; errors name the source and dotted field."""
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, source, Scenario) from None
    check_parameter_keys(scn, source)
    return scn


def check_parameter_keys(scn: Scenario, source: str) -> None:
    """Refuse a key of a component-parameter table (``device.params``, ``synapse.params``,
    ``neuron.opamp_params``, ``circuit.*``) that the component's parameter class does not have,
    with the dotted key and a did-you-mean.  Values are checked by the classes themselves when
    the chip is built."""
    from dataclasses import fields

    from ..devices import MODELS
    from ..errorcircuits import ComparatorParams, ErrorCircuitParams, PWMParams, SampleHoldParams
    from ..opamp import OpAmpParams
    from ..pulses import PulseParams
    from ..synapses import SynapseParams

    tables = [("device.params", MODELS[scn.device.model], scn.device.params),
              ("synapse.params", SynapseParams, scn.synapse.params),
              ("neuron.opamp_params", OpAmpParams, scn.neuron.opamp_params),
              ("circuit.error", ErrorCircuitParams, scn.circuit.error),
              ("circuit.sample_hold", SampleHoldParams, scn.circuit.sample_hold),
              ("circuit.comparator", ComparatorParams, scn.circuit.comparator),
              ("circuit.pulse", PulseParams, scn.circuit.pulse),
              ("circuit.pwm", PWMParams, scn.circuit.pwm)]
    for where, cls, table in tables:
        known = [f.name for f in fields(cls) if f.init]
        if where == "circuit.pwm":  # the timing section sets these
            for key in ("gain", "clock", "t_min", "t_max"):
                if key in table:
                    raise ConfigError(f"{source}: circuit.pwm.{key}: set by the timing section "
                                      f"({'training.alpha' if key == 'gain' else 'timing.' + key}); remove it here")
            known = [k for k in known if k not in ("gain", "clock", "t_min", "t_max")]
        for key in table:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known parameters: {', '.join(sorted(known))}"
            raise ConfigError(f"{source}: {where}.{key}: unknown parameter of {cls.__name__}; {hint}")


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[Scenario, dict[str, Any]]:
    """Load, merge, override and validate a scenario file.  Returns (Scenario, raw dict)."""
    raw = load_scenario(path, overrides)
    _locate_device_data(raw, Path(path))
    return validate_scenario(raw, str(path)), raw


def _locate_device_data(raw: dict[str, Any], path: Path) -> None:
    """A relative ``device.params.data`` (table model) not found in the current folder but next to the
    scenario file is made absolute (then config.toml records where it was read)."""
    params = raw.get("device", {}).get("params") if isinstance(raw.get("device"), dict) else None
    data = params.get("data") if isinstance(params, dict) else None
    if isinstance(data, str) and data.strip() and not Path(data).is_absolute() and not Path(data).exists():
        beside = path.parent / data
        if beside.is_file():
            params["data"] = str(beside.resolve())


# ---------------------------------------------------------------------- checks that need the built chip
def max_step_seconds(scn: Scenario, n_weights: int) -> float:
    """An upper bound of the simulated time one training pattern takes (s)."""
    t = scn.timing
    pulse = t.rise + t.t_max + t.fall
    pert = (t.t_pert if t.t_pert is not None else t.t_max) + t.rise + t.fall
    if scn.training.algorithm == "serial_wp":
        return (n_weights + 1) * t.t_settle + n_weights * pulse + t.gap
    return 2 * t.t_settle + pert + pulse + t.gap + 2 * t.clock


def check_against_chip(scn: Scenario, source: str, *, n_devices: list[int], n_neurons: list[int], n_train: int,
                       n_weights: int) -> None:
    """Checks of a scenario against the chip it builds: fault targets against the layer sizes, fault
    times against the length of the run, the recorded pattern against the number of patterns.

    ``mssim validate`` and ``mssim run`` both call this (through
    :func:`components.training.runner.build_run`), so they refuse the same files.
    """
    L = len(n_devices)
    epochs = scn.training.epochs
    patterns = epochs * n_train
    t_end = patterns * max_step_seconds(scn, n_weights)
    for i, f in enumerate(scn.faults.events):
        where = f"{source}: faults.events.{i}"
        if f.layer is not None and f.layer >= L:
            raise ConfigError(f"{where}.layer: the network has {L} weight layers (0..{L - 1}); got {f.layer}")
        if f.at_epoch is not None and f.at_epoch >= epochs:
            raise ConfigError(f"{where}.at_epoch: the run has {epochs} epochs (0..{epochs - 1}), so a fault at epoch "
                              f"{f.at_epoch} never happens; got {f.at_epoch}")
        if f.at_time is not None and f.at_time > t_end:
            raise ConfigError(f"{where}.at_time: {f.at_time:g} s is after the end of the run (at most {t_end:.3g} s of "
                              f"simulated time for {epochs} epochs of {n_train} patterns); use a smaller time or at_epoch")
        for name, idx, sizes in (("devices", f.devices, n_devices), ("neurons", f.neurons, n_neurons)):
            if idx is None or f.layer is None or f.layer >= L:
                continue
            n = sizes[f.layer]
            bad = [k for k in idx if k >= n]
            if bad:
                raise ConfigError(f"{where}.{name}: index {bad[0]} is outside layer {f.layer}, which has {n} {name} "
                                  f"(0..{n - 1})")
        if f.count is not None and f.kind in DEVICE_FAULTS + NEURON_FAULTS:
            sizes = n_devices if f.kind in DEVICE_FAULTS else n_neurons
            total = sum(sizes[l] for l in ([f.layer] if f.layer is not None else range(L)))
            if f.count > total:
                raise ConfigError(f"{where}.count: {f.count} exceeds the {total} "
                                  f"{'devices' if f.kind in DEVICE_FAULTS else 'neurons'} of the chosen layers")
    o = scn.output
    if (o.vcd or o.plots) and o.vcd_pattern >= patterns:
        raise ConfigError(f"{source}: output.vcd_pattern: the run trains {patterns} patterns (0..{patterns - 1}); got "
                          f"{o.vcd_pattern}")
