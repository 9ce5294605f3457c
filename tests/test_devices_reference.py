"""Device kernels against closed forms and an independent solve_ivp of each paper's equations.

Covers what the older device tests leave open (issue 15): windowed HP trajectories (Joglekar,
Biolek, Prodromakis with p = 1 and 2; the windows' closed forms under constant current) and
TEAM/VTEAM with *unequal* SET/RESET exponents, in both directions, through every integration
path (closed form, state-space march, DP5).  The reference (tests/device_reference.py) is
written in each paper's own variables and never imports the kernels.  Also the options in
closed form: log-normal d2d spread, relative read and c2c noise, endurance at exactly its
limit, r0 round trips, Yakopcic's a1 != a2, x_on != 0 (each kills a mutant of
tools/mutants.toml).  No ngspice: these run in CI's default selection in a few seconds.
"""

import math

import numpy as np
import pytest

from components.devices import DeviceArray, HPParams, TEAMParams, VTEAMParams, YakopcicParams
from components.devices.drive import apply_waveform
from tests.device_reference import reference_states, sine_wave, team_rate, trapezoid_train, yakopcic_current

# TEAM with unequal exponents (SET alpha_on = 2, RESET alpha_off = 4), balanced otherwise: an
# alpha_on/alpha_off mix-up in either direction changes every trajectory by orders of magnitude.
TEAM_UNEQUAL = TEAMParams.symmetric(alpha_on=2.0, alpha_off=4.0)
TEAM_KVATINSKY = TEAMParams.symmetric(alpha_on=2.0, alpha_off=4.0, window="kvatinsky", iv="exponential",
                                      a_on=0.6e-9, a_off=2.4e-9, w_c=0.1e-9)


def _x(arr, states):
    """Paper states from the normalised states returned by apply_waveform."""
    return arr.params.from_u(states)


# ----------------------------------------------------------------------------- closed forms: HP windows
def _hp_k(p):
    return p.mu_v * p.r_on / p.d ** 2


@pytest.mark.parametrize("w0", [0.1, 0.5, 0.93])
@pytest.mark.parametrize("sign", [+1, -1])
def test_hp_window_closed_forms_constant_current(w0, sign):
    """p = 1 windows under constant current: Joglekar and Prodromakis are logistic in the charge,
    Biolek is tanh (w rising) or logistic in w/2 (w falling)."""
    i = 2e-4 * sign              # mssim current into +; the paper's current is -i
    T = 3e-1
    q = -i * T                   # paper charge
    cases = {
        "joglekar": lambda k: 1.0 / (1.0 + (1.0 - w0) / w0 * math.exp(-4.0 * k * q)),
        "prodromakis": lambda k: 1.0 / (1.0 + (1.0 - w0) / w0 * math.exp(-0.7 * k * q)),  # j = 0.7
        "biolek": (lambda k: math.tanh(k * q + math.atanh(w0))) if q > 0 else
                  (lambda k: 2.0 / (1.0 + (2.0 - w0) / w0 * math.exp(2.0 * k * -q))),
    }
    for window, exact in cases.items():
        p = HPParams.biolek2009(window=window, p=1, j=0.7)
        arr = DeviceArray(p, 1, x0=w0, rtol=1e-9, atol=1e-12)
        arr.apply_current(i, i, T)
        expected = exact(_hp_k(p))
        assert abs(expected - w0) > 0.02  # the charge really moves the state
        assert arr.x[0] == pytest.approx(expected, abs=2e-8), window


@pytest.mark.parametrize("p_exp", [1, 2, 3])
def test_hp_joglekar_exponent_is_2p(p_exp):
    """Near a bound the Joglekar rate is k·i·(1 − (2w − 1)^(2p)); a tiny step checks the exponent."""
    p = HPParams.biolek2009(window="joglekar", p=p_exp)
    for w0 in (0.1, 0.8):
        arr = DeviceArray(p, 1, x0=w0, rtol=1e-12, atol=1e-15)
        i, T = -1e-4, 1e-6   # paper current +1e-4: w rises
        arr.apply_current(i, i, T)
        slope = (arr.x[0] - w0) / T
        assert slope == pytest.approx(_hp_k(p) * 1e-4 * (1 - (2 * w0 - 1) ** (2 * p_exp)), rel=1e-5)


