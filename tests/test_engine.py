"""The chip's analog engine against independent references: solve_ivp of the same circuit equations,
the settled transfer, the sample-and-hold droop in closed form, the op-amp noise statistics; and
recording as a pure observer."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from components.opamp import closed_loop
from components.training.config import validate_scenario
from components.training.trainer import TrainingRun
from mssim.units import to_ticks


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
    v0 = run.engine.v0.copy()
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

    assert run.engine.t_state == 0  # the pattern was applied at t = 0: the state is the power-up one
    y0 = run.engine.y.copy()
    times = np.array([1e-6, 3e-6, 8e-6, 20e-6, 60e-6])
    sol = solve_ivp(rhs, (0, times[-1]), y0, t_eval=times, rtol=1e-10, atol=1e-13, method="LSODA")
    assert sol.success
    full_scale = np.abs(sol.y[:, -1]).max()
    for i, t in enumerate(times):
        env.run(until=int(round(t * 1e12)))
        run.engine.advance_to(env.now)
        got = run.engine.y.copy()
        np.testing.assert_allclose(got, sol.y[:, i], atol=2e-4 * full_scale, err_msg=f"t = {t}")
    # it was still settling at the first instants: the comparison is not of settled values
    assert np.abs(sol.y[:, 0] - sol.y[:, -1]).max() > 0.3 * full_scale


def test_chain_settled_equals_static_transfer():
    run = build([4])
    env = run.sim.env
    env.run(until=int(150e-6 * 1e12))
    o = run.engine.outputs() / run.chip.spec.neuron_params.v_sat
    x = run.engine.v0[:-1] / run.chip.spec.synapse_params.v_read
    np.testing.assert_allclose(o, run.chip.infer(x)[0], atol=1e-9)


# ----------------------------------------------------------------------------- observer, droop, noise
def _xor(**over):
    base = {"seed": 3, "data": {"task": "xor"}, "network": {"hidden": [3]},
            "device": {"model": "team", "preset": "symmetric"},
            "neuron": {"opamp": "typical", "gain": 2.0, "opamp_params": {"noise_c2c": 0.02}},
            "synapse": {"w_init": 0.5}, "timing": {"t_settle": "20us"},
            "circuit": {"sample_hold": {"droop": 200.0}},
            "training": {"epochs": 3, "alpha": 0.01, "c": 0.01, "baselines": []}}
    for k, v in over.items():
        if isinstance(v, dict):
            base.setdefault(k, {}).update(v)
        else:
            base[k] = v
    return validate_scenario(base)


def _fingerprint(run, res):
    m = {k: v for k, v in res.metrics.items() if k not in ("wall_time_s", "real_time_factor")}
    return (repr(res.history), repr(m), repr(res.events), np.concatenate([w.ravel() for w in res.weights]).tobytes())


def test_recording_is_an_observer():
    """Recording a step (plots, VCD, probes) changes not one bit of what training produced, with
    op-amp noise, droop and threshold devices on; the recorded trace is the step training used."""
    runs = {}
    for rec in (None, 0, 5):
        run = TrainingRun(_xor(), record_pattern=rec)
        res = run.run()
        runs[rec] = (_fingerprint(run, res), res.waveforms)
    assert runs[None][0] == runs[0][0] == runs[5][0]
    wf = runs[5][1]
    assert set(wf) >= {"neuron0.out", "neuron1.out", "error.j", "sh.out", "controller.x", "writer.out"}
    t, j = wf["error.j"]
    assert len(t) > 20 and np.all(np.diff(t) >= 0)
    assert runs[None][1] == {}


@pytest.mark.parametrize("over, reads_can_disturb", [
    ({}, False),
    ({"training": {"rule": "spsa"}}, False),
    ({"device": {"params": {"dx_c2c": 0.1}}, "synapse": {"unit": "bridge"}, "network": {"hidden": [3, 2]}}, False),
    ({"neuron": {"activation": "rails", "opamp_params": {"noise_c2c": 0.0}}, "training": {"rule": "sign"}}, False),
    ({"synapse": {"unit": "differential", "params": {"v_read": 0.02}},
      "circuit": {"sample_hold": {"pedestal": 1e-3, "offset": 2e-3}}}, True),
], ids=["noise-droop", "spsa", "c2c-bridge-deep", "rails-sign", "differential-pedestal-disturb"])
def test_fused_measurements_and_pulses_equal_the_events_bit_for_bit(over, reads_can_disturb):
    """A WSP measurement (or a write pulse) with no other event inside runs as one compiled call;
    playing every event instead gives the same bits: history, metrics, events, weights.  Where a
    read may disturb a device (the differential unit puts the full row voltage across each
    device; 20 mV, above the read amplitude the design step would choose), the measurement plays
    its events and the devices are integrated through each read."""
    out = {}
    for fuse in (True, False):
        run = TrainingRun(_xor(**over))
        run.engine.fuse = fuse
        res = run.run()
        out[fuse] = (_fingerprint(run, res), dict(run.engine.fused), run.engine.steps,
                     sum(e["kind"] == "read_disturb" for e in res.events))
    assert out[True][0] == out[False][0]
    assert out[True][2] == out[False][2]  # the same sub-steps
    assert out[False][1] == {"measurements": 0, "pulses": 0}
    assert out[True][1]["pulses"] > 0
    assert (out[True][1]["measurements"] == 0) == reads_can_disturb
    assert (out[True][3] > 0) == reads_can_disturb


def test_held_j0_droops_at_the_closed_form_rate():
    """The comparator and the PWM see J0 after the S&H droop over the hold: held(t) = held(t_h) - droop*(t - t_h)."""
    droop = 500.0
    run = TrainingRun(_xor(neuron={"opamp_params": {"noise_c2c": 0.0}}, circuit={"sample_hold": {"droop": droop}}))
    ctl, eng = run.controller, run.engine
    eng.fuse = False  # play every event: this test watches the controller's hold and read calls
    seen = []
    hold, held = ctl.hold_j0, ctl.held_j0

    def hold_wrap():
        hold()
        seen.append(("hold", run.sim.env.now, eng.held()))

    def held_wrap():
        v = held()
        seen.append(("use", run.sim.env.now, v))
        return v

    ctl.hold_j0, ctl.held_j0 = hold_wrap, held_wrap
    run.sim.env.run(until=run.sim.env.now + 10 * to_ticks(20e-6))
    pairs = [(a, b) for a, b in zip(seen, seen[1:]) if a[0] == "hold" and b[0] == "use"]
    assert len(pairs) >= 3
    # held() on its own (no other read first) is brought to its instant too
    run2 = TrainingRun(_xor(neuron={"opamp_params": {"noise_c2c": 0.0}}, circuit={"sample_hold": {"droop": droop}}))
    run2.sim.env.run(until=to_ticks(20e-6) + 1)
    h0 = run2.engine.held()
    run2.sim.env.run(until=to_ticks(30e-6))
    assert run2.engine.held() == pytest.approx(h0 - droop * (to_ticks(30e-6) - to_ticks(20e-6) - 1) * 1e-12,
                                               abs=1e-12)
    for (_, t0, v0), (_, t1, v1) in pairs:
        assert t1 - t0 == to_ticks(20e-6)
        assert v1 == pytest.approx(v0 - droop * (t1 - t0) * 1e-12, abs=1e-12)
    # and the decision uses it: without droop the weights end elsewhere
    a = TrainingRun(_xor(circuit={"sample_hold": {"droop": 0.0}})).run()
    b = TrainingRun(_xor(circuit={"sample_hold": {"droop": 2e4}})).run()
    assert not np.array_equal(a.weights[0], b.weights[0])


def test_opamp_output_noise_gives_j_the_expected_rms():
    """Output layer only (no hidden layer), linear activation: J = c·Σ(e - n)² + n_sum, so the
    neurons' noise gives ΔJ a mean c·n·σ² and a variance c²·Σ(4e²σ² + 2σ⁴), the J summer's own
    noise a variance σ², exactly; checked apart and together."""
    sigma = 0.05
    scn = _xor(network={"hidden": []}, neuron={"activation": "linear", "opamp_params": {"noise_c2c": sigma}})
    run = TrainingRun(scn)
    eng = run.engine
    run.sim.env.run(until=to_ticks(20e-6) - 1)
    eng.advance_to(run.sim.env.now)
    ep = eng.ep
    c = ep[4] * 0.5 * ep[5] * ep[3] * (ep[0] * ep[1]) ** 2
    o = eng.outputs()
    e = eng.d - o
    n = 20000
    var_neurons = c * c * np.sum(4 * e * e * sigma ** 2 + 2 * sigma ** 4)

    def draws():
        return np.array([eng._noise() for _ in range(n)])

    keep = eng.err_noise
    eng.err_noise = 0.0  # the neurons' noise alone
    d = draws()
    assert d.mean() == pytest.approx(c * o.size * sigma ** 2, abs=5 * math.sqrt(var_neurons / n))
    assert d.std() == pytest.approx(math.sqrt(var_neurons), rel=0.04)
    eng.err_noise, sig = keep, eng.noise_sigma.copy()
    eng.noise_sigma[:] = 0.0  # the summer's alone
    assert draws().std() == pytest.approx(keep, rel=0.03)
    eng.noise_sigma[:] = sig  # both
    assert draws().std() == pytest.approx(math.sqrt(var_neurons + keep ** 2), rel=0.03)
    # negative control: the noise-free engine draws nothing
    run0 = TrainingRun(_xor(network={"hidden": []}, neuron={"activation": "linear", "opamp_params": {"noise_c2c": 0.0}}))
    assert run0.engine._noise() == 0.0


def test_held_value_is_j_plus_pedestal_plus_offset():
    """At the hold instant the S&H output is J + pedestal + offset (no droop, no noise)."""
    ped, off = 2e-3, -0.5e-3
    run = TrainingRun(_xor(neuron={"opamp_params": {"noise_c2c": 0.0}},
                           circuit={"sample_hold": {"droop": 0.0, "pedestal": ped, "offset": off, "t_acq": 0.0}}))
    eng = run.engine
    run.sim.env.run(until=to_ticks(20e-6))  # the controller holds at t_settle = 20 us, the next tick
    eng.advance_to(run.sim.env.now)
    assert not eng.holding
    j_at_hold = float(eng.state[0])
    run.sim.env.run(until=to_ticks(20e-6) + 1)
    assert eng.holding and eng.t_state == to_ticks(20e-6)
    assert eng.held() == pytest.approx(j_at_hold + ped + off, abs=1e-12)


def test_opamp_noise_changes_training():
    a = TrainingRun(_xor(neuron={"opamp_params": {"noise_c2c": 0.0}})).run()
    b = TrainingRun(_xor(neuron={"opamp_params": {"noise_c2c": 0.05}})).run()
    assert a.metrics["train_loss"] != b.metrics["train_loss"]


# ----------------------------------------------------------------------------- faults everywhere
FAULTS = [
    {"kind": "stuck_on", "count": 2, "at_epoch": 1},
    {"kind": "stuck_off", "count": 2, "at_epoch": 1},
    {"kind": "open", "count": 1, "at_epoch": 1},
    {"kind": "drift", "value": 2.0, "std": 50.0, "at_epoch": 1, "period": "20us"},
    {"kind": "opamp_offset", "value": 0.01, "at_epoch": 1},
    {"kind": "opamp_stuck", "value": 0.3, "layer": 0, "neurons": [0], "at_epoch": 1},
    {"kind": "drop_pulse", "count": 2, "at_epoch": 1},
    {"kind": "jitter", "value": 1e-9, "at_epoch": 1},
    {"kind": "amplitude", "value": -0.1, "std": 0.05, "at_epoch": 1},
]


@pytest.mark.parametrize("model", ["team", "vteam", "hp", "yakopcic"])
@pytest.mark.parametrize("unit", ["pair", "differential", "bridge", "reference"])
def test_every_fault_on_every_model_and_unit(model, unit):
    """Every fault kind, on every device model (default preset) and synaptic unit: the design step
    builds every chip (TEAM and VTEAM with the reference unit included) and the faults run through,
    never a traceback from inside the simulation."""
    scn = _xor(device={"model": model, "preset": None}, synapse={"unit": unit},
               training={"epochs": 2}, faults={"events": FAULTS})
    run = TrainingRun(scn)
    res = run.run()
    kinds = {e["fault"] for e in res.events if e["kind"] == "fault"}
    assert kinds == {f["kind"] for f in FAULTS}
    assert all(np.all(np.isfinite(w)) for w in res.weights)


# ----------------------------------------------------------------------------- regimes vs closed forms
def _one_layer(opamp="typical", activation="linear", **op):
    """XOR without hidden layer: one neuron fed by 3 synapses (2 inputs + bias)."""
    return TrainingRun(_xor(network={"hidden": []}, neuron={"opamp": opamp, "activation": activation,
                                                            "opamp_params": {"noise_c2c": 0.0, **op}},
                            circuit={"sample_hold": {"droop": 0.0}}))


def _first_target(run):
    """Independent closed form of the neuron's settled output for the applied pattern (numpy, from the
    crossbar's transfer conductances): k·(V_os·NG − R_f·I), k = 1/(1 + NG/A0)."""
    eng, xb, nl = run.engine, run.chip.crossbars[0], run.chip.neurons[0]
    G, gsrc = xb.engine_read_state()
    I = eng.v0 @ G
    ng = 1.0 + nl.params.r_f * gsrc
    a0 = nl.params.opamp.a0
    return (nl.offset * ng - nl.params.r_f * I) / (1.0 + ng / a0), ng


