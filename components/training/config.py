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

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from mssim.errors import ConfigError
from mssim.scenario import ScenarioError, format_validation_error, load_scenario
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

    task: Literal["xor", "parity3", "iris", "breast_cancer", "wine", "digits"] = "iris"
    test_fraction: float | None = Field(default=None, gt=0, lt=1)
    target: float = Field(default=0.8, gt=0, le=1)


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


class FaultConfig(_Section):
    """One fault injection (see ``components.faults``)."""

    kind: Literal["stuck_on", "stuck_off", "open", "drift", "opamp_offset", "opamp_stuck", "drop_pulse", "jitter", "amplitude"]
    at_epoch: int | None = Field(default=None, ge=0)
    at_time: Seconds | None = None
    rate: float | None = Field(default=None, ge=0)
    fraction: float | None = Field(default=None, ge=0, le=1)
    layer: int | None = Field(default=None, ge=0)
    devices: list[int] | None = None
    value: float | None = None


class FaultsConfig(_Section):
    events: list[FaultConfig] = Field(default_factory=list)


class SweepConfig(_Section):
    """A parameter sweep: grid, zipped or random designs over dotted keys."""

    design: Literal["grid", "zip", "random"] = "grid"
    params: dict[str, list[Any]] = Field(default_factory=dict)
    samples: int = Field(default=10, ge=1)
    seeds: list[int] | None = None
    repeats: int = Field(default=1, ge=1)


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
