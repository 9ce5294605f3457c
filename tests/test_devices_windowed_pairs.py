"""Series pairs of HP devices with a p = 1 Joglekar, Biolek or Prodromakis window: the closed form in the charge
(components/devices/windowed.py: window_pair, hooked in kernels._pair_core) against the same array integrated
at rtol = 1e-10 (hypothesis), against an independent scipy solve_ivp of the two-state ODE, its refusals (rate cap,
a ramp through zero) taking the integrator, and the bit-for-bit equalities of the write entry points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from components.devices import DeviceArray, preset
from components.devices.kernels import PATH_EXACT, PATH_FALLBACK, PATH_FROZEN, PATH_INTEGRATOR
from components.devices.windowed import PAIR_Z_SERIES, window_pair
from mssim import SeedTree
from tests.device_arrays import SPREAD

ORACLE = dict(rtol=1e-10, atol=1e-14, exact_flows=False)
WINDOWS = [("joglekar", 1.0), ("biolek", 1.0), ("prodromakis", 1.0), ("prodromakis", 2.5)]
STICK = 1e-9  # kernels.STICK_EPS: Joglekar/Prodromakis states are kept in [eps, 1 - eps]


def _bounds(window):
    return (0.0, 1.0) if window == "biolek" else (STICK, 1.0 - STICK)


def _arrays(wins, n, seed, spread, u, c2c=0.0, mu_v=1e-14, **kw):
    """The fast array and the oracle: devices 2m + 1 (the − devices) take the second window of ``wins``
    (parameter rows of a second array built from the same streams), the rest the first."""
    out = []
    for extra in ({}, ORACLE):
        arrs = []
        for w, j in wins:
            p = preset("hp", window=w, j=j, mu_v=mu_v, dx_c2c=c2c, **(SPREAD["hp"] if spread else {}))
            t = SeedTree(seed)
            arrs.append(DeviceArray(p, n, build_rng=t.build_stream("wpairs", "d2d"),
                                    run_rng=t.run_stream("wpairs", "c2c"), **extra, **kw))
        arr = arrs[0]
        arr.P[1::2] = arrs[1].P[1::2]
        arr._uniform = bool(np.all(arr.P == arr.P[0]))
        arr.U[:] = u
        arr.touch()
        out.append(arr)
    return out


def _states(seed, n):
    """States uniform in [0, 1], with both bounds, a hair inside them and the middle among them."""
    rng = np.random.default_rng(seed)
    u = rng.choice([0.0, 1.0, 1e-9, 1.0 - 1e-9, 1e-6, 1.0 - 1e-6, 0.5], n)
    return np.where(rng.random(n) < 0.5, rng.random(n), u)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w1=st.integers(0, len(WINDOWS) - 1), w2=st.integers(0, len(WINDOWS) - 1), seed=st.integers(0, 10**6),
       spread=st.booleans(), c2c=st.sampled_from([0.0, 0.02]), log_mu=st.sampled_from([-14.0, -12.0, -10.0]),
       amp=st.floats(0.2, 3.0), logw=st.floats(-9.0, -5.0), edge=st.floats(1e-9, 3e-8), ratio=st.floats(0.5, 2.0),
       pulses=st.integers(1, 2))
def test_window_pairs_against_the_oracle(w1, w2, seed, spread, c2c, log_mu, amp, logw, edge, ratio, pulses):
    """Pulses rise -> flat top -> ramp to ``ratio``·amplitude -> fall, both polarities, through pairs of
    (mixed) windows, states at and near both bounds, stuck and open devices, spread and c2c on, mobilities
    from the default (tiny moves: the Taylor form) to 1e4 times it (devices crossing the whole range: the
    closed forms): every piece on the closed form (no integrator step), every resistance within 2e-4 of the
    oracle and every state within 1e-9, every pair's energy within 1e-6."""
    wins = (WINDOWS[w1], WINDOWS[w2])
    n = 48
    u0 = _states(seed, n)
    fast, ref = _arrays(wins, n, seed, spread, u0, c2c=c2c, mu_v=10.0 ** log_mu)
    for arr in (fast, ref):
        arr.set_stuck([2, 7])
        arr.set_open([9])
    pos = np.arange(0, n, 2, dtype=np.int64)
    neg = pos + 1
    sign = np.random.default_rng(seed + 3).choice([-1.0, 1.0], pos.size)
    pieces = [(0.0, amp, edge), (amp, amp, 10.0 ** logw), (amp, ratio * amp, edge), (ratio * amp, 0.0, edge)]
    # pairs 1 and 3 hold a stuck device (the oracle's integrator once let a stuck device move within a
    # step's stages: energy up to 1.2e-4 off whatever rtol, kernels._deriv2_held)
    for _ in range(pulses):
        ef = fast.apply_pair_pieces(pieces, sign, pos, neg)
        er = ref.apply_pair_pieces(pieces, sign, pos, neg)
        np.testing.assert_allclose(ef, er, rtol=1e-6, atol=0.0)
    c = fast.path_counts
    assert c[PATH_INTEGRATOR] == 0 and c[PATH_FALLBACK] == 0 and c[PATH_EXACT] > 0, c
    rf, rr = fast.resistance(), ref.resistance()
    fin = np.isfinite(rr)
    assert np.array_equal(fin, np.isfinite(rf))
    assert np.max(np.abs(rf[fin] / rr[fin] - 1.0)) <= 2e-4
    # the oracle's own error in u: a device leaving a Joglekar/Prodromakis bound grows as e^{c·k·q} from 1e-9,
    # and any error in it early on with it (its atol 1e-14 is 1e-5 of 1e-9: a Joglekar device grown from 1e-9
    # to 0.034 in 10 us, the oracle 4.7e-9 off the closed form, which is 5e-11 off solve_ivp at rtol 1e-13);
    # its partner then 1.2e-9 off (the closed form 5e-15 off solve_ivp); a stuck partner (the march, above)
    # up to 5.7e-7 (a Joglekar device from 0.5 to 0.458 beside a stuck one, the closed form 1e-16 off
    # solve_ivp): 1e-8 in u, 1e-6 relative near the bounds, the stuck pairs only in R (above); all of them
    # against solve_ivp (1e-10) in test_window_pairs_against_solve_ivp
    near = (u0 <= 1e-6) | (u0 >= 1.0 - 1e-6)
    rest = np.ones(n, bool)
    rest[[2, 3, 6, 7]] = False
    np.testing.assert_allclose(fast.u[rest & ~near], ref.u[rest & ~near], rtol=0.0, atol=1e-8)
    np.testing.assert_allclose(fast.u[rest & near], ref.u[rest & near], rtol=1e-6, atol=1e-8)