def test_slew_limited_step_moves_at_the_slew_rate():
    sr = 2e4  # V/s: 50 us per volt, far slower than the pole
    run = _one_layer(slew_rate=sr)
    eng = run.engine
    run.sim.env.run(until=1)
    y0 = eng.y.copy()
    target, _ = _first_target(run)
    t = 4e-6
    eng.advance_to(to_ticks(t))
    dist = abs(target - y0)
    assert np.all(dist > sr * t + 0.01)  # still slewing
    np.testing.assert_allclose(eng.y, y0 + np.sign(target - y0) * sr * t, rtol=0, atol=1e-9)


def test_rails_clip_without_wind_up():
    run = _one_layer(activation="rails", v_rail_pos=0.05, v_rail_neg=-0.05)
    eng = run.engine
    run.sim.env.run(until=to_ticks(15e-6))
    eng.advance_to(run.sim.env.now)
    target, _ = _first_target(run)
    assert np.all(np.abs(target) > 0.05)
    np.testing.assert_allclose(eng.y, np.clip(target, -0.05, 0.05), atol=1e-12)


@pytest.mark.parametrize("a0", [1e5, 50.0])
def test_finite_open_loop_gain_and_the_loaded_pair_noise_gain(a0):
    """Settled output = k·(V_os·NG − R_f·I) with NG = 1 + R_f·G_src of the loaded pair; with A0 = 50
    the gain error k differs from 1 by NG/A0 and the engine must show it."""
    run = _one_layer(a0=a0, gbw=1e9)
    eng = run.engine
    run.sim.env.run(until=to_ticks(15e-6))
    eng.advance_to(run.sim.env.now)
    target, ng = _first_target(run)
    np.testing.assert_allclose(eng.y, target, rtol=1e-9, atol=1e-12)
    ideal = -run.chip.neurons[0].params.r_f * (eng.v0 @ run.chip.crossbars[0].engine_read_state()[0])
    if a0 < 1e3:  # the gain error is NG/A0/(1 + NG/A0) relative (offsets are off here)
        np.testing.assert_allclose(1 - eng.y / ideal, (ng / a0) / (1 + ng / a0), rtol=1e-9)
        assert np.all(ng / a0 > 1)


