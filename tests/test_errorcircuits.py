"""Error circuit (J), sample-and-hold, comparator and PWM against closed forms."""

import math

import numpy as np
import pytest

from components.errorcircuits import (PWM, Comparator, ComparatorParams, ErrorCircuit, ErrorCircuitParams, PWMParams,
                                      SampleHold, SampleHoldParams)
from components.opamp import OpAmpParams, closed_loop
from mssim import Circuit, SeedTree
from mssim.errors import ConfigError, SimulationError
from mssim.stimulus import PWLSource
from mssim.units import TICK, ns, to_ticks, us

O = [0.2, -0.5, 0.9]
D = [1.0, 0.5, -0.3]


def j_rig(params, o_pts, d_pts, n=3, seed=0):
    c = Circuit()
    c.add(PWLSource("o", n, o_pts))
    c.add(PWLSource("d", n, d_pts))
    ec = c.add(ErrorCircuit("ec", n, params))
    c.connect("o.out", "ec.out")
    c.connect("d.out", "ec.target")
    return c.build(seed=seed), ec


def test_ideal_error_circuit_is_half_sum_of_squares():
    sim, ec = j_rig(ErrorCircuitParams.ideal(), [(0, O)], [(0, D)])
    sim.run(5)
    expect = 0.5 * sum((d - o) ** 2 for d, o in zip(D, O))
    assert ec.read() == pytest.approx(expect, rel=1e-15)
    assert ec.ideal_j(O, D) == pytest.approx(expect, rel=1e-15)
    assert sim.net("ec.j").value()[0] == pytest.approx(expect, rel=1e-15)
    assert ec.tau == 0.0


def test_finite_gain_offsets_and_rails_closed_form():
    op = OpAmpParams(a0=1e3, gbw=10e6, offset_d2d=1e-3, i_q=0.0)
    p = ErrorCircuitParams(sub_gain=2.0, k_sq=0.5, sum_gain=1.0, opamp=op)
    sim, ec = j_rig(p, [(0, O)], [(0, D)], seed=4)
    n = 3
    k_sub = 1 / (1 + 3.0 / 1e3)
    ng_sum = 1 + n * 0.5
    k_sum = 1 / (1 + ng_sum / 1e3)
    e = k_sub * (2.0 * (np.array(D) - np.array(O)) + 3.0 * ec.offset_sub)
    expect = k_sum * (0.5 * np.sum(0.5 * e ** 2) + ng_sum * ec.offset_sum)
    assert ec.static_j(O, D) == pytest.approx(expect, rel=1e-12)
    assert np.all(ec.offset_sub != 0) and ec.offset_sum != 0
    # ideal value differs by the finite-gain factors
    assert ec.ideal_j(O, D) != pytest.approx(expect, rel=1e-3)
    # rails: a huge error clips J at v_rail_pos
    assert ec.static_j([0, 0, 0], [4.0, 4.0, 4.0]) == 5.0


def test_j_settles_with_lumped_tau():
    op = OpAmpParams(gbw=1e6, slew_rate=math.inf, i_q=0.0)
    p = ErrorCircuitParams(opamp=op)
    sim, ec = j_rig(p, [(0, [0, 0, 0]), ("20us", O)], [(0, D)])
    ng_sub, ng_sum = 2.0, 1 + 3 * 0.5
    tau = sum(float(closed_loop(op, ng)[0]) for ng in (ng_sub, 1.0, ng_sum))
    assert ec.tau == pytest.approx(tau)
    j0 = ec.static_j([0, 0, 0], D)
    j1 = ec.static_j(O, D)
    t0 = to_ticks("20us")
    for frac in (0.3, 1.0, 3.0):
        t = t0 + int(frac * tau / TICK)
        sim.run(t)
        assert ec.value_at() == pytest.approx(j1 + (j0 - j1) * math.exp(-(t - t0) * TICK / tau), abs=1e-9)
    # prediction agrees with running on
    t_future = t0 + int(5 * tau / TICK)
    pred = ec.value_at(t_future)
    sim.run(t_future)
    assert ec.value_at() == pytest.approx(pred, abs=1e-12)
    sim.run()
    assert ec.settled and ec.steady_state() == pytest.approx(j1)


def test_error_circuit_energy_is_quiescent_of_2n_plus_1_amplifiers():
    op = OpAmpParams(i_q=1e-3, v_supply_pos=6.0, v_supply_neg=-6.0)
    sim, ec = j_rig(ErrorCircuitParams(opamp=op), [(0, O)], [(0, D)])
    sim.run(to_ticks("2us"))
    assert ec.energy_j == pytest.approx(7 * 1e-3 * 12.0 * 2e-6, rel=1e-12)


# --------------------------------------------------------------------------- sample & hold
def sh_rig(params, pts):
    c = Circuit()
    c.add(PWLSource("src", 1, pts))
    sh = c.add(SampleHold("sh", params))
    c.connect("src.out", "sh.in")
    return c.build(), sh