def _ivp_pair(P, wins, b, u1, u2, pieces, stuck1=False, stuck2=False):
    """solve_ivp (DOP853, rtol 1e-13) of the pair's two-state ODE over the pieces, the states clamped to the
    bounds b between pieces as the kernels do (a stuck device: rate 0).  Returns (u1, u2, energy)."""
    y = [min(max(u1, b[0][0]), b[0][1]), min(max(u2, b[1][0]), b[1][1])]
    k1 = 0.0 if stuck1 else P[0, 3]
    k2 = 0.0 if stuck2 else P[1, 3]
    E = 0.0
    for V0, V1, T in pieces:
        def rhs(t, y):
            v = V0 + (V1 - V0) * t / T
            i = v / (P[0, 0] + (P[0, 1] - P[0, 0]) * y[0] + P[1, 0] + (P[1, 1] - P[1, 0]) * y[1])
            return [k1 * i * _win(*wins[0], y[0], i > 0), -k2 * i * _win(*wins[1], y[1], -i > 0), v * i]
        s = solve_ivp(rhs, (0.0, T), y + [0.0], method="DOP853", rtol=1e-13, atol=[1e-20, 1e-20, 1e-26])
        y = [min(max(s.y[0, -1], b[0][0]), b[0][1]), min(max(s.y[1, -1], b[1][0]), b[1][1])]
        E += s.y[2, -1]
    return y[0], y[1], E


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w1=st.integers(0, len(WINDOWS) - 1), w2=st.integers(0, len(WINDOWS) - 1), seed=st.integers(0, 10**6),
       log_mu=st.sampled_from([-14.0, -12.0, -11.0]), amp=st.floats(-3.0, 3.0).filter(lambda a: abs(a) > 0.1),
       logw=st.floats(-9.0, -5.0), edge=st.floats(1e-9, 3e-8), ratio=st.floats(0.5, 2.0))
def test_window_pairs_against_solve_ivp(w1, w2, seed, log_mu, amp, logw, edge, ratio):
    """Six pairs (one with its + device stuck, one with its − device) through the same pulse as above, against solve_ivp of each
    pair's ODE at rtol 1e-13: states within 1e-10 (1e-7 relative for a device grown from a bound, whose
    reference carries solve_ivp's error amplified), energy within 1e-9."""
    wins = (WINDOWS[w1], WINDOWS[w2])
    n = 12
    u0 = _states(seed, n)
    fast = _arrays(wins, n, seed, True, u0, mu_v=10.0 ** log_mu)[0]
    fast.set_stuck([6, 11])
    pos = np.arange(0, n, 2, dtype=np.int64)
    pieces = [(0.0, amp, edge), (amp, amp, 10.0 ** logw), (amp, ratio * amp, edge), (ratio * amp, 0.0, edge)]
    e = fast.apply_pair_pieces(pieces, np.ones(pos.size), pos, pos + 1)
    assert fast.path_counts[PATH_INTEGRATOR] == 0 and fast.path_counts[PATH_FALLBACK] == 0
    b = [_bounds(w) for w, j in wins]
    for m, kp in enumerate(pos):
        r1, r2, re = _ivp_pair(fast.P[[kp, kp + 1]], wins, b, u0[kp], u0[kp + 1], pieces, stuck1=kp == 6,
                               stuck2=kp + 1 == 11)
        if kp == 6:  # a stuck device keeps its state (it conducts at its state clamped to the bounds)
            r1 = u0[6]
        if kp + 1 == 11:
            r2 = u0[11]
        for u, r, u_start in ((fast.u[kp], r1, u0[kp]), (fast.u[kp + 1], r2, u0[kp + 1])):
            near = min(u_start, 1.0 - u_start) <= 1e-6
            assert u == pytest.approx(r, abs=1e-10, rel=1e-7 if near else 0.0)
        assert e[m] == pytest.approx(re, rel=1e-9)


