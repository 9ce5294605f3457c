"""Training on the simulated chip: equivalence with plain numpy WSP, physics, determinism."""

import numpy as np
import pytest

from components.learning import wsp_train
from components.training.config import validate_scenario
from components.training.trainer import TrainingRun

IDEAL = {
    "device": {"model": "hp", "preset": "biolek2009", "params": {"window": "none"}},
    "synapse": {"w_init": 0.5, "params": {"buffer": True, "read_disturb": False}},
    "neuron": {"opamp": "ideal", "gain": 2.0},
    "timing": {"t_settle": "1us", "v_write": 0.1, "clock": "1ps", "rise": "0s", "fall": "0s", "t_max": "10s", "gap": "0s"},
}


def scenario(**sections):
    base = {k: dict(v) for k, v in IDEAL.items()}
    for k, v in sections.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k].update(v)
        else:
            base[k] = v
    return validate_scenario(base)


def flat(ws):
    return np.concatenate([np.ravel(w) for w in ws])


def run_with_trace(scn):
    run = TrainingRun(scn)
    trace = []
    ctl = run.controller
    ctl.on_pattern = lambda k: trace.append(run.chip.weights_flat())
    res = run.run()
    trace.append(run.chip.weights_flat())
    return run, res, np.array(trace[1:])


@pytest.mark.parametrize("task,hidden,epochs,pert", [("xor", [4], 30, "electrical"), ("iris", [3], 2, "electrical"),
                                                      ("xor", [3], 26, "written")])
def test_ideal_chip_reproduces_numpy_wsp(task, hidden, epochs, pert):
    alpha = 0.01 if task == "xor" else 0.002
    scn = scenario(seed=3, data={"task": task}, network={"hidden": hidden},
                   training={"epochs": epochs, "alpha": alpha, "c": 0.01, "perturbation": pert})
    run, res, trace = run_with_trace(scn)
    ref = wsp_train(run.task, run.sizes, seed=3, epochs=epochs, alpha=alpha, c=0.01, gain=2.0, act="tanh",
                    w_max=None, init_scale=0.5, clip_perturbed=False, trace=True)
    assert len(trace) >= 100
    # inside the pair's realisable range the chip has no bound to clip at, exactly like w_max=None
    assert np.abs(ref.trace.weights).max() < run.chip.crossbars[0].w_max
    np.testing.assert_allclose(trace[0] * 0 + flat(ref.initial_weights), run.initial_weights, atol=1e-15)
    err = np.max(np.abs(trace - ref.trace.weights))
    assert err < 1e-9, err
    # the weights really moved, so the comparison is not vacuous
    assert np.max(np.abs(trace[-1] - run.initial_weights)) > 0.05


def test_equivalence_detects_a_wrong_step():
    """The comparison fails when the chip's learning rate is off by 1 %."""
    scn = scenario(seed=3, data={"task": "xor"}, network={"hidden": [4]},
                   training={"epochs": 25, "alpha": 0.0101, "c": 0.01})
    run, res, trace = run_with_trace(scn)
    ref = wsp_train(run.task, run.sizes, seed=3, epochs=25, alpha=0.01, c=0.01, gain=2.0, act="tanh",
                    w_max=None, init_scale=0.5, clip_perturbed=False, trace=True)
    assert np.max(np.abs(trace - ref.trace.weights)) > 1e-6


PHYS = {"device": {"model": "team", "preset": "symmetric", "params": {}},
        "synapse": {"w_init": 0.5, "params": {}},
        "neuron": {"opamp": "typical", "gain": 2.0},
        "timing": {"t_settle": "60us", "v_write": 1.0, "clock": "1ns", "rise": "10ns", "fall": "10ns", "gap": "1us",
                   "t_max": "10us"}}


def phys(**kw):
    base = {k: dict(v) for k, v in PHYS.items()}
    base.update({"data": {"task": "xor"}, "network": {"hidden": [4]}})
    for k, v in kw.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return validate_scenario(base)


