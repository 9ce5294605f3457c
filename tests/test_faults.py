"""Fault injection: faults land where and when they are scheduled, persist, and are logged."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mssim.errors import ConfigError
from mssim.scenario import load_scenario
from mssim.units import to_ticks

from components.training.config import validate_scenario
from components.training.trainer import TrainingRun

XOR = Path(__file__).resolve().parents[1] / "scenarios" / "xor.toml"
FAST = ["neuron.opamp=ideal", "training.baselines=[]", "output.plots=false", "timing.t_settle=2us"]


def make_run(faults: list[dict], *more: str, epochs: int = 4) -> TrainingRun:
    raw = load_scenario(XOR, [*FAST, f"training.epochs={epochs}", "training.stop_at_accuracy=1.0", *more])
    raw["faults"] = {"events": faults}
    return TrainingRun(validate_scenario(raw, "test"))


def fault_log(run: TrainingRun) -> list[dict]:
    return [e for e in run.sim.events if e["kind"] == "fault"]


def epoch_start_tick(run: TrainingRun, epoch: int) -> int:
    return next(e["t"] for e in run.sim.events if e["kind"] == "epoch_start" and e["epoch"] == epoch)


def test_stuck_on_at_epoch_lands_on_the_listed_devices_at_that_epoch():
    run = make_run([{"kind": "stuck_on", "at_epoch": 2, "layer": 0, "devices": [0, 5, 7]}])
    run.run()
    log = fault_log(run)
    assert len(log) == 1
    e = log[0]
    assert (e["fault"], e["layer"], e["devices"], e["cause"]) == ("stuck_on", 0, [0, 5, 7], "at_epoch")
    assert e["t"] == epoch_start_tick(run, 2)
    arr = run.chip.crossbars[0].device_array
    assert arr.stuck_mask[[0, 5, 7]].all() and arr.stuck_mask.sum() == 3
    assert np.all(arr.u[[0, 5, 7]] == 0.0)                     # frozen at the ON bound through training
    assert not run.chip.crossbars[1].device_array.stuck_mask.any()


def test_stuck_off_at_time_fraction_per_layer_is_seeded():
    ev = [{"kind": "stuck_off", "at_time": "20us", "fraction": 0.25}]
    a, b, c = make_run(ev), make_run(ev), make_run(ev, "seed=7")
    for r in (a, b, c):
        r.run()
    la, lb, lc = fault_log(a), fault_log(b), fault_log(c)
    assert [e["t"] for e in la] == [to_ticks(20e-6)] * 2
    for e in la:
        n = a.chip.crossbars[e["layer"]].device_array.n
        assert e["n_devices"] == round(0.25 * n)
        arr = a.chip.crossbars[e["layer"]].device_array
        assert np.all(arr.u[e["devices"]] == 1.0) and arr.stuck_mask[e["devices"]].all()
    assert [e["devices"] for e in la] == [e["devices"] for e in lb]       # same seed, same devices
    assert [e["devices"] for e in la] != [e["devices"] for e in lc]       # another seed, others


def test_second_fraction_picks_only_healthy_devices():
    run = make_run([{"kind": "stuck_on", "fraction": 0.5, "layer": 0}, {"kind": "stuck_off", "fraction": 0.5, "layer": 0}])
    on, off = fault_log(run)
    n = run.chip.crossbars[0].device_array.n
    assert not set(on["devices"]) & set(off["devices"])
    assert len(on["devices"]) + len(off["devices"]) == n


def test_open_rate_per_pulse_one_fails_every_device_at_the_first_pulse():
    run = make_run([{"kind": "open", "rate": 1.0, "pulses": "update"}], epochs=1)
    run.sim.muted_kinds.discard("pulse")
    run.run()
    log = fault_log(run)
    first_pulse = min(e["t"] for e in run.sim.events if e["kind"] == "pulse")
    assert {e["t"] for e in log} == {first_pulse}
    for xb in run.chip.crossbars:
        assert xb.device_array.open_mask.all()


def test_open_rate_per_second_matches_the_exponential_law():
    # 34 devices, hazard 2000 /s over ~2 ms: about 1 - exp(-4) = 98 % fail; every one is logged once
    run = make_run([{"kind": "open", "rate": 2000.0, "per": "s"}], epochs=4)
    run.run()
    logged = [(e["layer"], d) for e in fault_log(run) for d in e["devices"]]
    assert len(logged) == len(set(logged))
    n_open = sum(int(xb.device_array.open_mask.sum()) for xb in run.chip.crossbars)
    assert n_open == len(logged)
    n = sum(xb.device_array.n for xb in run.chip.crossbars)
    p = 1 - math.exp(-2000.0 * run.sim.now_s)
    assert abs(n_open - n * p) < 4 * math.sqrt(n * p * (1 - p)) + 1


def test_drift_follows_the_exponential_law_between_writes():
    # No write pulse happens before 2*t_settle = 4 us; stop at 3.5 us: 35 steps of 100 ns.
    r = 20000.0
    run = make_run([{"kind": "drift", "value": r, "period": "100ns"}], "timing.t_settle=4us")
    arrs = [xb.device_array for xb in run.chip.crossbars]
    r0 = [a.resistance() for a in arrs]
    w0 = run.chip.weights_flat()
    run.sim.env.run(until=to_ticks(3.5e-6) + 1)
    for a, R0 in zip(arrs, r0):
        ratio = a.resistance() / R0
        hi = _bound_hi(a)
        free = R0 * math.exp(r * 3.5e-6) < hi * (1 - 1e-9)
        assert np.allclose(ratio[free], math.exp(r * 3.5e-6), rtol=1e-9)
    # a drift common to both devices of a (buffered) pair leaves the weights where they were
    assert np.allclose(run.chip.weights_flat(), w0, atol=1e-9)
    assert [e["fault"] for e in fault_log(run)] == ["drift", "drift"]


def _bound_hi(arr):
    keep = arr.U.copy()
    arr.U[:] = 1.0
    r = arr.resistance()
    arr.U[:] = keep
    return r


def test_drift_spread_moves_weights_and_skips_stuck_devices():
    run = make_run([{"kind": "stuck_on", "layer": 0, "devices": [3]},
                    {"kind": "drift", "value": 0.0, "std": 50000.0, "period": "100ns", "layer": 0}],
                   "timing.t_settle=4us")
    arr = run.chip.crossbars[0].device_array
    u3 = arr.u[3]
    w0 = run.chip.weights_flat()
    run.sim.env.run(until=to_ticks(3e-6))
    assert arr.u[3] == u3
    assert np.max(np.abs(run.chip.weights_flat() - w0)) > 1e-3


def test_opamp_faults_change_the_neurons():
    run = make_run([{"kind": "opamp_offset", "value": 0.02, "layer": 0},
                    {"kind": "opamp_stuck", "value": 0.4, "layer": 1, "neurons": [0], "at_epoch": 1}])
    nl0, nl1 = run.chip.neurons
    assert np.allclose(nl0.offset, 0.02)
    run.run()
    log = fault_log(run)
    assert [(e["fault"], e["layer"], e["neurons"]) for e in log] == [("opamp_offset", 0, [0, 1, 2, 3]), ("opamp_stuck", 1, [0])]
    assert log[1]["t"] == epoch_start_tick(run, 1)
    expect = nl1.params.activate(np.array([0.4]))[0] / nl1.params.v_sat
    out = run.chip.infer(run.task.x_train)
    assert np.allclose(out, expect)                                        # settled inference sees it
    assert np.allclose(run.engine.outputs(1), nl1.params.activate(np.array([0.4])))  # and so does training


def test_dropped_pulses_and_amplitude_error():
    run = make_run([{"kind": "drop_pulse", "at_epoch": 1, "count": 3},
                    {"kind": "amplitude", "value": -0.25, "at_time": "0s", "pulses": "update"}], epochs=3)
    run.sim.muted_kinds.discard("pulse")
    run.run()
    drops = [e for e in fault_log(run) if e["fault"] == "drop_pulse" and "pulse" in e]
    assert len(drops) == 3 == run.controller.dropped_pulses
    assert all(e["t"] >= epoch_start_tick(run, 1) for e in drops)
    assert len([e for e in run.sim.events if e["kind"] == "pulse_dropped"]) == 3
    v = run.timing.v_write  # as built (the design step's, unless the scenario sets it)
    amps = {round(float(np.max(np.abs(e["amplitude"]))), 12) for e in run.sim.events if e["kind"] == "pulse"}
    assert amps == {round(0.75 * v, 12)}


def test_jitter_switches_on_the_writer_jitter():
    run = make_run([{"kind": "jitter", "value": 2e-9, "at_epoch": 1}], epochs=2)
    assert run.chip.writer.params.jitter_c2c == 0.0
    run.run()
    assert run.chip.writer.params.jitter_c2c == 2e-9
    assert [e["fault"] for e in fault_log(run)] == ["jitter"]


def test_faults_reach_events_jsonl(tmp_path):
    from components.training.runner import run_scenario

    raw = load_scenario(XOR, [*FAST, "training.epochs=2"])
    raw["faults"] = {"events": [{"kind": "stuck_off", "layer": 1, "devices": [2], "at_time": "10us"}]}
    out, _ = run_scenario(scenario=validate_scenario(raw, "t"), raw=raw, out=tmp_path / "r")
    ev = [json.loads(l) for l in (out / "events.jsonl").read_text().splitlines()]
    f = [e for e in ev if e["kind"] == "fault"]
    assert len(f) == 1 and f[0]["t_s"] == 1e-05 and f[0]["layer"] == 1 and f[0]["devices"] == [2]


@pytest.mark.parametrize("event, match", [
    ({"kind": "stuck_on", "at_epoch": 1, "at_time": "1us", "fraction": 0.1}, "at_epoch or at_time"),
    ({"kind": "stuck_on", "devices": [1]}, "explicit indices need layer"),
    ({"kind": "stuck_on"}, "say where"),
    ({"kind": "drift", "rate": 3}, "drift has no injection rate"),
    ({"kind": "drift"}, "drift needs value"),
    ({"kind": "opamp_stuck", "neurons": [0], "layer": 0}, "needs value"),
    ({"kind": "jitter", "value": -1e-9}, "jitter needs value"),
    ({"kind": "open", "rate": 2.0}, "must not exceed 1"),
    ({"kind": "open", "rate": 0.1, "fraction": 0.1}, "drop fraction/count"),
    ({"kind": "drop_pulse", "layer": 0}, "takes no layer"),
    ({"kind": "stuck_on", "fraction": 1.5}, r"faults\.events\.0\.fraction"),
    ({"kind": "stuck_of", "fraction": 0.1}, r"faults\.events\.0\.kind"),
    ({"kind": "stuck_on", "fraction": 0.1, "when": 3}, r"faults\.events\.0\.when: unknown key"),
])
def test_fault_schema_errors_name_the_field(event, match):
    raw = load_scenario(XOR, FAST)
    raw["faults"] = {"events": [event]}
    with pytest.raises(ConfigError, match=match):
        validate_scenario(raw, "f.toml")


@pytest.mark.parametrize("event, match", [
    ({"kind": "stuck_on", "layer": 5, "fraction": 0.1}, r"faults\.events\.0\.layer: the network has 2"),
    ({"kind": "stuck_on", "layer": 1, "devices": [10]}, r"faults\.events\.0\.devices: index 10 out of range"),
    ({"kind": "opamp_stuck", "layer": 1, "neurons": [1], "value": 0.1}, r"neurons: index 1 out of range"),
    ({"kind": "stuck_on", "at_epoch": 9, "fraction": 0.1}, r"at_epoch: the run has 4 epochs"),
    ({"kind": "open", "count": 1000}, r"count: 1000 exceeds the 34 devices"),
])
def test_fault_locations_are_checked_against_the_chip(event, match):
    with pytest.raises(ConfigError, match=match):
        make_run([event])
