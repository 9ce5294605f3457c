"""Program-and-verify (components/training/program.py): initial weights written with pulses and read back.

Every weight ends within tol (or is reported as failed); the pulses, time and energy in the
report are checked against an independent record of every write and read the crossbars saw.
"""

from __future__ import annotations

import numpy as np
import pytest

from components.learning import init_weights
from components.synapses import CrossbarLayer
from components.training.config import validate_scenario
from components.training.trainer import TrainingRun
from mssim.errors import ConfigError

BASE = {"seed": 3, "data": {"task": "xor"}, "network": {"hidden": [3]},
        "device": {"model": "team", "preset": "symmetric"}, "synapse": {"w_init": 0.5},
        "timing": {"t_settle": "20us", "rise": "10ns", "fall": "10ns", "gap": "1us", "clock": "1ns", "t_max": "10us"},
        "training": {"epochs": 1, "alpha": 0.01, "c": 0.01},
        "program": {"method": "verify"}}


def _scn(**sections):
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for sec, vals in sections.items():
        doc[sec] = {**doc.get(sec, {}), **vals}
    return validate_scenario(doc)


def _target(scn):
    sizes = (2, *scn.network.hidden, 1)
    return np.concatenate([w.ravel() for w in init_weights(sizes, seed=scn.seed, scale=scn.synapse.w_init)])


@pytest.mark.parametrize("program,device", [
    ({}, {}),
    ({"stepping": "amplitude"}, {}),
    ({"tol": 0.005}, {"params": {"dx_c2c": 0.1, "g_read_noise": 0.002}}),
])
def test_every_weight_within_tol(program, device):
    scn = _scn(program={"method": "verify", **program}, device=device)
    run = TrainingRun(scn)
    rep = run.program
    tol = rep["tol"]
    err = np.abs(run.chip.weights_flat() - _target(scn))
    assert rep["failed"] == int(np.sum(err > tol))
    # read noise can pass a weight just outside tol; without it every weight is within
    if not device:
        assert rep["failed"] == 0 and err.max() <= tol
    assert rep["within_tol"] + rep["failed"] == err.size
    assert rep["max_error"] == pytest.approx(err.max()) and rep["rms_error"] == pytest.approx(np.sqrt(np.mean(err ** 2)))
    assert np.array_equal(run.initial_weights, run.chip.weights_flat())
    # a direct set is not what happened: the weights are not exactly the targets
    assert err.max() > 0


def test_failures_are_reported():
    scn = _scn(program={"method": "verify", "max_pulses": 2, "tol": 0.001})
    run = TrainingRun(scn)
    rep = run.program
    err = np.abs(run.chip.weights_flat() - _target(scn))
    bad = np.flatnonzero(err > 0.001)
    assert bad.size > 0 and rep["failed"] == bad.size and rep["failed_weights"] == bad.tolist()
    assert rep["pulses_max_per_weight"] == 2


