"""Every setting a scenario accepts changes the simulation, or is refused (issue: one analog engine).

Each numeric field of the device, synapse, neuron/op-amp, circuit, pulse and timing sections is
set to a non-default legal value on a small XOR chip and the training result (history, metrics
with energy, weights) must change.  Fields that only matter in a regime are set together with
what switches that regime on (``ACTIVATE``).  Fields that cannot affect a chip are refused with a
one-line error naming them (``REFUSED``).
"""

from __future__ import annotations

import numpy as np
import pytest

from components.training.config import validate_scenario
from components.training.trainer import TrainingRun
from mssim.errors import ConfigError

BASE = {"seed": 4, "data": {"task": "xor"}, "network": {"hidden": [3]},
        "device": {"model": "team", "preset": "symmetric", "params": {}},
        "synapse": {"w_init": 0.5, "params": {}},
        "neuron": {"opamp": "typical", "gain": 2.0, "opamp_params": {}},
        "timing": {"t_settle": "20us", "rise": "10ns", "fall": "10ns", "gap": "1us", "clock": "1ns", "t_max": "10us"},
        "circuit": {"error": {}, "sample_hold": {}, "comparator": {}, "pulse": {}},
        "training": {"epochs": 2, "alpha": 0.01, "c": 0.01, "baselines": []}}

TABLE = {"device.model": "table", "device.preset": "measured", "device.params.data": "example_table.csv",
         "timing.v_write": 2.0}
VERIFY = {"program.method": "verify"}
AMPLITUDE = {**VERIFY, "program.stepping": "amplitude"}

# (dotted key, value, extra settings that make the field matter)
FIELDS = [
    # device (TEAM)
    ("device.params.r_on", 120.0, {}), ("device.params.r_off", 14000.0, {}),
    ("device.params.k_on", -4e-6, {}), ("device.params.k_off", 4e-6, {}),
    ("device.params.alpha_on", 2.5, {}), ("device.params.alpha_off", 2.5, {}),
    ("device.params.i_on", -2.5e-5, {}), ("device.params.i_off", 2.5e-5, {}),
    ("device.params.x_off", 3.5e-9, {}),
    ("device.params.dx_c2c", 0.05, {}), ("device.params.g_read_noise", 0.01, {}),
    ("device.params.retention_tau", 1e-3, {}),
    ("device.params.retention_target", 0.2, {"device.params.retention_tau": 1e-3}),
    ("device.params.endurance_cycles", 1.0, {}),
    ("device.params.r_on_d2d", 0.05, {}), ("device.params.r_off_d2d", 0.05, {}),
    ("device.params.k_on_d2d", 0.1, {}), ("device.params.k_off_d2d", 0.1, {}),
    ("device.params.i_on_d2d", 0.05, {}), ("device.params.i_off_d2d", 0.05, {}),
    # synapse
    ("synapse.params.r_in", 1.2e5, {}), ("synapse.params.v_read", 0.03, {}),
    ("synapse.params.r_line", 5.0, {}), ("synapse.params.init_spread", 0.05, {}),
    ("synapse.w_init", 0.4, {}),
    ("synapse.params.r_sum", 10000.0, {}), ("synapse.params.write_mid", "ground", {}),
    # neuron and op-amp
    ("neuron.gain", 2.5, {}), ("neuron.v_sat", 1.2, {}),
    ("neuron.opamp_params.a0", 2e3, {}), ("neuron.opamp_params.gbw", 5e6, {}),
    ("neuron.opamp_params.slew_rate", 1e5, {}), ("neuron.opamp_params.v_rail_pos", 1.1, {"neuron.activation": "rails"}),
    ("neuron.opamp_params.v_rail_neg", -1.1, {"neuron.activation": "rails"}),
    ("neuron.opamp_params.offset_d2d", 5e-3, {}), ("neuron.opamp_params.noise_c2c", 0.02, {}),
    ("neuron.opamp_params.i_q", 2e-3, {}),
    # circuit
    ("circuit.error.sub_gain", 1.5, {}), ("circuit.error.k_sq", 1.5, {}), ("circuit.error.sum_gain", 1.5, {}),
    ("circuit.sample_hold.t_acq", 5e-6, {}), ("circuit.sample_hold.acq_tol", 1e-2, {"circuit.sample_hold.t_acq": 5e-6}),
    ("circuit.sample_hold.droop", 2e3, {}), ("circuit.sample_hold.offset", 1e-3, {}),
    ("circuit.sample_hold.pedestal", 1e-3, {}),
    ("circuit.comparator.offset", 5e-3, {}), ("circuit.comparator.offset_d2d", 0.05, {}),
    ("circuit.comparator.hysteresis", 5e-3, {}), ("circuit.comparator.noise_c2c", 0.05, {}),
    ("circuit.comparator.e_decision", 3e-12, {}),
    ("circuit.pulse.jitter_c2c", 2e-9, {}), ("circuit.pulse.amplitude_c2c", 0.05, {}),
    ("circuit.pulse.c_load", 3e-12, {}), ("circuit.pulse.min_width", 5e-8, {}),
    # timing
    ("timing.t_settle", "15us", {}), ("timing.rise", "20ns", {}), ("timing.fall", "20ns", {}),
    ("timing.gap", "2us", {}), ("timing.clock", "10ns", {}), ("timing.t_max", "100ns", {}),
    ("timing.t_min", "500ns", {}), ("timing.v_write", 1.1, {}), ("timing.v_pert", 1.1, {"training.perturbation": "written"}),
    ("timing.t_pert", "30ns", {"training.perturbation": "written"}),
    ("timing.width_scale", 1.5, {}),
    ("circuit.pwm.e_conversion", 3e-12, {}),
    # device built from data (components/devices/table.py)
    ("device.params.th_set", 0.4, TABLE), ("device.params.th_reset", 0.4, TABLE),
    ("device.params.alpha_set", 2.0, TABLE), ("device.params.alpha_reset", 2.0, TABLE),
    ("device.params.c2c_from_data", 0.5, TABLE),
    ("device.params.dx_c2c", 0.05, {**TABLE, "device.params.c2c_from_data": 0}),
    # program-and-verify (components/training/program.py)
    ("program.tol", 0.05, VERIFY), ("program.max_pulses", 3, VERIFY), ("program.width", "200ns", VERIFY),
    ("program.grow", 2.0, VERIFY), ("program.t_verify", "3us", VERIFY),
    ("program.v_start", 0.6, AMPLITUDE), ("program.v_step", 0.1, AMPLITUDE), ("program.v_max", 1.2, AMPLITUDE),
]

