"""The scenario schema: what a training experiment file may contain.

Validated with pydantic (``extra="forbid"`` everywhere, so a misspelt key is an
error with a did-you-mean).  Values with units accept numbers in SI units or
strings such as ``"10us"``, ``"0.9 V"``, ``"16k"``; durations must be whole
picoseconds.  Device, op-amp and synapse parameter overrides are passed on to
those components' own validated dataclasses.

Sections: ``seed``, ``name``, ``base`` (handled by the loader), ``[data]``,
``[network]``, ``[device]``, ``[synapse]``, ``[neuron]``, ``[timing]``,
``[training]``, ``[faults]``, ``[sweep]``, ``[output]``.
"""

from __future__ import annotations

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


def _duration(v: Any) -> Any:
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        try:
            secs = parse_quantity(v, "s")
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
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


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

    model: Literal["hp", "team", "vteam", "yakopcic"] = "team"
    preset: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class SynapseConfig(_Section):
    """Synaptic unit and crossbar options (see ``components.synapses.SynapseParams``)."""

    unit: Literal["pair", "differential", "bridge", "reference"] = "pair"
    params: dict[str, Any] = Field(default_factory=dict)
    w_init: float = Field(default=0.3, ge=0, lt=1)


class NeuronConfig(_Section):
    """Neuron activation and op-amp."""

    activation: Literal["rails", "tanh", "clip", "linear"] = "tanh"
    gain: float = Field(default=2.0, gt=0)
    v_sat: Volts = Field(default=1.0, gt=0)
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


class TrainingConfig(_Section):
    """The learning rule and its hyper-parameters."""

    algorithm: Literal["wsp", "serial_wp", "rwc"] = "wsp"
    rule: Literal["maeda", "spsa", "sign"] = "maeda"
    perturbation: Literal["electrical", "written"] = "electrical"
    signs: Literal["stream", "lfsr"] = "stream"
    epochs: int = Field(default=50, ge=1, le=100000)
    alpha: float = Field(default=0.1, gt=0)
    c: float = Field(default=0.05, gt=0, lt=1)
    lr_decay: float = Field(default=1.0, gt=0, le=1)
    c_decay: float = Field(default=1.0, gt=0, le=1)
    eval_every: int = Field(default=1, ge=1)
    stop_at_accuracy: float | None = Field(default=None, gt=0, le=1)
    baselines: list[Literal["ideal_wsp", "backprop"]] = Field(default_factory=list)


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
    plots: bool = True
    vcd: bool = False
    vcd_pattern: int = Field(default=0, ge=0)
    progress: bool = True


class Scenario(_Section):
    """A whole experiment."""

    name: str = "scenario"
    seed: int = Field(default=1, ge=0)
    run_seed: int | None = Field(default=None, ge=0)
    data: DataConfig = Field(default_factory=DataConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    synapse: SynapseConfig = Field(default_factory=SynapseConfig)
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
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, source, Scenario) from None


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[Scenario, dict[str, Any]]:
    """Load, merge, override and validate a scenario file.  Returns (Scenario, raw dict)."""
    raw = load_scenario(path, overrides)
    return validate_scenario(raw, str(path)), raw
