"""Op-amp neuron layers against closed forms (single pole, slew, rails, offsets,
noise, energy) and a two-layer cascade against an independent ODE solution."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from components.neurons import NeuronLayer, NeuronParams
from components.opamp import OpAmpParams, closed_loop, pole_step, pole_step_ramp, time_to_level
from mssim import Circuit, Component, Port
from mssim.errors import ConfigError
from mssim.stimulus import PWLSource
from mssim.units import TICK, to_ticks

R = 10e3


class ResistorColumns(Component):
    """Test synapse: I = W @ v (short-circuit currents), G_src constant per column.
    Linear in v, so it forwards input ramps as current ramps exactly."""

    def __init__(self, name, W, g):
        super().__init__(name)
        self.W = np.atleast_2d(np.asarray(W, float))
        self.gv = np.asarray(g, float)

    def ports(self):
        n, m = self.W.shape
        return [Port("in", "voltage", m, "in"), Port("i", "current", n, "out"), Port("g", "signal", n, "out")]

    def build(self, ctx):
        super().build(ctx)
        vin, io, g = ctx.net("in"), ctx.net("i"), ctx.net("g")
        env = ctx.env

        def forward(_n):
            t0, v0, t1, v1 = vin.segment
            now = env.now
            if t1 > now:
                io.drive(self.W @ vin.value(now), self.W @ v1, t1 - now)
            else:
                io.set(self.W @ v1)

        vin.on_after_change(forward)
        g.set(self.gv)  # before anything runs; nobody listens yet
        forward(None)


def summer(points, *, weights=(1 / R, 1 / (2 * R)), activation="linear", opamp=None, n=1, **kw):
    """src (len(weights) lines) -> resistors -> one-neuron (or n identical) layer."""
    c = Circuit()
    m = len(weights)
    c.add(PWLSource("src", m, points))
    W = np.tile(np.asarray(weights, float), (n, 1))
    c.add(ResistorColumns("syn", W, np.full(n, sum(weights))))
    op = opamp if opamp is not None else OpAmpParams(gbw=1e6, slew_rate=math.inf, i_q=0.0)
    lay = c.add(NeuronLayer("nl", n, NeuronParams(r_f=R, activation=activation, opamp=op, **kw)))
    c.connect("src.out", "syn.in")
    c.connect("syn.i", "nl.in")
    c.connect("syn.g", "nl.g")
    return c, lay


# --------------------------------------------------------------------------- closed forms
def test_tau_and_noise_gain_closed_form():
    c, lay = summer([])
    c.build()
    ng = 1 + R * (1 / R + 1 / (2 * R))
    assert lay.noise_gain()[0] == pytest.approx(2.5)
    # exact single-pole closed loop, and its large-A0 limit NG/(2 pi GBW)
    assert lay.tau()[0] == pytest.approx(1 / (2 * math.pi * 1e6 * (1 / 1e5 + 1 / ng)), rel=1e-12)
    assert lay.tau()[0] == pytest.approx(ng / (2 * math.pi * 1e6), rel=3e-5)


@pytest.mark.parametrize("gbw", [1e6, 10e6])
def test_single_pole_step_settles_exponentially(gbw):
    a0 = 1e5
    v = [0.8, -0.6]
    c, lay = summer([("1us", v)], opamp=OpAmpParams(a0=a0, gbw=gbw, slew_rate=math.inf, i_q=0.0))
    sim = c.build()
    ng = 2.5
    tau = 1 / (2 * math.pi * gbw * (1 / a0 + 1 / ng))   # = ng/(2 pi gbw) * a0/(a0 + ng)
    assert tau == pytest.approx(ng / (2 * math.pi * gbw), rel=3e-5)
    y_final = -(R / R * v[0] + R / (2 * R) * v[1]) / (1 + ng / a0)
    t_step = to_ticks("1us")
    sim.run(t_step)
    for frac in (0.1, 0.5, 1.0, 2.0, 4.6, 8.0):
        t = t_step + int(round(frac * tau / TICK))
        sim.run(t)
        expect = y_final * (1 - math.exp(-(t - t_step) * TICK / tau))
        got = lay.read()[0]
        assert got == pytest.approx(expect, abs=1e-6 * abs(y_final)), frac
    # 1 % settling time right after the step: tau*ln(100) = 4.6 tau
    c2, lay2 = summer([("1us", v)], opamp=OpAmpParams(a0=a0, gbw=gbw, slew_rate=math.inf, i_q=0.0))
    sim2 = c2.build()
    sim2.run(t_step + 1)  # just after the step (run(until) stops before events at `until`)
    assert lay2.settle_time(0.01)[0] == pytest.approx(math.log(100) * tau, rel=3e-5)
    assert lay2.settle_time(0.001)[0] == pytest.approx(math.log(1000) * tau, rel=3e-5)


def test_output_net_is_pwl_within_tolerance_and_events_stop_when_settled():
    c, lay = summer([("1us", [1.0, 1.0])], pwl_tol=1e-3)
    sim = c.build()
    probe = sim.probe("nl.out")
    sim.run()  # must terminate: a settled layer generates no more events
    assert lay.settled
    tau = lay.tau()[0]
    n_knots = lay.n_knots
    assert 5 < n_knots < 60
    # every knot of the posted PWL lies on the exact trajectory, chords within tol
    t_step = to_ticks("1us")
    y_final = -1.5 / (1 + 2.5 / 1e5)
    net = sim.net("nl.out")
    ts = np.array(probe.times)
    vs = np.array(probe.values)[:, 0]
    mid = ts >= t_step
    for t, v_ in zip(ts[mid], vs[mid]):
        exact = y_final * (1 - math.exp(-(t - t_step) * TICK / tau))
        assert abs(v_ - exact) < 1.01e-3
    assert net.segment[3][0] == pytest.approx(y_final, abs=1e-12)  # the last ramp ends on the exact value


def test_slew_limited_ramp_then_exponential():
    sr = 1e6  # 1 V/us, slow on purpose
    op = OpAmpParams(gbw=10e6, slew_rate=sr, i_q=0.0)
    c, lay = summer([("0.5us", [2.0, 2.0])], opamp=op)
    sim = c.build()
    t0 = to_ticks("0.5us")
    sim.run(t0)
    y_inf = -3.0 / (1 + 2.5 / 1e5)
    tau = lay.tau()[0]
    band = sr * tau
    t_slew = (abs(y_inf) - band) / sr
    # during the slew phase the output is an exact ramp at -SR
    for t_us in (0.3, 1.0, 2.0):
        sim.run(t0 + to_ticks(t_us * 1e-6))
        assert lay.read()[0] == pytest.approx(-sr * t_us * 1e-6, rel=1e-9)
        assert sim.net("nl.out").value()[0] == pytest.approx(-sr * t_us * 1e-6, abs=1e-3)  # PWL within pwl_tol
    # then the linear region: distance left = SR*tau decaying with tau
    dt = 2 * tau
    sim.run(t0 + to_ticks(round((t_slew + dt) * 1e12) * 1e-12))
    expect = y_inf + band * math.exp(-(round((t_slew + dt) * 1e12) * 1e-12 - t_slew) / tau)
    assert lay.read()[0] == pytest.approx(expect, abs=1e-9)
    # settle time includes the slew phase
    c2, lay2 = summer([("0.5us", [2.0, 2.0])], opamp=op)
    s2 = c2.build()
    s2.run(t0 + 1)
    assert lay2.settle_time(0.01)[0] == pytest.approx(t_slew + tau * math.log(band / (0.01 * abs(y_inf))) - 1e-12, abs=1e-13)


def test_rail_clipping_and_recovery_without_windup():
    op = OpAmpParams(gbw=1e6, slew_rate=math.inf, v_rail_pos=5.0, v_rail_neg=-5.0, i_q=0.0)
    # target -15 V for 20 us (deep saturation), then +1 V
    c, lay = summer([("1us", [10.0, 0.0]), ("21us", [-0.6667, 0.0])], opamp=op, activation="rails")
    sim = c.build()
    tau = lay.tau()[0]
    y_inf = -10.0 / (1 + 2.5 / 1e5)
    # hits the rail at t = tau*ln(y_inf/(y_inf + 5))
    t_hit = tau * math.log(y_inf / (y_inf + 5.0))
    sim.run(to_ticks("1us") + int(0.5 * t_hit / TICK))
    assert -5.0 < lay.read()[0] < 0
    sim.run("20us")
    assert lay.read()[0] == -5.0
    assert sim.net("nl.out").value()[0] == -5.0
    # recovery: leaves the rail at once and relaxes from -5 toward the new target
    t_back = to_ticks("21us")
    y2 = 0.6667 / (1 + 2.5 / 1e5)
    for frac in (0.05, 0.5, 2.0):
        t = t_back + int(frac * tau / TICK)
        sim.run(t)
        expect = y2 + (-5.0 - y2) * math.exp(-(t - t_back) * TICK / tau)
        assert lay.read()[0] == pytest.approx(expect, abs=1e-9)


def test_activations_and_sign_convention():
    y = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    p = NeuronParams(activation="tanh", v_sat=1.0)
    np.testing.assert_allclose(p.activate(y), np.tanh(y))
    np.testing.assert_allclose(NeuronParams(activation="clip", v_sat=1.0).activate(y), np.clip(y, -1, 1))
    np.testing.assert_allclose(NeuronParams(activation="linear").activate(y), y)
    np.testing.assert_allclose(NeuronParams(activation="linear", invert=False).activate(y), -y)
    np.testing.assert_allclose(NeuronParams(activation="tanh", v_sat=2.0, invert=False).activate(y), -2 * np.tanh(y / 2))


def test_ideal_preset_is_instant_and_exact():
    c, lay = summer([("1us", [0.3, 0.4])], opamp=OpAmpParams.ideal(), activation="tanh", v_sat=1.0)
    sim = c.build()
    sim.run(to_ticks("1us") + 1)
    expect = math.tanh(-(0.3 + 0.2))
    assert lay.read()[0] == expect
    assert sim.net("nl.out").value()[0] == expect
    assert lay.tau()[0] == 0.0
    assert lay.settle_time()[0] == 0.0
    assert lay.energy_j == 0.0


def test_input_ramp_tracked_exactly_in_linear_region():
    # input ramps over 5 tau; the exact solution of tau*y' = p0 + p1*t - y
    c, lay = summer([("1us", [0.0, 0.0]), ("1us", [1.0, 0.0], "2us")])
    sim = c.build()
    tau = lay.tau()[0]
    k = 1 / (1 + 2.5 / 1e5)
    p1 = -k * 1.0 / 2e-6
    t = 1.3e-6
    sim.run(to_ticks("1us") + to_ticks(t))
    expect = p1 * (t - tau) + p1 * tau * math.exp(-t / tau)
    assert lay.read()[0] == pytest.approx(expect, rel=1e-9)


def test_output_at_and_steady_state_agree_with_running():
    c, lay = summer([("1us", [0.5, 0.5])], activation="tanh", v_sat=1.0)
    sim = c.build()
    sim.run(to_ticks("1us") + 1)
    t_future = to_ticks("1.7us")
    predicted = lay.output_at(t_future)
    assert lay.steady_state()[0] == pytest.approx(math.tanh(-0.75 / (1 + 2.5e-5)), rel=1e-12)
    sim.run(t_future)
    np.testing.assert_allclose(lay.read(), predicted, rtol=1e-12)
    np.testing.assert_allclose(lay.transfer(np.array([0.75 / R])), lay.steady_state(), rtol=1e-12)


def test_offset_spread_from_build_stream_and_noise_from_run_stream():
    op = OpAmpParams(gbw=10e6, offset_d2d=2e-3, noise_c2c=1e-3, i_q=0.0)
    n = 4000

    def make(seed, run_seed=None):
        c, lay = summer([], opamp=op, n=n)
        c.build(seed=seed, run_seed=run_seed)
        return lay

    a, b, d = make(1), make(1), make(2)
    np.testing.assert_array_equal(a.offset, b.offset)
    assert not np.array_equal(a.offset, d.offset)
    assert np.std(a.offset) == pytest.approx(2e-3, rel=0.05)
    # with zero input the settled output is offset * noise gain (* finite-gain factor)
    np.testing.assert_allclose(a.steady_state(), a.offset * 2.5 / (1 + 2.5e-5), rtol=1e-12)
    r1, r2 = a.read(), a.read()
    assert np.std(r1 - r2) == pytest.approx(math.sqrt(2) * 1e-3, rel=0.05)
    # same chip, fresh noise
    e = make(1, run_seed=9)
    np.testing.assert_array_equal(e.offset, a.offset)
    assert not np.array_equal(e.read(), make(1).read())


def test_energy_quiescent_plus_load():
    op = OpAmpParams(gbw=10e6, slew_rate=math.inf, i_q=2e-3, v_supply_pos=6.0, v_supply_neg=-6.0)
    c, lay = summer([(0, [1.0, 0.0])], opamp=op)  # y settles to about -1 V at once
    sim = c.build()
    sim.run("1us")
    e1 = lay.energy_j
    sim.run("11us")
    de = lay.energy_j - e1
    # quiescent: i_q * 12 V; load: y = -1 V sinks i_out = (y - v-)/R_f from the -6 V supply
    k = 1 / (1 + 2.5 / 1e5)
    y = -k * 1.0
    v_minus = (1.0 / R * R + y) / 2.5
    i_out = (y - v_minus) / R
    expect = (2e-3 * 12.0 + abs(i_out) * 6.0) * 10e-6
    assert de == pytest.approx(expect, rel=1e-6)


def test_pole_step_helpers_agree_with_ode():
    y0 = np.array([0.0, 4.0, -1.0])
    target = np.array([3.0, -20.0, -0.5])
    tau = np.array([1e-6, 2e-6, 0.5e-6])
    sr, lo, hi = 2e6, -5.0, 5.0

    def rhs(_t, y):
        d = np.clip((target - y) / tau, -sr, sr)
        d = np.where((y >= hi) & (d > 0) | (y <= lo) & (d < 0), 0.0, d)
        return d

    sol = solve_ivp(rhs, (0, 12e-6), y0, rtol=1e-10, atol=1e-12, dense_output=True, max_step=2e-8)
    for t in (0.4e-6, 2e-6, 5e-6, 12e-6):
        np.testing.assert_allclose(pole_step(y0, target, tau, sr, lo, hi, t), np.clip(sol.sol(t), lo, hi), atol=2e-6)
    # ramp target, linear region: exact
    p0, p1 = np.array([0.0]), np.array([1e5])
    sol2 = solve_ivp(lambda t, y: (p0 + p1 * t - y) / 1e-6, (0, 5e-6), [0.0], rtol=1e-11, atol=1e-13)
    assert pole_step_ramp(np.array([0.0]), p0, p1, np.array([1e-6]), math.inf, lo, hi, 5e-6)[0] == pytest.approx(sol2.y[0, -1], abs=1e-8)
    # time_to_level inverts pole_step
    t_l = time_to_level(y0[:1], target[:1], tau[:1], sr, np.array([2.9]))
    assert pole_step(y0[:1], target[:1], tau[:1], sr, lo, hi, float(t_l[0]))[0] == pytest.approx(2.9, abs=1e-9)


# --------------------------------------------------------------------------- two-layer cascade
def test_two_layer_sampled_at_half_settling_is_wrong_by_the_single_pole_amount():
    """x steps at t=0 into layer 1 (2 neurons, tanh) -> resistor columns -> layer 2
    (1 neuron, linear).  Sampling layer 2 at half its settling time gives the
    value the cascade ODE predicts, far from the settled value."""
    gbw = 2e6
    op = OpAmpParams(gbw=gbw, slew_rate=math.inf, i_q=0.0)
    W1 = np.array([[1 / R, 0.0], [1 / (2 * R), 1 / R]])
    g1 = np.array([1 / R, 1.5 / R])
    W2 = np.array([[1 / R, -1 / (3 * R)]])      # a negative weight: pretend a differential column
    g2 = np.array([1 / R + 1 / (3 * R)])
    x = np.array([0.6, -0.4])
    p1 = NeuronParams(r_f=R, activation="tanh", v_sat=1.0, opamp=op, pwl_tol=1e-4)
    p2 = NeuronParams(r_f=R, activation="linear", opamp=op, pwl_tol=1e-4)

    def build():
        c = Circuit()
        c.add(PWLSource("x", 2, [(0, [0.0, 0.0]), ("1ns", x)]))
        c.add(ResistorColumns("s1", W1, g1))
        l1 = c.add(NeuronLayer("l1", 2, p1))
        c.add(ResistorColumns("s2", W2, g2))
        l2 = c.add(NeuronLayer("l2", 1, p2))
        c.connect("x.out", "s1.in")
        c.connect("s1.i", "l1.in")
        c.connect("s1.g", "l1.g")
        c.connect("l1.out", "s2.in")
        c.connect("s2.i", "l2.in")
        c.connect("s2.g", "l2.g")
        return c.build(), l1, l2

    # independent reference: the cascade ODE of two single-pole summers
    a0 = op.a0
    ng1, ng2 = 1 + R * g1, 1 + R * g2
    w1 = 2 * math.pi * gbw / a0

    def rhs(_t, s):
        y1, y2 = s[:2], s[2:]
        vm1 = (W1 @ x * R + y1) / ng1
        vm2 = (W2 @ np.tanh(y1) * R + y2) / ng2
        return np.concatenate([w1 * (a0 * (0 - vm1) - y1), w1 * (a0 * (0 - vm2) - y2)])

    sol = solve_ivp(rhs, (0, 20e-6), np.zeros(3), method="LSODA", rtol=1e-10, atol=1e-12, dense_output=True)
    sim, l1, l2 = build()
    sim.run()  # let the chain settle completely; it must stop generating events
    assert l1.settled and l2.settled
    y_settled = l2.steady_state()[0]
    assert y_settled == pytest.approx(sol.sol(20e-6)[2], abs=1e-6)
    assert l2.read()[0] == pytest.approx(y_settled, abs=1e-4)
    # 1 % settling of the cascade from the reference
    ts = np.linspace(0, 20e-6, 20001)
    y2 = sol.sol(ts)[2]
    outside = np.nonzero(np.abs(y2 - y_settled) > 0.01 * abs(y_settled))[0]
    t_settle = ts[outside[-1] + 1]
    t_half = round(0.5 * t_settle * 1e9) * 1e-9
    sim2, _, l2b = build()
    sim2.run(to_ticks("1ns") + to_ticks(t_half))
    early = l2b.read()[0]
    predicted = sol.sol(t_half)[2]
    assert early == pytest.approx(predicted, abs=2e-4)        # the single-pole prediction
    assert abs(early - y_settled) > 0.05 * abs(y_settled)      # and clearly wrong
    assert abs(early - y_settled) > 100 * 2e-4


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kw,match", [
    (dict(a0=-1.0), "OpAmpParams.a0: must be positive"),
    (dict(a0=0.5), "OpAmpParams.a0: must be at least 1"),
    (dict(a0="big"), "OpAmpParams.a0: must be a number"),
    (dict(gbw=-1.0), r"OpAmpParams.gbw: must be positive \(got -1.0\)"),
    (dict(gbw=float("nan")), "OpAmpParams.gbw: must not be NaN"),
    (dict(slew_rate=0.0), "OpAmpParams.slew_rate: must be positive"),
    (dict(v_rail_pos=-math.inf), "OpAmpParams.v_rail_pos: must not be -inf"),
    (dict(v_rail_neg=math.inf), "OpAmpParams.v_rail_neg: must not be \\+inf"),
    (dict(v_rail_pos=-6.0), "OpAmpParams.v_rail_pos: must exceed v_rail_neg"),
    (dict(offset_d2d=-1e-3), "OpAmpParams.offset_d2d: must not be negative"),
    (dict(offset_d2d=math.inf), "OpAmpParams.offset_d2d: must be finite"),
    (dict(noise_c2c=-1.0), "OpAmpParams.noise_c2c: must not be negative"),
    (dict(i_q=-1.0), "OpAmpParams.i_q: must not be negative"),
    (dict(v_supply_pos=4.0), "OpAmpParams.v_supply_pos: must be at least v_rail_pos"),
    (dict(v_supply_pos=math.inf), "OpAmpParams.v_supply_pos: must be finite"),
    (dict(v_supply_neg=-4.0), "OpAmpParams.v_supply_neg: must be at most v_rail_neg"),
    (dict(v_supply_neg=math.nan), "OpAmpParams.v_supply_neg: must not be NaN"),
    (dict(v_rail_pos=math.inf, i_q=1e-3), "OpAmpParams.i_q: needs finite supplies"),
])
def test_opamp_params_validation(kw, match):
    with pytest.raises(ConfigError, match=match):
        OpAmpParams(**kw)


@pytest.mark.parametrize("kw,match", [
    (dict(r_f=0.0), "NeuronParams.r_f: must be positive"),
    (dict(r_f=math.inf), "NeuronParams.r_f: must be finite"),
    (dict(activation="relu"), "NeuronParams.activation: must be one of"),
    (dict(v_sat=-1.0), "NeuronParams.v_sat: must be positive"),
    (dict(invert="yes"), "NeuronParams.invert: must be True or False"),
    (dict(pwl_tol=0.0), "NeuronParams.pwl_tol: must be positive"),
    (dict(opamp=None), "NeuronParams.opamp: must be an OpAmpParams"),
    (dict(activation="rails", opamp=OpAmpParams.ideal()), "NeuronParams.activation: 'rails' needs finite op-amp rails"),
])
def test_neuron_params_validation(kw, match):
    with pytest.raises(ConfigError, match=match):
        NeuronParams(**kw)


def test_layer_validation_and_presets():
    with pytest.raises(ConfigError, match="NeuronLayer.n: must be a positive integer"):
        NeuronLayer("x", 0)
    with pytest.raises(ConfigError, match="NeuronLayer.params: must be a NeuronParams"):
        NeuronLayer("x", 2, OpAmpParams())
    c, lay = summer([])
    c.build()
    with pytest.raises(ConfigError, match="settle_time.tol"):
        lay.settle_time(2.0)
    for preset in (OpAmpParams.tl07x(), OpAmpParams.opa27()):
        assert preset.gbw < math.inf and preset.supply_span == 30.0
    assert OpAmpParams.ideal(v_rail_pos=5.0, v_rail_neg=-5.0).v_rail_pos == 5.0
    tau, k = closed_loop(OpAmpParams.ideal(), 3.0)
    assert tau == 0.0 and k == 1.0