# ----------------------------------------------------------------------------- closed forms: unequal exponents
@pytest.mark.parametrize("i", [60e-6, 150e-6, -45e-6, -120e-6])
def test_team_unequal_exponents_current_drive(i):
    p = TEAM_UNEQUAL
    x0 = 1.5e-9
    T = 2e-6
    arr = DeviceArray(p, 1, x0=x0)
    arr.apply_current(i, i, T)
    if i > 0:
        rate = p.k_off * (i / p.i_off - 1) ** p.alpha_off
    else:
        rate = p.k_on * (i / p.i_on - 1) ** p.alpha_on
    expected = min(max(x0 + rate * T, p.x_on), p.x_off)
    assert abs(expected - x0) > 1e-3 * (p.x_off - p.x_on)
    assert arr.x[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("v", [0.03, 0.08, -0.21, -0.24])
def test_vteam_kvatinsky2015_exponents_voltage_drive(v):
    """VTEAM's preset has alpha_on = 3, alpha_off = 1: the constant-voltage rate in each direction."""
    p = VTEAMParams.kvatinsky2015()
    x0 = 1.5e-9
    T = 1e-8 if v < 0 else 1e-6
    arr = DeviceArray(p, 1, x0=x0)
    arr.apply_voltage(v, v, T)
    if v > 0:
        rate = p.k_off * (v / p.v_off - 1) ** p.alpha_off
    else:
        rate = p.k_on * (v / p.v_on - 1) ** p.alpha_on
    expected = min(max(x0 + rate * T, p.x_on), p.x_off)
    assert abs(expected - x0) > 1e-3 * (p.x_off - p.x_on)
    assert arr.x[0] == pytest.approx(expected, rel=1e-9)


# ----------------------------------------------------------------------------- trajectories vs solve_ivp
def _compare(p, x0, t, v, tol, rtol=1e-7, **kw):
    """Kernel states at every corner against the reference; returns both (paper units)."""
    arr = DeviceArray(p, 1, x0=x0, rtol=rtol, atol=rtol * 1e-3, **kw)
    states, _ = apply_waveform(arr, t, v)
    mine = _x(arr, states[:, 0])
    ref = reference_states(p, x0, t, v)
    lo, hi = p.x_bounds
    err = np.abs(mine - ref) / (hi - lo)
    assert err.max() < tol, (type(p).__name__, getattr(p, "window", ""), err.max(), int(err.argmax()))
    assert (mine.max() - mine.min()) / (hi - lo) > 0.005  # the waveform really moves the device
    return mine, ref


HP_WINDOWS = ["none", "joglekar", "biolek", "prodromakis"]


@pytest.mark.parametrize("window", HP_WINDOWS)
@pytest.mark.parametrize("p_exp", [1, 2])
def test_hp_windowed_trains_match_reference(window, p_exp):
    """SET and RESET trains, then one train that crosses from one window edge to the other."""
    p = HPParams.biolek2009(window=window, p=p_exp, j=1.0)
    for amps, width, x0 in (([-1.0] * 4, 0.05, 0.2), ([-2.0] * 4, 0.01, 0.2),
                            ([1.0] * 4, 0.05, 0.8), ([2.0] * 4, 0.02, 0.8),
                            ([1.0] * 8 + [-1.0] * 6, 0.1, 0.85)):
        t, v, _ = trapezoid_train(amps, width, edge=width / 50)
        _compare(p, x0, t, v, tol=2e-5)


@pytest.mark.parametrize("window", HP_WINDOWS)
def test_hp_windowed_sine_matches_reference(window):
    p = HPParams.biolek2009(window=window, p=2)
    t, v = sine_wave(1.0, 1.0, 2, per_cycle=100)
    _compare(p, 0.5, t, v, tol=2e-5)


@pytest.mark.parametrize("params,x0,trains", [
    # TEAM, unequal exponents: SET trains at two amplitudes, RESET trains at two amplitudes
    (TEAM_UNEQUAL, 2.5e-9, [([-0.6] * 5, 20e-6), ([-0.8] * 5, 5e-6)]),
    (TEAM_UNEQUAL, 0.3e-9, [([0.3] * 5, 1e-6), ([0.6] * 5, 0.2e-6)]),
    # VTEAM kvatinsky2015 (alpha_on 3, alpha_off 1)
    (VTEAMParams.kvatinsky2015(), 2.7e-9, [([-0.21] * 5, 100e-9), ([-0.23] * 4, 20e-9)]),
    (VTEAMParams.kvatinsky2015(), 0.3e-9, [([0.04] * 5, 1e-6), ([0.1] * 4, 0.3e-6)]),
    # the same with the Kvatinsky window (edges 0.6 / 2.4 nm) and exponential I-V
    (TEAM_KVATINSKY, 1.5e-9, [([-0.2] * 5, 1e-6), ([-0.3] * 5, 0.2e-6), ([0.3] * 5, 0.2e-6), ([0.5] * 5, 50e-9)]),
])
def test_team_vteam_unequal_exponent_trains_match_reference(params, x0, trains):
    for amps, width in trains:
        t, v, _ = trapezoid_train(amps, width, edge=min(10e-9, width / 20))
        _compare(params, x0, t, v, tol=2e-5)


def test_team_vteam_unequal_exponent_sines_match_reference():
    t, v = sine_wave(0.6, 1e4, 2, per_cycle=200)
    _compare(TEAM_UNEQUAL, 1.0e-9, t, v, tol=2e-5)
    t, v = sine_wave(0.22, 1e6, 2, per_cycle=200)
    _compare(VTEAMParams.kvatinsky2015(), 1.5e-9, t, v, tol=2e-5)


def test_yakopcic_trains_and_sine_match_reference():
    p = YakopcicParams.oblea2010()
    for amps, width, x0 in (([-0.5] * 5, 100e-6, 0.11), ([-0.8] * 5, 20e-6, 0.11),
                            ([0.5] * 5, 100e-6, 0.9), ([0.8] * 5, 20e-6, 0.9),
                            ([-0.6] * 6 + [0.6] * 6, 100e-6, 0.11)):   # crosses xp = 0.3 and 1 - xn = 0.5
        t, v, _ = trapezoid_train(amps, width, edge=1e-6)
        _compare(p, x0, t, v, tol=2e-5)
    t, v = sine_wave(0.45, 1e3, 2, per_cycle=200)
    _compare(p, 0.11, t, v, tol=2e-5)


def test_reference_itself_tells_exponents_apart():
    """Negative control: the reference with swapped exponents disagrees with the kernel by far
    more than the tolerance, so the comparisons above can fail."""
    p = TEAM_UNEQUAL
    swapped = TEAMParams.symmetric(alpha_on=4.0, alpha_off=2.0)
    x = 0.3e-9
    assert team_rate(p, x, 0.6) / team_rate(swapped, x, 0.6) > 10
    t, v, _ = trapezoid_train([0.3] * 5, 1e-6, edge=10e-9)
    arr = DeviceArray(p, 1, x0=x)
    mine = _x(arr, apply_waveform(arr, t, v)[0][:, 0])
    ref_swapped = reference_states(swapped, x, t, v)
    assert np.max(np.abs(mine - ref_swapped)) / (p.x_off - p.x_on) > 1e-2


def test_yakopcic_current_closed_form_unequal_a1_a2():
    """I = a1·x·sinh(bV) for V >= 0 and a2·x·sinh(bV) below (V = −v in mssim's orientation), with
    a1 != a2 so that a swap shows; the rate does not depend on a1/a2, the current does."""
    p = YakopcicParams.oblea2010(a1=0.17, a2=0.05)
    x = np.array([0.11, 0.5, 0.9])
    arr = DeviceArray(p, 3, x0=x)
    for v in (0.3, -0.3, 1e-3, -1e-3):
        expected = [yakopcic_current(p, xi, v) for xi in x]
        np.testing.assert_allclose(arr.current(v), expected, rtol=1e-12)
    assert yakopcic_current(p, 0.5, 0.3) / yakopcic_current(p, 0.5, -0.3) == pytest.approx(-0.05 / 0.17)


def test_team_state_span_with_nonzero_x_on():
    """Rates are per metre of the span x_off − x_on: with x_on = 1 nm the closed form in metres
    still holds (TEAM current drive, VTEAM voltage drive)."""
    for p, d in ((TEAMParams.symmetric(alpha_on=2.0, alpha_off=4.0, x_on=1e-9, x_off=4e-9), 60e-6),
                 (VTEAMParams.kvatinsky2015(x_on=1e-9, x_off=4e-9), 0.05)):
        x0, T = 2.5e-9, 1e-6
        arr = DeviceArray(p, 1, x0=x0)
        if isinstance(p, VTEAMParams):
            arr.apply_voltage(d, d, T)
            rate = p.k_off * (d / p.v_off - 1) ** p.alpha_off
        else:
            arr.apply_current(d, d, T)
            rate = p.k_off * (d / p.i_off - 1) ** p.alpha_off
        assert rate * T > 1e-11
        assert arr.x[0] == pytest.approx(x0 + rate * T, rel=1e-12)


# ----------------------------------------------------------------------------- options in closed form
def test_d2d_spread_is_median_preserving_lognormal():
    """r_on·exp(σ·N(0, 1)): log(R_on/r_on) has mean 0 and std σ, and every device stays positive."""
    sigma, n = 0.5, 20000
    p = TEAMParams.symmetric(r_on_d2d=sigma)
    arr = DeviceArray(p, n, build_rng=np.random.default_rng(7), x0=p.x_on)
    r_on = arr.resistance()          # at x_on the linear I-V gives each device's own R_on
    assert np.all(r_on > 0)
    z = np.log(r_on / p.r_on)
    assert abs(z.mean()) < 0.03 and abs(z.std() - sigma) < 0.02
    assert abs(np.mean(((z - z.mean()) / z.std()) ** 3)) < 0.1   # symmetric in log: no skew


@pytest.mark.parametrize("params", [TEAMParams.symmetric(iv="exponential"), TEAMParams.symmetric(),
                                    HPParams.biolek2009(), VTEAMParams.kvatinsky2015(iv="exponential")])
def test_initial_resistance_round_trip(params):
    r = np.array([150.0, 900.0, 5e3, 15e3]) if params.r_off > 2e3 else np.array([60.0, 200.0, 500.0, 990.0])
    arr = DeviceArray(params, r.size, r0=r)
    np.testing.assert_allclose(arr.resistance(), r, rtol=1e-12)


def test_read_noise_is_relative():
    p = TEAMParams.symmetric(g_read_noise=0.05)
    arr = DeviceArray(p, 20000, run_rng=np.random.default_rng(3), r0=np.linspace(200.0, 15e3, 20000))
    g0 = arr.conductance()
    rel = arr.conductance(read_noise=True) / g0 - 1
    assert abs(rel.mean()) < 2e-3 and abs(rel.std() - 0.05) < 2e-3
    # relative: the spread is the same at low and high conductance
    assert abs(rel[:10000].std() - rel[10000:].std()) < 3e-3


def test_c2c_noise_is_relative_to_each_state_change():
    """dx_c2c scales every state change by (1 + dx_c2c·N(0, 1)): against a noiseless twin the
    relative change has std dx_c2c, whatever the size of the change."""
    n, sigma = 20000, 0.1
    r0 = np.linspace(3e3, 13e3, n)     # different currents, so different state changes
    noisy = DeviceArray(TEAMParams.symmetric(dx_c2c=sigma), n, run_rng=np.random.default_rng(11), r0=r0)
    clean = DeviceArray(TEAMParams.symmetric(), n, r0=r0)
    u0 = clean.u.copy()
    noisy.apply_voltage(0.6, 0.6, 1e-6)
    clean.apply_voltage(0.6, 0.6, 1e-6)
    du = clean.u - u0
    assert du.min() > 1e-4 and du.max() / du.min() > 2 and clean.u.max() < 0.99
    rel = (noisy.u - u0) / du - 1
    assert abs(rel.mean()) < 3e-3 and abs(rel.std() - sigma) < 3e-3


def test_endurance_wears_out_at_exactly_the_limit():
    """endurance_cycles = 3: the third switching event (|Δu| > switch_dx in one call) sticks it."""
    p = TEAMParams.symmetric(endurance_cycles=3, endurance_stuck="current")
    arr = DeviceArray(p, 1, r0=8e3)
    stuck = []
    for k, amp in enumerate((1.0, -1.0, 1.0, -1.0)):
        u = arr.u[0]
        arr.apply_voltage(amp, amp, 1e-6)
        if k < 3:
            assert abs(arr.u[0] - u) > p.switch_dx     # each of the first three calls switches
        stuck.append(bool(arr.stuck_mask[0]))
    assert stuck == [False, False, True, True]
    assert list(arr.switch_count) == [3]