def _win(w, j, u, up):
    if w == "joglekar":
        return 1.0 - (2.0 * u - 1.0) ** 2
    if w == "prodromakis":
        return j * (1.0 - ((u - 0.5) ** 2 + 0.75))
    return 1.0 - u ** 2 if up else 1.0 - (1.0 - u) ** 2


def _rows(wins, mu_v, seed):
    rows = []
    for w, j in wins:
        p = preset("hp", window=w, j=j, mu_v=mu_v, **SPREAD["hp"])
        rows.append(DeviceArray(p, 1, build_rng=SeedTree(seed).build_stream("ivp", "d2d")).P[0])
    return np.array(rows)


@pytest.mark.parametrize("wins", [(WINDOWS[0], WINDOWS[1]), (WINDOWS[1], WINDOWS[1]), (WINDOWS[3], WINDOWS[0]),
                                  (WINDOWS[1], WINDOWS[2])])
@pytest.mark.parametrize("mu_v", [1e-14, 1e-9])
@pytest.mark.parametrize("V0,V1", [(0.0, 1.8), (1.8, 1.8), (1.8, 0.0), (-1.2, -2.0), (-2.0, 0.0)])
def test_window_pair_against_solve_ivp(wins, mu_v, V0, V1):
    """window_pair against scipy's DOP853 (rtol 1e-13) of du1/dt = k1·i·f1(u1), du2/dt = −k2·i·f2(u2),
    dE/dt = V·i, i = V/(R1 + R2) (Biolek's window by the sign of each device's current), one case with the −
    device stuck: states within 1e-11, energy within 1e-9; short moves on the Taylor form, long ones
    (µ_v = 1e-9, 1 µs) on the closed forms."""
    P = _rows(wins, mu_v, 3)
    T = 1e-6
    b = [_bounds(w) for w, j in wins]
    moved = 0.0
    for u1, u2, stuck in ((0.3, 0.6, False), (0.05, 0.9, False), (0.97, 0.02, False), (0.4, 0.7, True)):
        n1, n2, e, ok, series = window_pair(P, 0, 1, u1, u2, V0, V1, T, 1e10, False, stuck, *b[0], *b[1])
        assert ok
        assert series == (mu_v == 1e-14)
        k2 = 0.0 if stuck else P[1, 3]

        def rhs(t, y):
            v = V0 + (V1 - V0) * t / T
            i = v / (P[0, 0] + (P[0, 1] - P[0, 0]) * y[0] + P[1, 0] + (P[1, 1] - P[1, 0]) * y[1])
            return [P[0, 3] * i * _win(*wins[0], y[0], i > 0), -k2 * i * _win(*wins[1], y[1], -i > 0), v * i]

        s = solve_ivp(rhs, (0.0, T), [u1, u2, 0.0], method="DOP853", rtol=1e-13, atol=1e-20)
        r1, r2, re = s.y[:, -1]
        moved = max(moved, abs(n1 - u1), abs(n2 - u2))
        if stuck:
            assert n2 == u2
        assert n1 == pytest.approx(r1, abs=1e-11)
        assert n2 == pytest.approx(r2, abs=1e-11)
        assert e == pytest.approx(re, rel=1e-9)
    assert moved > (0.05 if mu_v == 1e-9 else 0.0)  # long moves on the closed forms