def test_sample_hold_acquisition_residue_pedestal_offset_droop():
    p = SampleHoldParams(t_acq=1 * us, acq_tol=1e-4, droop=1e3, offset=2e-3, pedestal=-1e-3,
                         opamp=OpAmpParams(i_q=0.0))
    tau = 1e-6 / math.log(1e4)
    sim, sh = sh_rig(p, [(0, 0.0), ("1us", 1.0)])
    t0 = to_ticks("1us")
    sim.run(t0 + to_ticks("0.3us"))      # hold early: off by the exponential residue
    held = sh.sample()
    expect = 1.0 * (1 - math.exp(-0.3e-6 / tau)) - 1e-3 + 2e-3
    assert held == pytest.approx(expect, abs=1e-12)
    sim.run(t0 + to_ticks("5.3us"))      # droop 1 mV/us for 5 us
    assert sh.read() == pytest.approx(expect - 5e-3, abs=1e-12)
    assert sim.net("sh.out").value()[0] == pytest.approx(expect - 5e-3, abs=1e-12)
    # released: tracks the input again from the held value
    sh.release()
    start = expect - 5e-3 - 2e-3
    sim.run(t0 + to_ticks("5.5us"))
    assert sh.read() == pytest.approx(1.0 + (start - 1.0) * math.exp(-0.2e-6 / tau) + 2e-3, abs=1e-12)


def test_sample_after_full_acquisition_is_within_acq_tol():
    p = SampleHoldParams(t_acq=1 * us, acq_tol=1e-4, opamp=OpAmpParams(i_q=0.0))
    sim, sh = sh_rig(p, [(0, 0.0), ("1us", 2.0)])
    sim.run(to_ticks("2us") + 1)
    assert abs(sh.sample() - 2.0) <= 2.0 * 1e-4


def test_hold_port_drives_the_hold():
    p = SampleHoldParams(t_acq=0.0, opamp=OpAmpParams(i_q=0.0))
    c = Circuit()
    c.add(PWLSource("src", 1, [(0, 0.5), ("2us", 1.5)]))
    c.add(PWLSource("clk", 1, [("1us", 1.0), ("3us", 0.0)], kind="digital"))
    sh = c.add(SampleHold("sh", p))
    c.connect("src.out", "sh.in")
    c.connect("clk.out", "sh.hold")
    sim = c.build()
    sim.run(to_ticks("2.5us"))
    assert sh.holding and sh.read() == 0.5        # input moved to 1.5 V while holding
    sim.run(to_ticks("3.5us"))
    assert not sh.holding and sh.read() == 1.5
    assert sim.events[0]["kind"] == "sample_hold"


# --------------------------------------------------------------------------- comparator
def test_comparator_offset_and_hysteresis():
    cmp = Comparator(ComparatorParams(offset=1e-3, hysteresis=2e-3))
    assert cmp.compare(0.0015, 0.0) == -1     # below offset + h/2 = 2 mV
    assert cmp.compare(0.0025, 0.0) == 1
    assert cmp.compare(0.0005, 0.0) == 1      # stays high until below offset - h/2 = 0
    assert cmp.compare(-0.0001, 0.0) == -1
    assert cmp.n_decisions == 4


def test_comparator_random_offset_and_noise():
    seeds = SeedTree(5)
    p = ComparatorParams(offset_d2d=1e-3, noise_c2c=1e-3, e_decision=1e-12)
    a = Comparator(p, build_rng=seeds.build_stream("cmp", "offset"), run_rng=seeds.run_stream("cmp", "noise"))
    b = Comparator(p, build_rng=seeds.build_stream("cmp", "offset"), run_rng=seeds.run_stream("cmp", "noise"))
    assert a.offset_total == b.offset_total != 0
    x = [a.compare(a.offset_total + 1e-3, 0.0) for _ in range(2000)]
    # P(noise > -1 mV) = Phi(1) = 0.841
    assert np.mean(np.array(x) > 0) == pytest.approx(0.841, abs=0.03)
    assert a.energy_j == pytest.approx(2000e-12)
    with pytest.raises(ConfigError, match="Comparator.build_rng"):
        Comparator(p)
    with pytest.raises(ConfigError, match="Comparator.run_rng"):
        Comparator(ComparatorParams(noise_c2c=1e-3))
    with pytest.raises(SimulationError, match="finite"):
        Comparator().compare(math.nan, 0)