def test_team_and_finite_settling_differ_from_ideal():
    ideal = TrainingRun(phys(seed=2, neuron={"opamp": "ideal"}, training={"epochs": 5, "alpha": 0.01, "c": 0.01}))
    real = TrainingRun(phys(seed=2, training={"epochs": 5, "alpha": 0.01, "c": 0.01}))
    np.testing.assert_array_equal(ideal.initial_weights, real.initial_weights)
    ideal.run()
    real.run()
    d = np.max(np.abs(ideal.chip.weights_flat() - real.chip.weights_flat()))
    assert d > 1e-4


def test_sampling_before_settling_hurts():
    """t_settle far below the neurons' settling time (~25 us here) ruins learning; above it works."""
    losses = {}
    for t in ("3us", "60us"):
        ls = []
        for seed in (0, 1, 2):
            run = TrainingRun(phys(seed=seed, timing={"t_settle": t}, training={"epochs": 60, "alpha": 0.01, "c": 0.01}))
            res = run.run()
            ls.append(res.metrics["train_loss"])
        losses[t] = np.mean(ls)
    tau = TrainingRun(phys(seed=0, training={"epochs": 1})).chip.neurons[0].tau()
    assert 3e-6 < 4.6 * tau.max() < 60e-6  # the two settings straddle the 1 % settling time
    assert losses["3us"] > 2 * losses["60us"], losses


def test_same_seed_same_history_bytes(tmp_path):
    from components.training.runner import run_scenario

    def go(seed, name):
        scn = phys(seed=seed, training={"epochs": 3}, output={"plots": False})
        out, _ = run_scenario(scenario=scn, raw=scn.model_dump(mode="json"), out=tmp_path / name, progress=False)
        return (out / "history.csv").read_bytes()

    a, b, c = go(5, "a"), go(5, "b"), go(6, "c")
    assert a == b
    assert a != c


@pytest.mark.parametrize("algorithm", ["serial_wp", "rwc"])
def test_ideal_chip_reproduces_numpy_baselines(algorithm):
    """Serial weight perturbation and random weight change on the ideal chip equal their numpy references."""
    from components.learning import rwc_train, serial_wp_train

    epochs = 6 if algorithm == "serial_wp" else 30
    scn = scenario(seed=5, data={"task": "xor"}, network={"hidden": [3]},
                   training={"epochs": epochs, "alpha": 0.01, "c": 0.01, "algorithm": algorithm})
    run, res, trace = run_with_trace(scn)
    common = dict(seed=5, epochs=epochs, gain=2.0, act="tanh", w_max=None, init_scale=0.5, trace=True)
    if algorithm == "serial_wp":
        ref = serial_wp_train(run.task, run.sizes, alpha=0.01, c=0.01, clip_perturbed=False, **common)
    else:
        ref = rwc_train(run.task, run.sizes, delta=0.01, **common)
    assert np.abs(ref.trace.weights).max() < run.chip.crossbars[0].w_max
    assert np.max(np.abs(trace - ref.trace.weights)) < 1e-9
    assert np.max(np.abs(trace[-1] - run.initial_weights)) > 0.01
    if algorithm == "serial_wp":  # n + 1 settles and up to n write pulses per pattern
        assert res.metrics["update_pulses"] > 4 * epochs * run.chip.n_weights // 2


def test_pulse_width_statistics_and_warnings():
    """history.csv carries the update widths of each epoch; > 5 % rounded to zero gives a warning."""
    run = TrainingRun(phys(seed=1, timing={"clock": "1ns"}, training={"epochs": 2, "alpha": 0.01, "c": 0.01}))
    res = run.run()
    row = res.history[-1]
    assert 0 < row["width_min_s"] <= row["width_median_s"] <= row["width_max_s"] <= 10e-6
    assert res.metrics["warnings"] == 0
    coarse = TrainingRun(phys(seed=1, timing={"clock": "2us", "t_max": "10us"},
                              training={"epochs": 2, "alpha": 0.01, "c": 0.01})).run()
    assert coarse.history[-1]["width_frac_zero"] > 0.05
    assert coarse.metrics["warnings"] >= 1
    assert "rounded to zero" in coarse.metrics["warning_messages"][0]
    assert any(e["kind"] == "warning" for e in coarse.events)
