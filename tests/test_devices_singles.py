"""Single-device writes of every model against the same array integrated at rtol = 1e-10 (hypothesis),
and the closed-form flow of HP devices with a p = 1 window (components/devices/windowed.py) against
quadrature of its separable law."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from components.devices import DeviceArray, preset
from components.devices.kernels import PATH_EXACT, PATH_FALLBACK, PATH_INTEGRATOR
from components.devices.windowed import window_flow
from mssim import SeedTree
from tests.device_arrays import spread_array

MODELS = [("team", "symmetric", {}), ("team", "hp_tio2", {}), ("vteam", None, {}), ("hp", None, {}),
          ("hp", None, {"window": "joglekar"}), ("hp", None, {"window": "biolek"}),
          ("hp", None, {"window": "prodromakis", "j": 2.0}), ("hp", None, {"window": "joglekar", "p": 2}),
          ("yakopcic", None, {})]
AMP = {"team": 0.75, "vteam": 0.25, "hp": 0.75, "yakopcic": 0.75}   # half the pair amplitudes
ORACLE = dict(rtol=1e-10, atol=1e-14, exact_flows=False)


def _array(model, name, extra, n, seed, spread, u, **kw):
    return spread_array(model, name, extra, n, seed, spread, u, "singles", **kw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.integers(0, len(MODELS) - 1), seed=st.integers(0, 10**6), amp=st.floats(0.1, 2.0),
       logw=st.floats(-8.0, -4.0), edge=st.floats(1e-9, 3e-8), spread=st.booleans(), c2c=st.sampled_from([0.0, 0.02]),
       pulses=st.integers(1, 2))
def test_single_writes_against_the_oracle(m, seed, amp, logw, edge, spread, c2c, pulses):
    """Trapezoids of both signs (each device its own sign; runaway, both bounds and sub-threshold
    pieces among them) through single devices, whatever path each piece takes: every resistance
    within 2e-4 of the same array (same spread, same c2c draws) integrated at rtol = 1e-10, or the state
    within 2·atol (2e-9) of the reference's (which matters only for a Yakopcic device a hair off x = 0,
    where R ~ 1/x)."""
    model, name, extra = MODELS[m]
    extra = dict(extra, dx_c2c=c2c)
    n = 40
    u = np.random.default_rng(seed).choice([0.0, 1.0, 0.1, 0.5, 0.9], n)
    u = np.where(np.random.default_rng(seed + 1).random(n) < 0.6, np.random.default_rng(seed + 2).random(n), u)
    fast, ref = (_array(model, name, extra, n, seed, spread, u, **kw) for kw in ({}, ORACLE))
    v = amp * AMP[model] * np.random.default_rng(seed + 3).choice([-1.0, 1.0], n)
    for _ in range(pulses):
        for arr in (fast, ref):
            arr.apply_voltage(0.0, v, edge)
            arr.apply_voltage(v, v, 10.0 ** logw)
            arr.apply_voltage(v, 0.0, edge)
    rf, rr = fast.resistance(), ref.resistance()
    fin = np.isfinite(rr)
    assert np.array_equal(fin, np.isfinite(rf))
    err = np.where(np.abs(fast.u[fin] - ref.u[fin]) <= 2e-9, 0.0, np.abs(rf[fin] / rr[fin] - 1.0))
    assert err.max(initial=0.0) <= 2e-4, err.max()


def test_team_single_ramp_through_runaway():
    """TEAM symmetric, u = 0.5, -2.7 V trapezoid (24 ns edges, 19 ns flat): the falling edge keeps the device
    in its runaway toward R_on (u 0.33 -> 0.065), where R is most sensitive to u; the exact flat top and
    the certified ramps refuse there.  The integrator's state error estimate alone missed (hypothesis
    example, 3.8e-4 in R); with the energy under error control too (kernels._energy_ratio) it holds."""
    p = preset("team", "symmetric")
    fast, ref = (DeviceArray(p, 1, **kw) for kw in ({}, ORACLE))
    for arr in (fast, ref):
        arr.U[:] = 0.5
        arr.touch()
        v, edge = -2.71142578125, 2.3679032518979165e-08
        arr.apply_voltage(0.0, v, edge)
        arr.apply_voltage(v, v, 10.0 ** -7.713889768335012)
        arr.apply_voltage(v, 0.0, edge)
    assert abs(fast.resistance()[0] / ref.resistance()[0] - 1.0) <= 2e-4


def _long_pulses(m, seed, amp, logw, edge):
    model, name, extra = MODELS[m]
    n = 40
    u = np.random.default_rng(seed).choice([0.0, 1.0, 0.1, 0.5, 0.9], n)
    u = np.where(np.random.default_rng(seed + 1).random(n) < 0.6, np.random.default_rng(seed + 2).random(n), u)
    u[:2] = 0.0  # two devices at a bound, driven both ways: one of them leaves it (the closed form's case)
    fast, ref = (_array(model, name, extra, n, seed, True, u, **kw) for kw in ({}, ORACLE))
    v = amp * AMP[model] * np.random.default_rng(seed + 3).choice([-1.0, 1.0], n)
    v[:2] = amp * AMP[model] * np.array([1.0, -1.0])
    for arr in (fast, ref):
        arr.apply_voltage(0.0, v, edge)
        arr.apply_voltage(v, v, 10.0 ** logw)
        arr.apply_voltage(v, 0.0, edge)
    return fast, ref


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.sampled_from([4, 5, 6]), seed=st.integers(0, 10**6), amp=st.floats(0.1, 4.0),
       logw=st.floats(-4.0, -1.0), edge=st.floats(1e-9, 3e-8))
def test_window_closed_form_long_pulses_against_the_oracle(m, seed, amp, logw, edge):
    """HP with a p = 1 window under flat tops up to 100 ms (devices moving far, from and to both
    bounds: the closed form): every resistance within 2e-4 of the oracle, and the closed form taken."""
    fast, ref = _long_pulses(m, seed, amp, logw, edge)
    err = np.abs(fast.resistance() / ref.resistance() - 1.0)
    assert err.max() <= 2e-4, err.max()
    assert fast.path_counts[PATH_EXACT] > 0


def test_joglekar_p2_leaving_the_bound():
    """A Joglekar p = 2 device at the bound (u = 1e-9) under a 100 ms flat top grows exponentially from a
    state of the order of the integrator's atol: 2.5e-3 off in R (hypothesis example) while atol was fixed;
    it now shrinks with the distance from a bound where the window vanishes (kernels._atol_u)."""
    fast, ref = _long_pulses(7, 0, 1.0, -1.0, 3e-8)
    err = np.abs(fast.resistance() / ref.resistance() - 1.0)
    assert err.max() <= 2e-4, err.max()


def _ode_time(window, j, up, ron, dr, k, v, u0, u1):
    """Time for u0 -> u1 under the constant voltage v by quadrature of dt = R(u)/(k·v·f(u)) du."""
    def f(u):
        if window == "joglekar":
            return 1.0 - (2.0 * u - 1.0) ** 2
        if window == "prodromakis":
            return j * (1.0 - ((u - 0.5) ** 2 + 0.75))
        return 1.0 - u ** 2 if up else 1.0 - (1.0 - u) ** 2
    return quad(lambda u: (ron + dr * u) / (k * v * f(u)), u0, u1, epsabs=0.0, epsrel=1e-13, limit=200)[0]


@pytest.mark.parametrize("window,j", [("joglekar", 1.0), ("biolek", 1.0), ("prodromakis", 1.0),
                                      ("prodromakis", 2.5)])
@pytest.mark.parametrize("v", [2.0, -2.0])
def test_window_flow_against_quadrature(window, j, v):
    """The closed form's end state (windowed.window_flow), put back into quadrature of the law, takes the
    pulse's time (1e-9)."""
    p = preset("hp", window=window, j=j, r_on_d2d=0.05, r_off_d2d=0.05, mu_v_d2d=0.1)
    n = 16
    arr = DeviceArray(p, n, build_rng=SeedTree(1).build_stream("w", "d2d"))
    u0 = np.linspace(0.05, 0.95, n)
    T = 5e-3
    P = arr.P
    lo, hi = (1e-9, 1.0 - 1e-9) if window != "biolek" else (0.0, 1.0)
    for k in range(n):
        ron, dr, kk = P[k, 0], P[k, 1] - P[k, 0], P[k, 3]
        u1, e, ok = window_flow(P, k, 0, u0[k], v, v, T, 1e10, lo, hi)
        assert ok and abs(u1 - u0[k]) > 1e-4  # it moved
        t = _ode_time(window, j, v > 0, ron, dr, kk, v, u0[k], u1)
        assert t == pytest.approx(T, rel=1e-9)