def test_pulses_time_and_energy_against_an_independent_record(monkeypatch):
    writes, reads = [], []
    orig_w, orig_r = CrossbarLayer.write_pieces, CrossbarLayer.apply_read

    def rec_w(self, pieces, polarity):
        e = orig_w(self, pieces, polarity)
        writes.append((self.name, [tuple(p) for p in pieces], int(np.count_nonzero(polarity)), e))
        return e

    def rec_r(self, v0, v1, duration_s):
        e = orig_r(self, v0, v1, duration_s)
        reads.append((self.name, duration_s, e))
        return e

    monkeypatch.setattr(CrossbarLayer, "write_pieces", rec_w)
    monkeypatch.setattr(CrossbarLayer, "apply_read", rec_r)
    scn = _scn(program={"method": "verify", "t_verify": "2us", "grow": 2.0})
    run = TrainingRun(scn)
    rep = run.program
    monkeypatch.undo()
    L = len(run.chip.crossbars)
    assert len(writes) % L == 0
    global_pulses = [writes[i:i + L] for i in range(0, len(writes), L)]
    assert rep["write_pulses"] == len(global_pulses)
    assert rep["pulses"] == sum(w[2] for w in writes)
    gap = 1e-6
    t_write = sum(sum(p[2] for p in g[0][1]) + gap for g in global_pulses)
    rows = max(xb.n_in for xb in run.chip.crossbars)
    n_reads = len(reads) // sum(xb.n_in for xb in run.chip.crossbars)
    assert rep["verify_reads"] == n_reads
    assert rep["write_time_s"] == pytest.approx(t_write, rel=1e-12)
    assert rep["verify_time_s"] == pytest.approx(n_reads * rows * 2e-6, rel=1e-12)
    assert rep["time_s"] == pytest.approx(t_write + n_reads * rows * 2e-6, rel=1e-12)
    assert rep["energy_write_j"] == pytest.approx(sum(w[3] for w in writes), rel=1e-12)
    assert rep["energy_read_j"] == pytest.approx(sum(r[2] for r in reads), rel=1e-12)
    assert all(r[1] == 2e-6 for r in reads)
    # every pulse is a trapezoid at v_write with the scenario's edges and a whole number of clock periods
    for g in global_pulses:
        (a, b, r_), (c, d, w), (e, f, fa) = g[0][1]
        assert (a, b, c, d, e, f) == (0.0, 1.0, 1.0, 1.0, 1.0, 0.0) and r_ == fa == 10e-9
        assert w / 1e-9 == pytest.approx(round(w / 1e-9)) and w <= 10e-6
    # the events carry the same numbers, and the training's energy does not include programming
    ev = [e for e in run.sim.events if e["kind"] == "program_round"]
    assert sum(e["pulses"] for e in ev) == rep["pulses"]
    last_read = sum(r[2] for r in reads[-sum(xb.n_in for xb in run.chip.crossbars):])  # the final verify: no pulses
    assert sum(e["energy_j"] for e in ev) == pytest.approx(rep["energy_j"] - last_read, rel=1e-9)
    assert sum(e["time_s"] for e in ev) == pytest.approx(rep["time_s"] - rows * 2e-6, rel=1e-9)
    assert [e for e in run.sim.events if e["kind"] == "program"][0]["pulses"] == rep["pulses"]
    assert run.chip.energy_breakdown()["crossbar_write"] == 0.0


def test_results_carry_the_report_and_direct_is_unchanged():
    res = TrainingRun(_scn()).run()
    assert res.metrics["program"]["method"] == "verify" and res.metrics["program"]["pulses"] > 0
    direct = _scn(program={"method": "direct"})
    run = TrainingRun(direct)
    assert run.program is None
    np.testing.assert_array_equal(run.initial_weights, TrainingRun(direct).initial_weights)
    assert np.abs(run.initial_weights - _target(direct)).max() < 1e-12
    assert "program" not in run.run().metrics


def test_deterministic():
    a = TrainingRun(_scn(device={"params": {"dx_c2c": 0.1}})).program
    b = TrainingRun(_scn(device={"params": {"dx_c2c": 0.1}})).program
    assert a == b


@pytest.mark.parametrize("program,msg", [
    ({"method": "direct", "tol": 0.1}, "only used with method = 'verify'"),
    ({"method": "verify", "v_step": 0.1}, "only used with stepping = 'amplitude'"),
    ({"method": "verify", "stepping": "amplitude", "grow": 2}, "only used with stepping = 'width'"),
    ({"method": "verify", "tolerance": 0.1}, "tolerance"),
    ({"method": "verify", "stepping": "amplitude", "v_start": 2, "v_max": 1}, "v_start"),
    ({"method": "verify", "tol": 0}, "tol"),
    ({"method": "verify", "grow": 1.0}, "grow"),
])
def test_bad_program_settings_are_refused(program, msg):
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    doc["program"] = program
    with pytest.raises(ConfigError, match=msg):
        validate_scenario(doc)


def test_init_spread_is_refused_with_verify():
    with pytest.raises(ConfigError, match="synapse.params.init_spread"):
        TrainingRun(_scn(synapse={"params": {"init_spread": 0.05}}))
