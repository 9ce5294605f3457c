"""Device layer: closed forms, time additivity, bounds, integrator accuracy, options, validation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.integrate import solve_ivp

from components.devices import (MODELS, DeviceArray, HPParams, TEAMParams, VTEAMParams, YakopcicParams,
                                preset)
from components.devices import kernels as K
from mssim import SeedTree
from mssim.errors import ConfigError


# ----------------------------------------------------------------------------- closed forms
def test_hp_linear_drift_constant_current_closed_form():
    p = HPParams.biolek2009()
    k = p.mu_v * p.r_on / p.d ** 2          # 1/C
    arr = DeviceArray(p, 3, x0=[0.2, 0.5, 0.9])
    i, T = 1e-4, 2e-2
    arr.apply_current(i, i, T)
    # paper: w grows with the paper's current; mssim's + current is -i_paper, so w falls
    expected = np.clip(np.array([0.2, 0.5, 0.9]) - k * i * T, 0, 1)
    np.testing.assert_allclose(arr.x, expected, rtol=0, atol=1e-14)
    # and the reverse current raises w (toward R_on) exactly by k*q
    arr.apply_current(-i, -i, T)
    np.testing.assert_allclose(arr.x, np.clip(expected + k * i * T, 0, 1), atol=1e-14)


def test_hp_linear_drift_voltage_closed_form_matches_ode():
    p = HPParams.biolek2009()
    arr = DeviceArray(p, 1, r0=11e3)
    v, T = 1.0, 5e-2
    u0 = arr.u[0]
    arr.apply_voltage(v, v, T)
    kk = p.mu_v * p.r_on / p.d ** 2
    sol = solve_ivp(lambda t, u: [kk * v / (p.r_on + (p.r_off - p.r_on) * u[0])], (0, T), [u0],
                    rtol=1e-12, atol=1e-14)
    assert arr.u[0] == pytest.approx(min(sol.y[0, -1], 1.0), abs=1e-9)


def test_team_current_drive_closed_form():
    p = TEAMParams.hp_tio2()
    arr = DeviceArray(p, 1, x0=1.5e-9)
    i, T = 200e-6, 1e-6
    arr.apply_current(i, i, T)
    rate = p.k_off * (i / p.i_off - 1) ** p.alpha_off
    assert arr.x[0] == pytest.approx(1.5e-9 + rate * T, rel=1e-12)
    # a linear ramp from 0 to i: integral of (c)^a over the above-threshold part
    arr2 = DeviceArray(p, 1, x0=1.5e-9)
    arr2.apply_current(0.0, i, T)
    c1 = i / p.i_off - 1
    t_cross = T * p.i_off / i
    expect = p.k_off * (T - t_cross) / c1 * c1 ** (p.alpha_off + 1) / (p.alpha_off + 1)
    assert arr2.x[0] - 1.5e-9 == pytest.approx(expect, rel=1e-10)


@pytest.mark.parametrize("amp,width", [(-1.0, 1e-6), (1.0, 1e-6), (0.6, 10e-6), (-1.2, 0.2e-6)])
def test_team_voltage_drive_matches_reference_ode(amp, width):
    p = TEAMParams.hp_tio2()
    for r0 in (16e3, 8e3, 1e3):
        arr = DeviceArray(p, 1, r0=r0)
        u0 = arr.u[0]
        arr.apply_voltage(amp, amp, width)

        def f(t, u):
            uc = min(max(u[0], 0.0), 1.0)
            i = amp / (p.r_on + (p.r_off - p.r_on) * uc)
            span = p.x_off - p.x_on
            if i > p.i_off:
                r = p.k_off / span * (i / p.i_off - 1) ** 10
            elif i < p.i_on:
                r = p.k_on / span * (i / p.i_on - 1) ** 10
            else:
                r = 0.0
            r = max(-1e10, min(1e10, r))
            if (uc <= 0 and r < 0) or (uc >= 1 and r > 0):
                r = 0.0
            return [r]

        sol = solve_ivp(f, (0, width), [u0], method="LSODA", rtol=1e-11, atol=1e-13)
        ref = min(max(sol.y[0, -1], 0.0), 1.0)
        assert arr.u[0] == pytest.approx(ref, abs=2e-6), (r0, arr.u[0], ref)


def test_time_additivity_constant_drive_zero_gaps():
    """N pulses of width T with 0 V gaps end where one pulse of N*T ends (MODELS.md pitfall 3)."""
    for params, amp, r0 in ((TEAMParams.hp_tio2(), 1.0, 1e3), (TEAMParams.hp_tio2(), -0.9, 16e3),
                            (VTEAMParams.kvatinsky2015(), 0.3, 200.0), (HPParams.biolek2009(window="biolek"), 1.0,
                                                                        5e3)):
        n, T = 10, 1e-6 if not isinstance(params, HPParams) else 1e-3
        # default tolerance: local error control, so the global difference is a few rtol;
        # tight tolerance: the difference shrinks with it (HP/VTEAM are closed forms: exact)
        for rtol, atol, tol in ((1e-6, 1e-9, 1e-5), (1e-10, 1e-13, 1e-9)):
            a = DeviceArray(params, 1, r0=r0, rtol=rtol, atol=atol)
            b = DeviceArray(params, 1, r0=r0, rtol=rtol, atol=atol)
            for _ in range(n):
                a.apply_voltage(amp, amp, T)
                a.apply_voltage(0.0, 0.0, T)   # 0 V gap: no current, no motion
            b.apply_voltage(amp, amp, n * T)
            assert a.u[0] == pytest.approx(b.u[0], abs=tol), type(params).__name__
        assert abs(a.u[0] - DeviceArray(params, 1, r0=r0).u[0]) > 1e-4  # it did move


def test_below_threshold_read_is_exact_noop():
    p = TEAMParams.hp_tio2()
    arr = DeviceArray(p, 1000, r0=np.linspace(2e3, 16e3, 1000))
    u = arr.u.copy()
    e = arr.apply_voltage(0.01, 0.01, 1e-6)
    np.testing.assert_array_equal(arr.u, u)
    np.testing.assert_allclose(e, 0.01 ** 2 / arr.resistance() * 1e-6, rtol=1e-12)


# ----------------------------------------------------------------------------- bounds / robustness
@settings(max_examples=60, deadline=None)
@given(model=st.sampled_from(["hp", "team", "vteam", "yakopcic"]),
       window=st.sampled_from(["none", "joglekar", "biolek", "prodromakis"]),
       amp=st.floats(-3.0, 3.0), width=st.floats(1e-9, 1e-3), u0=st.floats(0.0, 1.0),
       ramp=st.booleans())
def test_states_never_leave_bounds(model, window, amp, width, u0, ramp):
    kw = {"window": window} if model != "yakopcic" else {}
    p = preset(model, **kw)
    arr = DeviceArray(p, 2, x0=p.from_u(np.array([u0, 1 - u0])))
    for _ in range(3):
        arr.apply_voltage(0.0 if ramp else amp, amp, width)
        arr.apply_voltage(-amp / 2, -amp / 2, width)
    assert np.all(np.isfinite(arr.u)) and np.all(arr.u >= 0) and np.all(arr.u <= 1)
    arr.apply_current(amp * 1e-3, amp * 1e-3, width)
    assert np.all(np.isfinite(arr.u)) and np.all(arr.u >= 0) and np.all(arr.u <= 1)
    assert np.all(np.isfinite(arr.resistance()))


def test_runaway_reaches_bound_without_nan_and_is_released():
    p = TEAMParams.hp_tio2()
    arr = DeviceArray(p, 1, r0=16e3)
    arr.apply_voltage(-1.5, -1.5, 10e-6)  # SET runaway: rate ~ (i/i_on)^10 as R falls
    assert arr.u[0] == 0.0 and arr.resistance()[0] == pytest.approx(p.r_on)
    arr.apply_voltage(1.0, 1.0, 1e-6)     # RESET releases it from the bound
    assert arr.u[0] > 0.05


@pytest.mark.parametrize("window", ["none", "biolek", "joglekar", "prodromakis"])
def test_hp_not_stuck_at_bound(window):
    """Driven into a bound for a long time, then reversed: the device leaves it (a Joglekar/Prodromakis
    window vanishes at the bounds, so a state clamped exactly onto one would stick for ever)."""
    p = HPParams.biolek2009(window=window)
    arr = DeviceArray(p, 1, x0=0.5)
    arr.apply_voltage(-2.0, -2.0, 1.0)    # drive to w = 1 (R_on)
    assert arr.x[0] == pytest.approx(1.0, abs=1e-6)
    # from 1e-9 of a vanishing window the state grows exponentially: tens of ms to leave (Prodromakis j = 1: ~60)
    arr.apply_voltage(2.0, 2.0, 1e-3 if window in ("none", "biolek") else 0.2)
    assert arr.x[0] < 1.0 - 1e-4


def test_pair_equals_two_singles_when_current_given():
    """A pair's states follow the single-device equations with the pair's series current."""
    p = TEAMParams.hp_tio2()
    arr = DeviceArray(p, 2, r0=[2e3, 9e3])
    r = arr.resistance()
    i = 1.5 / r.sum()
    u0 = arr.u.copy()
    arr.apply_pair(1.5, 1.5, 1e-12, [0], [1])  # short: the series current is practically constant
    ref = DeviceArray(p, 2, r0=[2e3, 9e3])
    ref.apply_current(np.array([i, -i]), np.array([i, -i]), 1e-12)
    assert abs(arr.u[1] - u0[1]) > 1e-6  # the SET-side device moves; the RESET side is below i_off
    np.testing.assert_allclose(arr.u - u0, ref.u - u0, rtol=2e-3, atol=1e-15)  # R2 moves by ~1 ohm in 1 ps


def test_pair_opposite_polarity_moves_weight():
    p = TEAMParams.hp_tio2()
    arr = DeviceArray(p, 4, r0=[3e3, 3e3, 3e3, 3e3])
    arr.apply_pair(1.5, 1.5, 1e-6, np.array([0, 2]), np.array([1, 3]))
    r = arr.resistance()
    assert r[0] > 3e3 and r[1] < 3e3   # + device resets, - device sets
    np.testing.assert_array_equal(r[0], r[2])


def test_yakopcic_pair_series_solve():
    p = YakopcicParams.oblea2010()
    arr = DeviceArray(p, 2, x0=[0.3, 0.6])
    i, vp = K.pair_current(3, arr.P, 0, 1, arr.u[0], arr.u[1], 0.8)
    # currents balance: i into + of device 0 equals current out of + of device 1
    assert arr.current(np.array([vp, vp - 0.8]))[0] == pytest.approx(i, rel=1e-10)
    assert arr.current(np.array([vp, vp - 0.8]))[1] == pytest.approx(-i, rel=1e-10)
    arr.apply_pair(0.8, 0.8, 1e-3, [0], [1])
    assert np.all((arr.u >= 0) & (arr.u <= 1))


# ----------------------------------------------------------------------------- options
def test_d2d_spread_and_determinism():
    p = TEAMParams.hp_tio2(r_on_d2d=0.1, k_off_d2d=0.2)
    a = DeviceArray(p, 50, build_rng=SeedTree(3).build_stream("x", "d2d"))
    b = DeviceArray(p, 50, build_rng=SeedTree(3).build_stream("x", "d2d"))
    np.testing.assert_array_equal(a.P, b.P)
    assert np.std(a.P[:, K.P_RON]) > 0
    with pytest.raises(ConfigError, match="r_on_d2d"):
        DeviceArray(p, 5)


def test_c2c_read_noise_drift_endurance():
    tree = SeedTree(1)
    p = TEAMParams.hp_tio2(dx_c2c=0.1, g_read_noise=0.05, retention_tau=1.0, retention_target=1.0,
                           endurance_cycles=3, endurance_stuck="off")
    arr = DeviceArray(p, 4, run_rng=tree.run_stream("a", "noise"), r0=1e3)
    clean = DeviceArray(TEAMParams.hp_tio2(), 4, r0=1e3)
    arr.apply_voltage(1.0, 1.0, 1e-6)
    clean.apply_voltage(1.0, 1.0, 1e-6)
    assert np.std(arr.u) > 0 and not np.allclose(arr.u, clean.u)
    g1, g2 = arr.conductance(read_noise=True), arr.conductance(read_noise=True)
    assert not np.array_equal(g1, g2)
    np.testing.assert_array_equal(arr.conductance(), 1 / arr.resistance())
    u = arr.u.copy()
    arr.idle(1.0)
    np.testing.assert_allclose(arr.u, 1.0 + (u - 1.0) * math.exp(-1.0))
    for _ in range(4):
        arr.apply_voltage(-1.5, -1.5, 1e-6)
        arr.apply_voltage(1.5, 1.5, 1e-6)
    assert np.all(arr.stuck_mask) and np.all(arr.switch_count >= 3) and np.all(arr.u == 1.0)
    u = arr.u.copy()
    arr.apply_voltage(-1.5, -1.5, 1e-6)
    np.testing.assert_array_equal(arr.u, u)


def test_faults_stuck_and_open():
    p = TEAMParams.hp_tio2()
    arr = DeviceArray(p, 3, r0=5e3)
    arr.set_stuck([0], "on")
    arr.set_open([1])
    arr.apply_voltage(1.5, 1.5, 1e-6)
    r = arr.resistance()
    assert r[0] == pytest.approx(p.r_on) and math.isinf(r[1]) and r[2] > 5e3
    assert arr.current(1.0)[1] == 0.0
    assert list(arr.faults) == [1, 2, 0]


def test_defaults_are_off():
    for name, cls in MODELS.items():
        if name == "table":  # needs its data; its dx_c2c is the data's scatter by design (tests/test_table_device.py)
            continue
        p = cls()
        assert p.dx_c2c == 0 and p.g_read_noise == 0 and math.isinf(p.retention_tau)
        assert math.isinf(p.endurance_cycles)


# ----------------------------------------------------------------------------- validation
BAD = [
    (TEAMParams, {"i_on": 8.9e-6}, "TEAMParams.i_on"),
    (TEAMParams, {"i_off": -1e-4}, "TEAMParams.i_off"),
    (TEAMParams, {"k_on": 1e-13}, "TEAMParams.k_on"),
    (TEAMParams, {"k_off": -1.0}, "TEAMParams.k_off"),
    (TEAMParams, {"r_on": 20e3}, "TEAMParams.r_on"),
    (TEAMParams, {"r_off": -5.0}, "TEAMParams.r_off"),
    (TEAMParams, {"x_on": 5e-9}, "TEAMParams.x_on"),
    (TEAMParams, {"alpha_on": 0.0}, "TEAMParams.alpha_on"),
    (TEAMParams, {"alpha_off": float("nan")}, "TEAMParams.alpha_off"),
    (TEAMParams, {"iv": "cubic"}, "TEAMParams.iv"),
    (TEAMParams, {"window": "hann"}, "TEAMParams.window"),
    (TEAMParams, {"p": 1.5}, "TEAMParams.p"),
    (TEAMParams, {"j": 0.0}, "TEAMParams.j"),
    (TEAMParams, {"w_c": 0.0}, "TEAMParams.w_c"),
    (TEAMParams, {"a_on": "x"}, "TEAMParams.a_on"),
    (TEAMParams, {"r_on_d2d": -0.1}, "TEAMParams.r_on_d2d"),
    (TEAMParams, {"k_off_d2d": 2.0}, "TEAMParams.k_off_d2d"),
    (TEAMParams, {"dx_c2c": -1.0}, "TEAMParams.dx_c2c"),
    (TEAMParams, {"g_read_noise": -1.0}, "TEAMParams.g_read_noise"),
    (TEAMParams, {"retention_tau": 0.0}, "TEAMParams.retention_tau"),
    (TEAMParams, {"retention_target": 2.0}, "TEAMParams.retention_target"),
    (TEAMParams, {"endurance_cycles": -3}, "TEAMParams.endurance_cycles"),
    (TEAMParams, {"endurance_d2d": -1.0}, "TEAMParams.endurance_d2d"),
    (TEAMParams, {"endurance_stuck": "middle"}, "TEAMParams.endurance_stuck"),
    (TEAMParams, {"switch_dx": 0.0}, "TEAMParams.switch_dx"),
    (TEAMParams, {"v_read": 0.0}, "TEAMParams.v_read"),
    (VTEAMParams, {"v_on": 0.2}, "VTEAMParams.v_on"),
    (VTEAMParams, {"v_off": -0.02}, "VTEAMParams.v_off"),
    (VTEAMParams, {"k_on": 10.0}, "VTEAMParams.k_on"),
    (HPParams, {"r_on": 0.0}, "HPParams.r_on"),
    (HPParams, {"r_off": 50.0}, "HPParams.r_on"),
    (HPParams, {"d": -1e-9}, "HPParams.d"),
    (HPParams, {"mu_v": 0.0}, "HPParams.mu_v"),
    (HPParams, {"window": "kvatinsky"}, "HPParams.window"),
    (HPParams, {"p": 0}, "HPParams.p"),
    (YakopcicParams, {"a1": 0.0}, "YakopcicParams.a1"),
    (YakopcicParams, {"b": -1.0}, "YakopcicParams.b"),
    (YakopcicParams, {"xp": 1.0}, "YakopcicParams.xp"),
    (YakopcicParams, {"xn": -0.1}, "YakopcicParams.xn"),
    (YakopcicParams, {"eta": 2}, "YakopcicParams.eta"),
    (YakopcicParams, {"vp": 0.0}, "YakopcicParams.vp"),
]


@pytest.mark.parametrize("cls,kw,match", BAD, ids=[b[2] + "-" + next(iter(b[1])) for b in BAD])
def test_validation_names_the_field(cls, kw, match):
    with pytest.raises(ConfigError, match=match.replace(".", r"\.")):
        cls(**kw)


def test_frozen_and_unknown_names():
    p = TEAMParams.hp_tio2()
    with pytest.raises(Exception):
        p.r_on = 5.0
    with pytest.raises(TypeError):
        TEAMParams(r_onn=5.0)
    with pytest.raises(ConfigError, match="TEAMParams.r_onn: unknown parameter"):
        p.with_values(r_onn=5.0)
    with pytest.raises(ConfigError, match="unknown model"):
        preset("memristor9")
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("team", "nope")


@pytest.mark.parametrize("call,match", [
    (lambda a: a.apply_voltage(1.0, 1.0, -1e-6), "duration_s"),
    (lambda a: a.apply_voltage(1.0, 1.0, float("nan")), "duration_s"),
    (lambda a: a.apply_voltage([1.0, 2.0, 3.0], 1.0, 1e-6), "scalar or have 4"),
    (lambda a: a.apply_voltage(1.0, 1.0, 1e-6, index=[7]), "DeviceArray.index"),
    (lambda a: a.apply_pair(1.0, 1.0, 1e-6, [0, 1], [2]), "equal length"),
    (lambda a: a.set_stuck([0], "sideways"), "set_stuck"),
    (lambda a: a.set_resistance(1e6), "DeviceArray.r0"),
])
def test_array_validation(call, match):
    arr = DeviceArray(TEAMParams.hp_tio2(), 4)
    with pytest.raises(ConfigError, match=match):
        call(arr)


@pytest.mark.parametrize("kw,match", [({"n": 0}, "DeviceArray.n"), ({"n": 2, "rtol": -1.0}, "DeviceArray.rtol"),
                                      ({"n": 2, "x0": 5e-9}, "DeviceArray.x0"),
                                      ({"n": 2, "x0": 1e-9, "r0": 1e3}, "x0 or r0")])
def test_array_construction_validation(kw, match):
    with pytest.raises(ConfigError, match=match):
        DeviceArray(TEAMParams.hp_tio2(), **kw)