#: Accepted by the blocks for hand-built circuits but meaningless in a chip: refused in scenarios.
REFUSED = [("circuit.error.pwl_tol", 1e-4), ("circuit.sample_hold.pwl_tol", 1e-4), ("circuit.pulse.width", 1e-6),
           ("circuit.pulse.amplitude", 1.2), ("synapse.params.init", "random"), ("synapse.params.w_init_scale", 0.3)]


def _scn(settings: dict):
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for sec in ("device", "synapse", "neuron", "circuit"):
        doc[sec] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in doc[sec].items()}
    for key, val in settings.items():
        parts = key.split(".")
        d = doc
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = val
    return validate_scenario(doc)


def _result(settings: dict):
    res = TrainingRun(_scn(settings)).run()
    m = {k: v for k, v in res.metrics.items() if k not in ("wall_time_s", "real_time_factor")}
    return repr(res.history) + repr(m) + np.concatenate([w.ravel() for w in res.weights]).tobytes().hex()


@pytest.fixture(scope="module")
def results_cache():
    return {}


def _cached(cache, settings):
    key = repr(sorted(settings.items()))
    if key not in cache:
        cache[key] = _result(settings)
    return cache[key]


@pytest.mark.slow
@pytest.mark.parametrize("key,value,extra", FIELDS, ids=[f[0] for f in FIELDS])
def test_setting_changes_training(key, value, extra, results_cache):
    ref = _cached(results_cache, dict(extra))
    got = _cached(results_cache, {**extra, key: value})
    assert got != ref, f"{key} = {value!r} changed nothing"


@pytest.mark.parametrize("key,value", REFUSED, ids=[r[0] for r in REFUSED])
def test_inert_setting_is_refused(key, value):
    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        TrainingRun(_scn({key: value}))