# --------------------------------------------------------------------------- PWM
def test_pwm_gain_quantisation_and_bounds():
    pwm = PWM(PWMParams(gain=1 * us, clock=10 * ns, t_min=30 * ns, t_max=2 * us, below_min="zero"))
    assert pwm.width_ticks(0.1234) == to_ticks("120ns")     # 123.4 ns -> 12 clocks
    assert pwm.width_ticks(-0.1236) == to_ticks("120ns")    # |dV|
    assert pwm.width_ticks(0.1256) == to_ticks("130ns")
    assert pwm.width_ticks(0.02) == 0                        # 20 ns < t_min: dropped
    assert pwm.width_ticks(0.004) == 0                       # below resolution
    assert pwm.width_ticks(5.0) == to_ticks("2us")          # clipped to t_max
    assert pwm.width_seconds_exact(5.0) == pytest.approx(5e-6)
    pmin = PWM(PWMParams(gain=1 * us, clock=10 * ns, t_min=25 * ns, t_max=2 * us, below_min="min"))
    assert pmin.width_ticks(0.004) == to_ticks("30ns")       # t_min rounded up to the clock
    assert pmin.width_ticks(0.0) == 0
    pf = PWM(PWMParams(gain=1 * us, clock=10 * ns, rounding="floor", e_conversion=1e-12))
    assert pf.width_ticks(0.0199) == to_ticks("10ns")
    assert pf.energy_j == pytest.approx(1e-12)
    with pytest.raises(SimulationError, match="finite"):
        pf.width_ticks(math.inf)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("cls,kw,match", [
    (ErrorCircuitParams, dict(sub_gain=0.0), "ErrorCircuitParams.sub_gain: must be positive"),
    (ErrorCircuitParams, dict(k_sq=-1.0), "ErrorCircuitParams.k_sq: must be positive"),
    (ErrorCircuitParams, dict(sum_gain=math.inf), "ErrorCircuitParams.sum_gain: must be finite"),
    (ErrorCircuitParams, dict(pwl_tol=0.0), "ErrorCircuitParams.pwl_tol: must be positive"),
    (ErrorCircuitParams, dict(opamp="tl071"), "ErrorCircuitParams.opamp: must be an OpAmpParams"),
    (SampleHoldParams, dict(t_acq=-1.0), "SampleHoldParams.t_acq: must not be negative"),
    (SampleHoldParams, dict(acq_tol=0.0), "SampleHoldParams.acq_tol: must be positive"),
    (SampleHoldParams, dict(acq_tol=1.5), "SampleHoldParams.acq_tol: must be below 1"),
    (SampleHoldParams, dict(droop=math.nan), "SampleHoldParams.droop: must not be NaN"),
    (SampleHoldParams, dict(offset=math.inf), "SampleHoldParams.offset: must be finite"),
    (SampleHoldParams, dict(pedestal="x"), "SampleHoldParams.pedestal: must be a number"),
    (SampleHoldParams, dict(pwl_tol=-1.0), "SampleHoldParams.pwl_tol: must be positive"),
    (SampleHoldParams, dict(opamp=None), "SampleHoldParams.opamp: must be an OpAmpParams"),
    (ComparatorParams, dict(offset=math.inf), "ComparatorParams.offset: must be finite"),
    (ComparatorParams, dict(offset_d2d=-1.0), "ComparatorParams.offset_d2d: must not be negative"),
    (ComparatorParams, dict(hysteresis=-1e-3), "ComparatorParams.hysteresis: must not be negative"),
    (ComparatorParams, dict(noise_c2c=-1e-3), "ComparatorParams.noise_c2c: must not be negative"),
    (ComparatorParams, dict(e_decision=-1.0), "ComparatorParams.e_decision: must not be negative"),
    (PWMParams, dict(gain=0.0), "PWMParams.gain: must be positive"),
    (PWMParams, dict(clock=-1e-9), "PWMParams.clock: must be positive"),
    (PWMParams, dict(clock=0.3e-12), "PWMParams.clock: .*not a whole number of ticks"),
    (PWMParams, dict(t_min=-1e-9), "PWMParams.t_min: must not be negative"),
    (PWMParams, dict(t_max=0.0), "PWMParams.t_max: must be positive"),
    (PWMParams, dict(t_min=2e-6, t_max=1e-6), "PWMParams.t_max: must be at least t_min"),
    (PWMParams, dict(t_max=5e-9, clock=10e-9), "PWMParams.t_max: leaves no whole clock period"),
    (PWMParams, dict(below_min="clip"), "PWMParams.below_min: must be one of"),
    (PWMParams, dict(rounding="nearest"), "PWMParams.rounding: must be one of"),
    (PWMParams, dict(e_conversion=-1.0), "PWMParams.e_conversion: must not be negative"),
])
def test_params_validation(cls, kw, match):
    with pytest.raises(ConfigError, match=match):
        cls(**kw)


def test_block_validation():
    with pytest.raises(ConfigError, match="ErrorCircuit.n"):
        ErrorCircuit("e", 0)
    with pytest.raises(ConfigError, match="ErrorCircuit.params"):
        ErrorCircuit("e", 2, SampleHoldParams())
    with pytest.raises(ConfigError, match="SampleHold.params"):
        SampleHold("s", ErrorCircuitParams())
    with pytest.raises(ConfigError, match="Comparator.params"):
        Comparator(PWMParams())
    with pytest.raises(ConfigError, match="PWM.params"):
        PWM(ComparatorParams())
