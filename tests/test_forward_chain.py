"""The fused chain integrator against an independent solution of the same circuit equations."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from components.opamp import closed_loop
from components.training.config import validate_scenario
from components.training.trainer import TrainingRun


def build(hidden, settle="200us", opamp="typical", seed=0):
    scn = validate_scenario({
        "seed": seed, "data": {"task": "iris"}, "network": {"hidden": hidden},
        "device": {"model": "team", "preset": "symmetric"}, "synapse": {"w_init": 0.6},
        "neuron": {"opamp": opamp, "gain": 2.0}, "timing": {"t_settle": settle}, "training": {"epochs": 1}})
    return TrainingRun(scn)


@pytest.mark.parametrize("hidden", [[4], [5, 3]])
def test_chain_matches_solve_ivp_during_settling(hidden):
    run = build(hidden)
    chip, env = run.chip, run.sim.env
    env.run(until=1)  # the controller applies its first pattern at t = 0
    v0 = np.array(run.sim.net("controller.x").value())
    sp = chip.spec.synapse_params
    layers = []
    for xb, nl in zip(chip.crossbars, chip.neurons):
        G, g = xb.effective_gain_matrix(), xb.column_conductance()
        ng = 1 + nl.params.r_f * g
        tau, k = closed_loop(nl.params.opamp, ng)
        layers.append((G, tau, k, nl.params.r_f, nl.params.v_sat))
    sizes = [nl.n for nl in chip.neurons]
    offs = np.cumsum([0] + sizes)

    def rhs(t, y):
        out = np.empty_like(y)
        v = v0
        for l, (G, tau, k, rf, vs) in enumerate(layers):
            yl = y[offs[l] : offs[l + 1]]
            p = -k * rf * (v @ G)
            out[offs[l] : offs[l + 1]] = (p - yl) / tau
            o = vs * np.tanh(-yl / vs)  # invert=False: an ideal inverter follows the summer
            v = np.append(o * (sp.v_read / vs), sp.v_read)
        return out

    y0 = np.concatenate([nl._y for nl in chip.neurons])
    assert np.allclose(y0, 0.0)
    times = np.array([1e-6, 3e-6, 8e-6, 20e-6, 60e-6])
    sol = solve_ivp(rhs, (0, times[-1]), y0, t_eval=times, rtol=1e-10, atol=1e-13, method="LSODA")
    assert sol.success
    full_scale = np.abs(sol.y[:, -1]).max()
    for i, t in enumerate(times):
        env.run(until=int(round(t * 1e12)))
        run.fwd.advance_to(env.now)
        got = run.fwd.y.copy()
        np.testing.assert_allclose(got, sol.y[:, i], atol=2e-4 * full_scale, err_msg=f"t = {t}")
    # it was still settling at the first instants: the comparison is not of settled values
    assert np.abs(sol.y[:, 0] - sol.y[:, -1]).max() > 0.3 * full_scale


def test_chain_settled_equals_static_transfer():
    run = build([4])
    env = run.sim.env
    env.run(until=int(150e-6 * 1e12))
    o = run.fwd.outputs() / run.chip.spec.neuron_params.v_sat
    x = np.array(run.sim.net("controller.x").value())[:-1] / run.chip.spec.synapse_params.v_read
    np.testing.assert_allclose(o, run.chip.infer(x)[0], atol=1e-9)