def test_window_pair_series_and_closed_forms_agree():
    """Across the Taylor form's limit (c·k·q = PAIR_Z_SERIES / 2 for the charge estimate |Φ|/(R1 + R2)) the two
    forms agree: a flat top on the closed forms equals the same flat top split in two pieces on the Taylor
    form, to 1e-14 in the states and 1e-12 in energy (the Taylor remainder is below rounding)."""
    P = _rows((WINDOWS[0], WINDOWS[1]), 1e-12, 5)
    u1, u2, V = 0.2, 0.7, 1.5
    R = P[0, 0] + (P[0, 1] - P[0, 0]) * u1 + P[1, 0] + (P[1, 1] - P[1, 0]) * u2
    T_lim = 0.5 * PAIR_Z_SERIES * R / (max(4.0 * P[0, 3], 2.0 * P[1, 3]) * V)
    b = (STICK, 1 - STICK, 0.0, 1.0)
    for V0, V1 in ((0.0, V), (V, V), (V, 0.0)):
        assert window_pair(P, 0, 1, u1, u2, V0, V1, 0.999 * T_lim, 1e10, False, False, *b)[4]
    assert not window_pair(P, 0, 1, u1, u2, V, V, 1.001 * T_lim, 1e10, False, False, *b)[4]
    T1, T2 = 0.98 * T_lim, 1.02 * T_lim
    r1 = window_pair(P, 0, 1, u1, u2, V, V, T1, 1e10, False, False, *b)
    r2 = window_pair(P, 0, 1, u1, u2, V, V, T2, 1e10, False, False, *b)
    r3 = window_pair(P, 0, 1, r1[0], r1[1], V, V, T2 - T1, 1e10, False, False, *b)
    assert r1[4] and not r2[4] and r3[4]
    assert abs(r2[0] - u1) > 1e-4  # it moved
    assert r3[0] == pytest.approx(r2[0], abs=1e-14)
    assert r3[1] == pytest.approx(r2[1], abs=1e-14)
    assert r1[2] + r3[2] == pytest.approx(r2[2], rel=1e-12)


@pytest.mark.parametrize("case", ["cap", "zero_crossing"])
def test_window_pair_refusals_take_the_integrator(case):
    """A rate cap that could bind, or a ramp through zero (Biolek's window flips with the current): the closed
    form refuses, the integrator takes the segment, and the result is the oracle's."""
    wins = (WINDOWS[1], WINDOWS[0])
    n = 16
    u = np.linspace(0.05, 0.95, n)
    kw = dict(rate_cap=50.0) if case == "cap" else {}
    fast, ref = _arrays(wins, n, 1, True, u, mu_v=1e-12, **kw)
    pos = np.arange(0, n, 2, dtype=np.int64)
    v0, v1 = (2.0, 2.0) if case == "cap" else (1.5, -1.5)
    ef = fast.apply_pair(v0, v1, 1e-6, pos, pos + 1)
    er = ref.apply_pair(v0, v1, 1e-6, pos, pos + 1)
    assert fast.path_counts[PATH_INTEGRATOR] == pos.size
    assert fast.path_counts[PATH_EXACT] == 0
    np.testing.assert_allclose(fast.resistance(), ref.resistance(), rtol=2e-4)  # the integrator at rtol 1e-6
    np.testing.assert_allclose(ef, er, rtol=1e-4)
    # the same pairs on a one-signed flat top without the cap: the closed form
    fast2, _ = _arrays(wins, n, 1, True, u, mu_v=1e-12)
    fast2.apply_pair(1.5, 1.5, 1e-6, pos, pos + 1)
    assert fast2.path_counts[PATH_EXACT] == pos.size


@pytest.mark.parametrize("wins", [(WINDOWS[0], WINDOWS[0]), (WINDOWS[2], WINDOWS[1])])
def test_window_pair_entry_points_bit_for_bit(wins):
    """apply_pair per piece, apply_pair_pieces and apply_pair_pulse: the same states, energies and path
    counts, bit for bit, on the closed form (stuck and open devices among the pairs)."""
    n = 64
    u = _states(11, n)
    arrs = [_arrays(wins, n, 4, True, u, c2c=0.0)[0] for _ in range(3)]
    for arr in arrs:
        arr.set_stuck([3, 10])
        arr.set_open([5])
    pos = np.arange(0, n, 2, dtype=np.int64)
    neg = pos + 1
    amp = 1.4
    pieces = [(0.0, amp, 1e-8), (amp, amp, 2e-6), (amp, 0.0, 2e-8)]
    e0 = sum(arrs[0].apply_pair(v0, v1, T, pos, neg) for v0, v1, T in pieces)
    e1 = arrs[1].apply_pair_pieces(pieces, np.ones(pos.size), pos, neg)
    e2 = arrs[2].apply_pair_pulse(amp, 2e-6, 1e-8, 2e-8, pos, neg)
    for arr in arrs[1:]:
        np.testing.assert_array_equal(arr.U, arrs[0].U)
    np.testing.assert_array_equal(arrs[1].path_counts, arrs[0].path_counts)
    np.testing.assert_allclose(e1, e0, rtol=1e-14)
    np.testing.assert_allclose(e2, e0, rtol=1e-14)
    c = arrs[0].path_counts
    assert c[PATH_EXACT] > 0 and c[PATH_INTEGRATOR] == 0 and c[PATH_FROZEN] > 0