def test_window_flow_energy_and_counters():
    """Energy of a constant-voltage pulse (v/k·ΔA) against the integrator at rtol = 1e-10; a window
    without the closed form (p = 2) takes the integrator, and a rate cap that could bind makes the
    closed form refuse (counted as fallback) with the same result as the integrator; a short move
    (initial rate × T below 0.05) takes the integrator, one or two steps being cheaper."""
    u0 = np.linspace(0.05, 0.95, 8)
    out = {}
    for label, extra, kw in (("fast", {}, {}), ("ref", {}, ORACLE), ("p2", {"p": 2}, {}),
                             ("capped", {}, dict(rate_cap=50.0)), ("capped_ref", {}, dict(ORACLE, rate_cap=50.0))):
        p = preset("hp", window="biolek", **extra)
        arr = DeviceArray(p, u0.size, **kw)
        arr.U[:] = u0
        arr.touch()
        e = arr.apply_voltage(3.0, 3.0, 0.5)
        out[label] = (arr, e)
    (fa, fe), (ra, re) = out["fast"], out["ref"]
    assert fa.path_counts[PATH_EXACT] == 8
    assert np.allclose(fa.U, ra.U, rtol=0, atol=1e-9)
    assert np.allclose(fe, re, rtol=1e-7)
    assert out["p2"][0].path_counts[PATH_INTEGRATOR] == 8
    ca, cra = out["capped"][0], out["capped_ref"][0]
    assert ca.path_counts[PATH_FALLBACK] == 8
    assert np.allclose(ca.U, cra.U, rtol=0, atol=1e-6)
    short = DeviceArray(preset("hp", window="biolek"), u0.size)
    short.U[:] = u0
    short.touch()
    short.apply_voltage(3.0, 3.0, 1e-6)
    assert short.path_counts[PATH_INTEGRATOR] == 8