def test_sample_and_hold_acquisition_is_exponential():
    """Instant amplifiers: J steps at t = 0, the S&H follows with tau_acq = t_acq/ln(1/acq_tol)."""
    scn = _xor(network={"hidden": []}, neuron={"opamp": "ideal", "activation": "linear", "opamp_params": {}},
               circuit={"sample_hold": {"t_acq": 2e-6, "acq_tol": 1e-3, "droop": 0.0}})
    run = TrainingRun(scn)
    eng = run.engine
    run.sim.env.run(until=1)
    s0 = float(eng.state[1])
    t = 0.7e-6
    eng.advance_to(to_ticks(t))
    j = float(eng.state[0])
    tau = 2e-6 / math.log(1e3)
    assert abs(j - s0) > 1e-4
    assert float(eng.state[1]) == pytest.approx(j + (s0 - j) * math.exp(-t / tau), abs=1e-12)


def test_wearout_and_read_disturb_go_to_the_event_log():
    res = TrainingRun(_xor(device={"params": {"endurance_cycles": 3}}, training={"epochs": 3})).run()
    wear = [e for e in res.events if e["kind"] == "wearout"]
    assert wear and all(e["n_devices"] >= 1 for e in wear)
    # HP without threshold, read hard: every read moves the devices
    res = TrainingRun(_xor(device={"model": "hp", "preset": None}, synapse={"params": {"v_read": 1.0}},
                           timing={"t_settle": "1ms"}, neuron={"gain": 0.05}, training={"epochs": 1})).run()
    dist = [e for e in res.events if e["kind"] == "read_disturb"]
    assert dist and all(e["max_rel_change"] > 1e-3 for e in dist)
    # and a threshold device read gently logs none
    res = TrainingRun(_xor(training={"epochs": 1})).run()
    assert not [e for e in res.events if e["kind"] in ("read_disturb", "wearout")]


