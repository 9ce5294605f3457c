"""State-space fast path (constant drive, one moving device): against solve_ivp at tight tolerance and
against the Dormand-Prince path, through TEAM's runaway, for single devices and series pairs."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from components.devices import DeviceArray, HPParams, TEAMParams, preset
from components.devices import kernels as K
from mssim import SeedTree

CAP = 1e10


def _ivp_single(arr, k, mode, V, T, u0):
    """Reference: solve_ivp (DOP853, rtol 1e-12) of du/dt and the power, same rate function."""
    lo, hi = K._bounds(arr.model, arr.P, k)

    def f(t, y):
        r, p = K._deriv1(arr.model, arr.P, k, mode, y[0], 0.0, V, V, CAP, lo, hi)
        if (y[0] <= lo and r < 0) or (y[0] >= hi and r > 0):
            r = 0.0
        return [r, p]

    def at_bound(t, y):
        return min(y[0] - lo, hi - y[0])

    at_bound.terminal = True
    s = solve_ivp(f, (0, T), [u0, 0.0], method="DOP853", rtol=1e-12, atol=1e-15, events=at_bound)
    assert s.success
    u_end, e_end = min(max(s.y[0, -1], lo), hi), s.y[1, -1]
    if s.status == 1:  # reached a bound: held there for the rest of the pulse
        u_end = lo if u_end - lo < hi - u_end else hi
        e_end += K._deriv1(arr.model, arr.P, k, mode, u_end, 0.0, V, V, CAP, lo, hi)[1] * (T - s.t[-1])
    return u_end, e_end


def _ivp_pair(arr, kp, kn, V, T, u1, u2):
    """Reference for a pair: solve_ivp with terminal events at the bounds; a device that reaches a
    bound is held there (its rate pushes outward for the rest of a constant-voltage pulse)."""
    held = [False, False]

    def f(t, y):
        r1, r2, p = K._deriv2(arr.model, arr.P, kp, kn, y[0], y[1], 0.0, V, V, CAP, 0.0, 1.0, 0.0, 1.0)
        return [0.0 if held[0] else r1, 0.0 if held[1] else r2, p]

    def ev(c):
        def g(t, y):
            return 1.0 if held[c] else min(y[c], 1.0 - y[c])
        g.terminal = True
        return g

    t0, y = 0.0, [u1, u2, 0.0]
    for _ in range(3):
        s = solve_ivp(f, (t0, T), y, method="DOP853", rtol=1e-12, atol=1e-15, events=[ev(0), ev(1)])
        assert s.success
        y = list(s.y[:, -1])
        t0 = s.t[-1]
        if s.status != 1:
            break
        for c in (0, 1):
            if len(s.t_events[c]):
                held[c] = True
                y[c] = 0.0 if y[c] < 0.5 else 1.0
    return np.clip(y[0], 0, 1), np.clip(y[1], 0, 1), y[2]


def _well_conditioned(fn, T, tol=1e-5):
    """The end state must not depend sharply on the pulse length (the pulse right before a runaway
    completes is ill-conditioned: MODELS.md pitfall 1)."""
    a = np.asarray(fn(T * (1 - 1e-6)))
    b = np.asarray(fn(T * (1 + 1e-6)))
    return np.all(np.abs(a - b) < tol)


# single TEAM device under constant voltage: SET runaway (to the ON bound, or ending mid-way), RESET
# slowing down toward its threshold, and a window
@pytest.mark.parametrize("window", ["none", "kvatinsky"])
@pytest.mark.parametrize("v,r0,T", [(-0.5, 8e3, 1e-6), (-0.3, 12e3, 1e-5), (-0.2, 15e3, 1e-3), (-0.15, 15e3, 3e-2),
                                    (1.0, 2e3, 1e-6), (1.5, 1e3, 1e-5), (2.0, 300.0, 1e-3)])
def test_single_team_constant_voltage_matches_ivp(window, v, r0, T):
    p = TEAMParams.hp_tio2(window=window)
    arr = DeviceArray(p, 1, r0=r0 if window == "none" else None)
    u0 = arr.u[0]
    ref_u, ref_e = _ivp_single(arr, 0, 0, v, T, u0)
    if not _well_conditioned(lambda tt: _ivp_single(arr, 0, 0, v, tt, u0)[0], T):
        pytest.skip("ill-conditioned pulse")
    e = arr.apply_voltage(v, v, T)[0]
    assert abs(arr.u[0] - ref_u) < 2e-6 + 2e-6 * abs(ref_u)
    assert abs(e - ref_e) <= 1e-5 * abs(ref_e) + 1e-18
    # the Dormand-Prince path at tight tolerance agrees too
    lo, hi = K._bounds(arr.model, arr.P, 0)
    r0_, p0_ = K._deriv1(arr.model, arr.P, 0, 0, u0, 0.0, v, v, CAP, lo, hi)
    ud, ed, _ = K._dp1(arr.model, arr.P, 0, 0, u0, v, v, T, 1e-10, 1e-13, CAP, lo, hi, r0_, p0_)
    assert abs(arr.u[0] - ud) < 2e-6 + 2e-6 * abs(ud)
    assert abs(e - ed) <= 1e-5 * abs(ed) + 1e-18


def test_single_runaway_moves_and_reaches_bound():
    p = TEAMParams.hp_tio2()
    arr = DeviceArray(p, 3, r0=[8e3, 8e3, 8e3])
    arr.apply_voltage(-1.0, -1.0, 1e-6)   # i ~ -125 uA: runs away to the ON bound well within 1 us
    assert np.all(arr.u == 0.0)
    arr2 = DeviceArray(p, 1, r0=8e3)
    e = arr2.apply_voltage(-1.0, -1.0, 1e-6)[0]
    ref_u, ref_e = _ivp_single(arr2, 0, 0, -1.0, 1e-6, DeviceArray(p, 1, r0=8e3).u[0])
    assert ref_u == 0.0
    assert abs(e - ref_e) < 1e-5 * ref_e


def test_single_hp_biolek_constant_voltage_matches_ivp():
    p = HPParams.biolek2009(window="biolek", p=2)
    arr = DeviceArray(p, 1, r0=11e3)
    u0 = arr.u[0]
    ref_u, ref_e = _ivp_single(arr, 0, 0, -1.0, 0.05, u0)
    e = arr.apply_voltage(-1.0, -1.0, 0.05)[0]
    assert abs(arr.u[0] - ref_u) < 2e-6
    assert abs(e - ref_e) < 1e-5 * abs(ref_e)


def test_single_time_additivity_through_runaway():
    """N pulses of T/N at constant voltage (no gaps) end where one pulse of T does (pitfall 3)."""
    p = TEAMParams.hp_tio2()
    r0 = [8e3, 9e3, 10e3, 10.5e3, 11e3, 12e3]
    a = DeviceArray(p, 6, r0=r0)
    b = DeviceArray(p, 6, r0=r0)
    u0 = a.u.copy()
    a.apply_voltage(-0.6, -0.6, 2e-5)
    for _ in range(20):
        b.apply_voltage(-0.6, -0.6, 1e-6)
    np.testing.assert_allclose(a.u, b.u, atol=1e-5)
    assert np.any(a.u == 0) and np.any((a.u > 0) & (a.u < u0 - 0.01))  # runaways complete and mid-way
    assert np.all(np.isfinite(a.u)) and np.all((a.u >= 0) & (a.u <= 1))


def _bench_pairs(n, seed=0):
    rng = SeedTree(seed).build_stream("fastpath", "init")
    p = TEAMParams.hp_tio2(r_on_d2d=0.05, r_off_d2d=0.05, k_on_d2d=0.1, k_off_d2d=0.1)
    return DeviceArray(p, 2 * n, build_rng=SeedTree(seed).build_stream("fastpath", "d2d"),
                       r0=rng.uniform(2e3, 12e3, 2 * n))


def test_pair_one_mover_and_handoff_match_ivp():
    """+1 V across TEAM pairs: the neg device runs away (alone), often the pos device then crosses
    its threshold and both move (state-space path, hand-off to Dormand-Prince and back)."""
    n = 40
    arr = _bench_pairs(n)
    pos = np.arange(0, 2 * n, 2, dtype=np.int64)
    neg = pos + 1
    V, T = 1.0, 1e-6
    u = arr.u.copy()
    energy = arr.apply_pair(V, V, T, pos, neg)
    checked = 0
    both = 0
    for j in range(n):
        kp, kn = pos[j], neg[j]

        def end(tt):
            return _ivp_pair(arr, kp, kn, V, tt, u[kp], u[kn])[:2]

        r1, r2, re = _ivp_pair(arr, kp, kn, V, T, u[kp], u[kn])
        if not _well_conditioned(end, T):
            continue
        checked += 1
        both += abs(r1 - u[kp]) > 1e-9 and abs(r2 - u[kn]) > 1e-9
        assert abs(arr.u[kp] - r1) < 2e-6, j
        assert abs(arr.u[kn] - r2) < 2e-6, j
        assert abs(energy[j] - re) < 1e-5 * re, j
    assert checked >= 30 and both >= 3


def test_pair_matches_dormand_prince_path_on_many_pairs():
    n = 400
    arr = _bench_pairs(n, seed=1)
    pos = np.arange(0, 2 * n, 2, dtype=np.int64)
    neg = pos + 1
    u = arr.u.copy()
    arr.apply_pair(1.0, 1.0, 1e-6, pos, neg)
    lo = np.zeros(1)
    dp = np.array([K._dp2(arr.model, arr.P, pos[j], neg[j], u[pos[j]], u[neg[j]], 1.0, 1.0, 1e-6, 1e-9, 1e-12,
                          CAP, False, False, 0.0, 1.0, 0.0, 1.0)[:2] for j in range(n)])
    d = np.maximum(np.abs(arr.u[pos] - dp[:, 0]), np.abs(arr.u[neg] - dp[:, 1]))
    assert np.all(np.isfinite(arr.u)) and np.all((arr.u >= 0) & (arr.u <= 1))
    # all but the few ill-conditioned pulses (runaway completing right at the end) agree tightly
    assert np.mean(d < 5e-6) > 0.97
    assert np.max(d) < 1e-2
    del lo


def test_pair_stuck_partner_and_open():
    n = 4
    arr = _bench_pairs(n, seed=2)
    pos = np.arange(0, 2 * n, 2, dtype=np.int64)
    neg = pos + 1
    arr.set_stuck([pos[0]], "current")
    arr.set_open([pos[1]])
    u = arr.u.copy()
    arr.apply_pair(1.0, 1.0, 1e-6, pos, neg)
    assert arr.u[pos[0]] == u[pos[0]]
    assert arr.u[pos[1]] == u[pos[1]] and arr.u[neg[1]] == u[neg[1]]
    r1, r2, _ = _ivp_pair(arr, pos[2], neg[2], 1.0, 1e-6, u[pos[2]], u[neg[2]])
    assert abs(arr.u[neg[2]] - r2) < 2e-6


@pytest.mark.parametrize("window,p", [("joglekar", 2), ("biolek", 2), ("joglekar", 1)])
@pytest.mark.parametrize("stuck", [0, 1])
def test_pair_beside_a_stuck_device_against_solve_ivp(window, p, stuck):
    """The integrator with one device of a pair stuck (exact flows off): the stuck device's rate is zero at
    every stage of a step.  It was zeroed only after the stages, so the partner's stage currents came from a
    state the solution never had: 1e-8 in u and 1.3e-6 in energy at rtol = 1e-10, 1e-4 in energy at the
    default rtol, falling as the square root of rtol (kernels._deriv2_held)."""
    from scipy.integrate import solve_ivp

    pr = preset("hp", None, window=window, p=p, mu_v=1e-11)
    arr = DeviceArray(pr, 2, exact_flows=False)
    arr.U[:] = [0.5, 0.3]
    arr.touch()
    arr.set_stuck([stuck])
    e = arr.apply_pair(-1.0, -1.0, 1e-5, [0], [1])[0]
    P = arr.P
    mv = 1 - stuck
    sign = 1.0 if mv == 0 else -1.0  # current into + of device 0, into - of device 1
    R_st = P[stuck, 0] + (P[stuck, 1] - P[stuck, 0]) * [0.5, 0.3][stuck]

    def f(u, up):
        if window == "joglekar":
            return 1 - (2 * u - 1) ** (2 * p)
        return 1 - u ** (2 * p) if up else 1 - (1 - u) ** (2 * p)

    def rhs(t, y):
        i = -1.0 / (P[mv, 0] + (P[mv, 1] - P[mv, 0]) * y[0] + R_st)
        r = P[mv, 3] * sign * i
        return [r * f(y[0], r > 0), -1.0 * i]

    s = solve_ivp(rhs, (0.0, 1e-5), [[0.5, 0.3][mv], 0.0], method="DOP853", rtol=1e-13, atol=[1e-20, 1e-26])
    assert arr.U[stuck] == [0.5, 0.3][stuck]
    assert abs(arr.U[mv] - s.y[0, -1]) <= 1e-9
    assert abs(s.y[0, -1] - [0.5, 0.3][mv]) > 1e-3  # the partner moved
    assert e == pytest.approx(s.y[1, -1], rel=1e-8)