def test_a_non_finite_state_names_the_block_and_index():
    from mssim.errors import SimulationError

    run = TrainingRun(_xor())
    run.sim.env.run(until=to_ticks(5e-6))
    run.engine.y[1] = np.nan
    with pytest.raises(SimulationError, match=r"neuron0 output \[1\] became non-finite .* simulated time"):
        run.sim.env.run(until=to_ticks(40e-6))


def test_crossbar_read_energy_against_nodal_analysis():
    """Reads below threshold: the energy of an interval of constant row voltages is T·Σ over the pairs
    of g1(v − v_mid)² + g2(−v − v_mid)² + v_mid²/R_in, with v_mid = v(g1 − g2)/(g1 + g2 + 1/R_in)
    (the loaded pair's middle node, written here independently of the unit kernel)."""
    run = TrainingRun(_xor(network={"hidden": []}, neuron={"opamp_params": {"noise_c2c": 0.0}}))
    eng, xb = run.engine, run.chip.crossbars[0]
    run.sim.env.run(until=to_ticks(2e-6))        # the first pattern is on the rows from t = 0
    eng.advance_to(run.sim.env.now)
    e0, t0 = float(eng.e_read[0]), run.sim.env.now
    run.sim.env.run(until=to_ticks(15e-6))       # still before the hold at 20 us: same rows
    eng.advance_to(run.sim.env.now)
    T = (run.sim.env.now - t0) * 1e-12
    g1, g2 = (1.0 / r for r in xb.resistances())
    r_in = xb.synapse_params.r_in
    v = eng.v0[:, None]
    vmid = v * (g1 - g2) / (g1 + g2 + 1.0 / r_in)
    p = np.sum(g1 * (v - vmid) ** 2 + g2 * (-v - vmid) ** 2 + vmid ** 2 / r_in)
    assert float(eng.e_read[0]) - e0 == pytest.approx(T * p, rel=1e-9)
