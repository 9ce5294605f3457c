"""Numba kernels: device equations and the per-device segment integrators.

Everything here works in the normalised state ``u`` in [0, 1] (0 = ON bound,
1 = OFF bound; positive current/voltage into + pushes ``u`` up).  One parameter
row per device (layout in :mod:`components.devices.params`).

Each device integrates its own piecewise-linear segment:

* zero rate over the whole segment (below threshold, at a bound pushed outward,
  stuck): state untouched, energy in closed form -- the cheap path for reads;
* closed forms where they exist: HP without window (charge/flux are linear in
  ``u``), TEAM under current drive and VTEAM under voltage drive without window
  (the rate depends on the drive only, integrated exactly);
* otherwise Dormand-Prince 5(4) with error control on ``u``:
  |err| <= atol + rtol·|u| per step, the state clamped to [0, 1] at every stage
  and step (an outward rate at a bound is simply clamped away, so devices never
  leave their bounds and never stick there), and |du/dt| capped at ``cap``
  (default 1e10 /s) so TEAM's voltage-driven runaway (rate ~ (i/i_on)^10 with
  falling R) stays finite; a step may move ``u`` by at most ``DU_MAX``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .flows import balanced_law, balanced_step, hp_pair, team_flat, team_ramp_balanced, team_ramp_certified
from .params import (MODEL_HP, MODEL_TEAM, MODEL_VTEAM, MODEL_YAKOPCIC, P_ADOWN, P_AOFF, P_AON, P_AUP, P_IV,
                     P_KDOWN, P_KUP, P_RON, P_ROFF, P_THDOWN, P_THUP, P_WC, P_WIN, P_WJ, P_WP, P_XOFF, P_XON,
                     WIN_BIOLEK, WIN_JOGLEKAR, WIN_KVATINSKY, WIN_NONE, WIN_PRODROMAKIS, Y_A1, Y_A2, Y_ALN,
                     Y_ALP, Y_AN, Y_AP, Y_B, Y_ETA, Y_VN, Y_VP, Y_XN, Y_XP)
from .table import IV_LINEAR_G, MODEL_TABLE, table_flow, table_rate
from .windowed import pair_flow_ok, window_flow, window_flow_ok, window_pair
from .yakopcic import FLOW_CERTIFIED, FLOW_EXACT, FLOW_NONE, yak_flow1, yak_pair_split

DU_MAX = 0.1          # largest state change per accepted step (normalised)
STICK_EPS = 1e-9      # Joglekar/Prodromakis states are kept in [eps, 1 - eps]
MAX_STEPS = 200000
RATE_DROP = 0.25      # a thresholded device's rate may fall to no less than this share in one step (_kink_ratio)
KINK_SLACK = 10.0     # such a step's motion may be this many step tolerances (_kink_ratio)

# Dormand-Prince 5(4) tableau
C2, C3, C4, C5 = 1 / 5, 3 / 10, 4 / 5, 8 / 9
A21 = 1 / 5
A31, A32 = 3 / 40, 9 / 40
A41, A42, A43 = 44 / 45, -56 / 15, 32 / 9
A51, A52, A53, A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
A61, A62, A63, A64, A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
B1, B3, B4, B5, B6 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
E1, E3, E4, E5, E6, E7 = 71 / 57600, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40


@njit(cache=True, inline="always")
def _ipow(b, a):
    """b**a for b >= 0; integer a up to 16 by repeated squaring (fast path for alpha = 10)."""
    ia = int(a)
    if ia == a and 0 < ia <= 16:
        r = 1.0
        x = b
        while ia > 0:
            if ia & 1:
                r *= x
            x *= x
            ia >>= 1
        return r
    return b ** a


@njit(cache=True, inline="always")
def resistance(P, k, u):
    """Resistance (ohm) of resistive device k at normalised state u."""
    ron = P[k, P_RON]
    roff = P[k, P_ROFF]
    if P[k, P_IV] == 0.0:
        return ron + (roff - ron) * u
    if P[k, P_IV] == IV_LINEAR_G:  # table model: conductance linear in u
        return 1.0 / (1.0 / ron + (1.0 / roff - 1.0 / ron) * u)
    return ron * math.exp(math.log(roff / ron) * u)


@njit(cache=True, _nrt=False)
def yak_current(P, k, u, v):
    """Current into mssim's + terminal of a Yakopcic device (paper's terminals flipped)."""
    x = 1.0 - u
    vp = -v
    a = P[k, Y_A1] if vp >= 0.0 else P[k, Y_A2]
    return -a * x * math.sinh(P[k, Y_B] * vp)


@njit(cache=True, _nrt=False)
def yak_voltage(P, k, u, i):
    """Inverse of :func:`yak_current` (voltage needed for current i); x floored at 1e-12."""
    x = max(1.0 - u, 1e-12)
    ip = -i
    a = P[k, Y_A1] if ip >= 0.0 else P[k, Y_A2]
    return -math.asinh(ip / (a * x)) / P[k, Y_B]


@njit(cache=True, _nrt=False)
def current_of(model, P, k, u, v):
    if model == MODEL_YAKOPCIC:
        return yak_current(P, k, u, v)
    return v / resistance(P, k, u)


@njit(cache=True, _nrt=False)
def voltage_of(model, P, k, u, i):
    if model == MODEL_YAKOPCIC:
        return yak_voltage(P, k, u, i)
    return i * resistance(P, k, u)


@njit(cache=True, _nrt=False)
def _window(P, k, u, up):
    w = P[k, P_WIN]
    if w == WIN_NONE:
        return 1.0
    p2 = 2.0 * P[k, P_WP]
    if w == WIN_JOGLEKAR:
        return 1.0 - _ipow(abs(2.0 * u - 1.0), p2)
    if w == WIN_BIOLEK:
        if up:
            return 1.0 - _ipow(u, p2)
        return 1.0 - _ipow(1.0 - u, p2)
    if w == WIN_PRODROMAKIS:
        return P[k, P_WJ] * (1.0 - ((u - 0.5) ** 2 + 0.75) ** P[k, P_WP])
    # Kvatinsky, in physical x
    x = P[k, P_XON] + u * (P[k, P_XOFF] - P[k, P_XON])
    if up:
        return math.exp(-math.exp((x - P[k, P_AOFF]) / P[k, P_WC]))
    return math.exp(-math.exp(-(x - P[k, P_AON]) / P[k, P_WC]))


@njit(cache=True, inline="always")
def _tol_u(model, u):
    """The size the integrators' relative tolerance applies to: u, except Yakopcic's x = 1 − u (its
    resistance goes as 1/x: a tolerance relative to u let a device leaving x = 0 miss 2e-4 in R)."""
    if model == MODEL_YAKOPCIC:
        return abs(1.0 - u)
    return abs(u)


ATOL_EDGE = 1e-3      # within this distance of a bound where an HP window vanishes, atol shrinks with it


@njit(cache=True, inline="always")
def _atol_u(model, P, k, u, un, atol):
    """The integrators' absolute tolerance for device k over a step from u to un: ``atol``, except for an
    HP device whose window vanishes at a bound (Joglekar, Biolek, Prodromakis: the rate is proportional
    to the distance from the bound there), where it shrinks in proportion to that distance below
    ATOL_EDGE.  A device leaving such a bound grows exponentially from a state of the order of atol
    itself, so a fixed atol became a relative error of order one that the growth kept (a Joglekar p = 2
    device leaving u = 1e-9 over 100 ms: 2.5e-3 off in R)."""
    if model != MODEL_HP:
        return atol
    w = P[k, P_WIN]
    if w != WIN_JOGLEKAR and w != WIN_BIOLEK and w != WIN_PRODROMAKIS:
        return atol
    d = min(min(abs(u), abs(1.0 - u)), min(abs(un), abs(1.0 - un)))
    return atol * min(1.0, max(d / ATOL_EDGE, 1e-12))


@njit(cache=True, inline="always")
def _cap_rate(r, cap):
    """The rate cap: |du/dt| <= cap (1/s), every model and path."""
    if r > cap:
        return cap
    if r < -cap:
        return -cap
    return r


@njit(cache=True, inline="always")
def threshold_rate(P, k, d, u, cap, windowed):
    """The TEAM/VTEAM law (the one implementation every path uses): du/dt for drive d (TEAM: the
    current into +, VTEAM: the voltage across), with the window factor at state u if ``windowed``
    (without window the factor is 1 and is skipped: bit-identical), capped at ``cap``."""
    if d > P[k, P_THUP]:
        r = P[k, P_KUP] * _ipow(d / P[k, P_THUP] - 1.0, P[k, P_AUP])
        if windowed:
            r *= _window(P, k, u, True)
    elif d < P[k, P_THDOWN]:
        r = P[k, P_KDOWN] * _ipow(d / P[k, P_THDOWN] - 1.0, P[k, P_ADOWN])
        if windowed:
            r *= _window(P, k, u, False)
    else:
        return 0.0
    return _cap_rate(r, cap)


@njit(cache=True, _nrt=False)
def dudt(model, P, k, u, v, i, cap):
    """Rate of the normalised state (1/s) for voltage v across and current i into +."""
    if model == MODEL_YAKOPCIC:
        x = 1.0 - u
        V = -v  # paper's terminal orientation
        if V > P[k, Y_VP]:
            g = P[k, Y_AP] * (math.exp(V) - math.exp(P[k, Y_VP]))
        elif V < -P[k, Y_VN]:
            g = -P[k, Y_AN] * (math.exp(-V) - math.exp(P[k, Y_VN]))
        else:
            return 0.0
        eg = P[k, Y_ETA] * g
        if eg > 0.0:
            xp = P[k, Y_XP]
            f = math.exp(-P[k, Y_ALP] * (x - xp)) * ((xp - x) / (1.0 - xp) + 1.0) if x >= xp else 1.0
        else:
            xn = P[k, Y_XN]
            f = math.exp(P[k, Y_ALN] * (x + xn - 1.0)) * (x / (1.0 - xn)) if x <= 1.0 - xn else 1.0
        r = -eg * f
    elif model == MODEL_TABLE:
        r = table_rate(P, k, u, v)
        if r == 0.0:
            return 0.0
    elif model == MODEL_HP:
        r = P[k, P_KUP] * i
        if r == 0.0:
            return 0.0
        r *= _window(P, k, u, r > 0.0)
    else:
        return threshold_rate(P, k, i if model == MODEL_TEAM else v, u, cap, P[k, P_WIN] != WIN_NONE)
    return _cap_rate(r, cap)


@njit(cache=True, inline="always")
def _clamp(u, lo, hi):
    if u < lo:
        return lo
    if u > hi:
        return hi
    return u


@njit(cache=True, inline="always")
def _bounds(model, P, k):
    """The states device k is kept in: [STICK_EPS, 1 − STICK_EPS] where its window vanishes at both bounds
    (an exactly clamped state would stick for ever, which the continuous model never does): HP with a
    Joglekar or Prodromakis window, and every Yakopcic device (f(x) -> 0 at x = 0 and x = 1; its
    parameters share the row's columns, so the window code is not read for it: column P_WIN is its
    alpha_p, which kept alpha_p = 1 or 3 devices off the bounds and let any other stick at x = 0);
    else [0, 1]."""
    if model == MODEL_YAKOPCIC:
        return STICK_EPS, 1.0 - STICK_EPS
    w = P[k, P_WIN]
    if w == WIN_JOGLEKAR or w == WIN_PRODROMAKIS:
        return STICK_EPS, 1.0 - STICK_EPS
    return 0.0, 1.0


# ---------------------------------------------------------------------------
# single device: mode 0 = voltage drive, mode 1 = current drive
@njit(cache=True, inline="always")
def _deriv1(model, P, k, mode, u, s, a0, a1, cap, lo, hi):
    """(du/dt, power) at fractional time s in [0, 1] of the segment."""
    uc = _clamp(u, lo, hi)
    d = a0 + (a1 - a0) * s
    if mode == 0 and model == MODEL_TEAM and P[k, P_IV] == 0.0 and P[k, P_WIN] == WIN_NONE:
        return _team_lin_rate1(P, k, uc, d, cap)
    if mode == 0:
        v = d
        i = current_of(model, P, k, uc, v)
    else:
        i = d
        v = voltage_of(model, P, k, uc, i)
    return dudt(model, P, k, uc, v, i, cap), v * i


# Gauss-Legendre 5-point nodes/weights on [0, 1]
GL_X = np.array([0.04691007703066800, 0.23076534494715845, 0.5, 0.76923465505284155, 0.95308992296933200])
GL_W = np.array([0.11846344252809454, 0.23931433524968324, 0.28444444444444444, 0.23931433524968324,
                 0.11846344252809454])


@njit(cache=True, _nrt=False)
def _energy_frozen1(model, P, k, mode, u, a0, a1, T):
    """Energy (J) over a segment with the state frozen at u."""
    if model != MODEL_YAKOPCIC:
        R = resistance(P, k, u)
        if mode == 0:
            return T * (a0 * a0 + a0 * a1 + a1 * a1) / (3.0 * R)
        return T * R * (a0 * a0 + a0 * a1 + a1 * a1) / 3.0
    e = 0.0
    for q in range(5):
        d = a0 + (a1 - a0) * GL_X[q]
        if mode == 0:
            e += GL_W[q] * d * current_of(model, P, k, u, d)
        else:
            e += GL_W[q] * d * voltage_of(model, P, k, u, d)
    return e * T


@njit(cache=True, _nrt=False)
def _int_pos_pow(c0, c1, T, a):
    """Exact integral over [0, T] of max(0, c(t))**a for c linear from c0 to c1."""
    if c0 <= 0.0 and c1 <= 0.0:
        return 0.0
    if c1 == c0:
        return T * _ipow(c0, a)
    return T / (c1 - c0) * (_ipow(max(c1, 0.0), a + 1.0) - _ipow(max(c0, 0.0), a + 1.0)) / (a + 1.0)


@njit(cache=True, _nrt=False)
def _closed_form1(model, P, k, mode, u, a0, a1, T, cap, lo, hi):
    """Closed-form end state, or -1.0 if this model/drive/window has none."""
    if model == MODEL_TABLE:  # voltage drive: the law depends on the drive alone (components.devices.table)
        return table_flow(P, k, u, a0, a1, T, cap) if mode == 0 else -1.0
    if P[k, P_WIN] != WIN_NONE or model == MODEL_YAKOPCIC:
        return -1.0
    drive_only = (model == MODEL_TEAM and mode == 1) or (model == MODEL_VTEAM and mode == 0)
    if drive_only:
        # the rate depends on the drive alone: split at zero, integrate each threshold branch exactly
        th_up = P[k, P_THUP]
        th_dn = P[k, P_THDOWN]
        up = P[k, P_KUP] * _int_pos_pow(a0 / th_up - 1.0, a1 / th_up - 1.0, T, P[k, P_AUP])
        dn = P[k, P_KDOWN] * _int_pos_pow(a0 / th_dn - 1.0, a1 / th_dn - 1.0, T, P[k, P_ADOWN])
        # the rate cap must not bind for the closed form to be exact
        peak_up = P[k, P_KUP] * _ipow(max(max(a0, a1) / th_up - 1.0, 0.0), P[k, P_AUP])
        peak_dn = P[k, P_KDOWN] * _ipow(max(min(a0, a1) / th_dn - 1.0, 0.0), P[k, P_ADOWN])
        if peak_up > cap or -peak_dn > cap:
            return -1.0
        if a0 <= a1:  # negative part (ON branch) comes first in time
            return _clamp(_clamp(u + dn, lo, hi) + up, lo, hi)
        return _clamp(_clamp(u + up, lo, hi) + dn, lo, hi)
    if model == MODEL_HP:
        kk = P[k, P_KUP]
        ron = P[k, P_RON]
        dr = P[k, P_ROFF] - ron
        if P[k, P_IV] != 0.0:
            return -1.0
        # split the segment where the drive changes sign; within a part u is monotone
        if a0 * a1 < 0.0:
            ts = a0 / (a0 - a1)
            parts = ((a0, 0.0, ts * T), (0.0, a1, (1.0 - ts) * T))
        else:
            parts = ((a0, a1, T), (0.0, 0.0, 0.0))
        for q in range(2):
            b0, b1, tq = parts[q]
            if tq <= 0.0:
                continue
            integral = 0.5 * (b0 + b1) * tq  # charge (mode 1) or flux (mode 0)
            if mode == 1:
                un = u + kk * integral
            else:
                # d/dt [ron·u + dr·u²/2] = k·v  ->  solve the quadratic
                g = ron * u + 0.5 * dr * u * u + kk * integral
                disc = ron * ron + 2.0 * dr * g
                if disc <= 0.0:
                    un = lo
                else:
                    un = (math.sqrt(disc) - ron) / dr
            if abs(un - u) > 0.0:
                # the rate cap must not bind: peak rate at the start/end of the part
                pk = abs(kk) * max(abs(b0), abs(b1))
                if mode == 0:
                    pk /= ron
                if pk > cap:
                    return -1.0
            u = _clamp(un, lo, hi)
        return u
    return -1.0


@njit(cache=True, _nrt=False)
def advance1(model, P, k, mode, u0, a0, a1, T, rtol, atol, cap):
    """Advance device k over one PWL segment of duration T. Returns (u_end, energy, n_steps)."""
    lo, hi = _bounds(model, P, k)
    u = _clamp(u0, lo, hi)
    if T <= 0.0:
        return u, 0.0, 0
    r0, p0 = _deriv1(model, P, k, mode, u, 0.0, a0, a1, cap, lo, hi)
    r1, p1 = _deriv1(model, P, k, mode, u, 1.0, a0, a1, cap, lo, hi)
    # Frozen: every threshold set is an interval of the (monotone) drive, so zero rate at both ends of
    # a linear segment means zero throughout; likewise an outward push at a bound at both ends.
    if (r0 == 0.0 and r1 == 0.0) or (u <= lo and r0 <= 0.0 and r1 <= 0.0) or (u >= hi and r0 >= 0.0 and r1 >= 0.0):
        return u, _energy_frozen1(model, P, k, mode, u, a0, a1, T), 0
    uc = _closed_form1(model, P, k, mode, u, a0, a1, T, cap, lo, hi)
    if uc >= 0.0:
        # exact state; energy by 5-point Gauss-Legendre on the closed-form trajectory
        e = 0.0
        for q in range(5):
            s = GL_X[q]
            dq = a0 + (a1 - a0) * s
            uq = _closed_form1(model, P, k, mode, u, a0, dq, s * T, cap, lo, hi)
            if mode == 0:
                e += GL_W[q] * dq * current_of(model, P, k, uq, dq)
            else:
                e += GL_W[q] * dq * voltage_of(model, P, k, uq, dq)
        return uc, e * T, 0
    if a0 == a1 and abs(r0) * T > MARCH_MIN_DU and model != MODEL_YAKOPCIC:
        # constant drive: the ODE is autonomous and 1-D -> integrate in state space (not Yakopcic: the
        # pieces' error estimate missed the kink of 1/f at x_p / 1 − x_n, 7e-6 in u at rtol = 1e-10 where
        # Dormand-Prince and the closed form (yakopcic.py) agree to 1e-13)
        sgn = 1.0 if r0 > 0.0 else -1.0
        ulim = hi if sgn > 0.0 else lo
        ue, te, ee, st, npc = _march(True, model, P, k, k, True, mode, u, 0.0, a0, T, rtol, atol, cap, ulim, sgn,
                                     lo, hi)
        if st == 0:
            return ue, ee, npc
        if st == 1:  # reached the bound at te <= T and is held there (the drive still pushes outward)
            rb, pb = _deriv1(model, P, k, mode, ulim, 0.0, a0, a1, cap, lo, hi)
            return ulim, ee + pb * (T - te), npc
    return _dp1(model, P, k, mode, u, a0, a1, T, rtol, atol, cap, lo, hi, r0, p0)


@njit(cache=True, inline="always")
def _kink_ratio(model, H, r1, r2, r3, r4, r5, r6, r7, y1, y2, y3, y4, y5, y6, y7, lo, hi, sc):
    """Where the embedded error estimate of a Dormand-Prince step cannot be trusted (VTEAM, Yakopcic):

    * a threshold crossing inside the step: the device at rest at the step's start, or some later stage
      at an interior state with zero rate (below threshold), while another stage moves; the rate is not
      smooth there (Yakopcic's g(V) even has a slope jump: a device leaving x = 0 on a ramp through its
      threshold was off by 1.3e-3 in R);
    * VTEAM: the device's rate falls below RATE_DROP of its start value, or turns, over the step (the step is
      long against the time scale of the law K·w^α braking toward a threshold: a VTEAM pair's ON-going
      device braking from 1.9e6/s to 1.4e5/s in one step was estimated at 1.7e-7 and was off by 3.5e-4
      in u; rising rates, a runaway, are left to the estimate, which the oracle tests find reliable there).

    Such a step is accepted only while the device's whole motion in it, H·max|rate|, is within
    KINK_SLACK step tolerances ``sc`` (10: 300 hypothesis examples of VTEAM and Yakopcic pair writes
    within 2e-4 of rtol = 1e-10; 100 missed, 2.8e-4).  Returns that motion over KINK_SLACK·sc (0 where
    the estimate is trusted).

    Not TEAM (it meets 2e-4 against rtol = 1e-10 without, bench_devices.py: 5e-7, and both checks cost
    its pair writes 2-4x), braking not Yakopcic (it cost 5-8x there).  VTEAM pairs went from 5.9e-4 to
    3.5e-5 (bench_devices.py) at ~0.7x the speed; Yakopcic pairs from 1.3e-3 (hypothesis examples) to
    within 2e-4 at ~0.4x (the step at each threshold crossing is cut until its motion is small)."""
    if model != MODEL_VTEAM and model != MODEL_YAKOPCIC:
        return 0.0
    zero = (r1 == 0.0 or (r2 == 0.0 and lo < y2 < hi) or (r3 == 0.0 and lo < y3 < hi)
            or (r4 == 0.0 and lo < y4 < hi) or (r5 == 0.0 and lo < y5 < hi) or (r6 == 0.0 and lo < y6 < hi)
            or (r7 == 0.0 and lo < y7 < hi))
    m = max(max(max(abs(r1), abs(r2)), max(abs(r3), abs(r4))), max(max(abs(r5), abs(r6)), abs(r7)))
    if not zero and (model == MODEL_YAKOPCIC or (r1 * r7 > 0.0 and abs(r7) >= RATE_DROP * abs(r1))):
        return 0.0
    return H * m / (KINK_SLACK * sc)


@njit(cache=True, inline="always")
def _energy_ratio(H, q1, q3, q4, q5, q6, q7, e, de, rtol):
    """The dissipated energy is a state of the segment's ODE too (dE/dt = v·i): its embedded error
    estimate over rtol times the segment's energy so far.  Without it a step could be accepted on the
    device states alone while its power, evaluated at the stages' less accurate states, was not: a TEAM
    pair with one device at its bound and the other crossing its threshold on a 21 ns ramp, in one step
    at rtol = 1e-6, had u within 4e-6 but the energy 3.7e-4 off (tests/test_devices_pieces.py)."""
    ee = abs(H * (E1 * q1 + E3 * q3 + E4 * q4 + E5 * q5 + E6 * q6 + E7 * q7))
    if ee == 0.0:
        return 0.0
    return ee / (rtol * max(abs(e), abs(e + de)) + 1e-300)


@njit(cache=True, _nrt=False)
def _dp1(model, P, k, mode, u, a0, a1, T, rtol, atol, cap, lo, hi, r0, p0):
    """Dormand-Prince 5(4) over one segment (r0, p0: rate and power at its start)."""
    t = 0.0
    e = 0.0
    k1 = r0
    q1 = p0
    h = 1.0 if abs(k1) * T <= 0.05 else 0.05 / (abs(k1) * T)  # (no 0/0 when k1·T underflows)
    nsteps = 0
    braked = False
    while t < 1.0 and nsteps < MAX_STEPS:
        if t + h > 1.0:
            h = 1.0 - t
        H = h * T
        y2 = u + H * A21 * k1
        k2, q2 = _deriv1(model, P, k, mode, y2, t + C2 * h, a0, a1, cap, lo, hi)
        y3 = u + H * (A31 * k1 + A32 * k2)
        k3, q3 = _deriv1(model, P, k, mode, y3, t + C3 * h, a0, a1, cap, lo, hi)
        y4 = u + H * (A41 * k1 + A42 * k2 + A43 * k3)
        k4, q4 = _deriv1(model, P, k, mode, y4, t + C4 * h, a0, a1, cap, lo, hi)
        y5 = u + H * (A51 * k1 + A52 * k2 + A53 * k3 + A54 * k4)
        k5, q5 = _deriv1(model, P, k, mode, y5, t + C5 * h, a0, a1, cap, lo, hi)
        y6 = u + H * (A61 * k1 + A62 * k2 + A63 * k3 + A64 * k4 + A65 * k5)
        k6, q6 = _deriv1(model, P, k, mode, y6, t + h, a0, a1, cap, lo, hi)
        un = u + H * (B1 * k1 + B3 * k3 + B4 * k4 + B5 * k5 + B6 * k6)
        k7, q7 = _deriv1(model, P, k, mode, un, t + h, a0, a1, cap, lo, hi)
        nsteps += 1
        unc = _clamp(un, lo, hi)
        pinned = (u <= lo and unc <= lo and k7 <= 0.0) or (u >= hi and unc >= hi and k7 >= 0.0)
        err = abs(H * (E1 * k1 + E3 * k3 + E4 * k4 + E5 * k5 + E6 * k6 + E7 * k7))
        sc = _atol_u(model, P, k, u, unc, atol) + rtol * max(_tol_u(model, u), _tol_u(model, unc))
        ratio = err / sc
        if pinned:  # pushed outward at a bound through the whole step, not pulled in at its end: clamp exact
            ratio = 0.0
        de = H * (B1 * q1 + B3 * q3 + B4 * q4 + B5 * q5 + B6 * q6)
        ratio = max(ratio, _energy_ratio(H, q1, q3, q4, q5, q6, q7, e, de, rtol))
        kink = 0.0
        if not pinned:
            kink = _kink_ratio(model, H, k1, k2, k3, k4, k5, k6, k7, u, y2, y3, y4, y5, y6, un, lo, hi, sc)
        if (ratio <= 1.0 and kink <= 1.0 and abs(unc - u) <= DU_MAX) or h * T < 1e-18:
            e += de
            t += h
            u = unc
            if un != unc:
                k7, q7 = _deriv1(model, P, k, mode, u, t, a0, a1, cap, lo, hi)
            k1 = k7
            q1 = q7
            fac = 5.0 if ratio < 1e-4 else min(5.0, 0.9 * ratio ** -0.2)
            if braked:  # the step after a kink rejection grows gently
                fac = min(fac, 2.0)
                braked = False
            h = h * fac
        else:
            fac = max(0.1, 0.9 * ratio ** -0.2) if ratio > 1.0 else 0.5
            if kink > 1.0:
                fac = min(fac, 0.5)
                braked = True
            if abs(unc - u) > DU_MAX:
                fac = min(fac, 0.9 * DU_MAX / abs(unc - u))
            h = h * fac
    return u, e, nsteps


# ---------------------------------------------------------------------------
# state-space integration under a constant drive with a single moving device
MAX_PIECES = 200
MARCH_MIN_DU = 0.05   # below this initial |rate|·T a few Dormand-Prince steps are cheaper


@njit(cache=True, inline="always")
def _rate_c(single, model, P, kp, kn, mpos, mode, u, uo, V, cap, lo, hi):
    """(rate, power) of the moving device at state u under the constant drive V, partner frozen at uo."""
    if single:
        return _deriv1(model, P, kp, mode, u, 0.0, V, V, cap, lo, hi)
    if mpos:
        i, vp = pair_current(model, P, kp, kn, u, uo, V)
        if model == MODEL_TEAM and P[kp, P_WIN] == WIN_NONE:  # the law without dudt's model dispatch
            return threshold_rate(P, kp, i, 0.0, cap, False), V * i
        return dudt(model, P, kp, u, vp, i, cap), V * i
    i, vp = pair_current(model, P, kp, kn, uo, u, V)
    if model == MODEL_TEAM and P[kn, P_WIN] == WIN_NONE:
        return threshold_rate(P, kn, -i, 0.0, cap, False), V * i
    return dudt(model, P, kn, u, vp - V, -i, cap), V * i


@njit(cache=True, _nrt=False)
def _gl_piece(single, model, P, kp, kn, mpos, mode, a, b, uo, V, cap, sgn, lo, hi):
    """5-point Gauss-Legendre of dt = du/|rate| and dE = power·dt over [a, b].
    Returns (time, energy, max |rate|, ok); ok is False if the rate vanishes or turns at a node."""
    h = b - a
    ti = 0.0
    ei = 0.0
    gmax = 0.0
    for q in range(5):
        r, p = _rate_c(single, model, P, kp, kn, mpos, mode, a + h * GL_X[q], uo, V, cap, lo, hi)
        r *= sgn
        if not r > 0.0:
            return 0.0, 0.0, 0.0, False
        w = GL_W[q] / r
        ti += w
        ei += w * p
        if r > gmax:
            gmax = r
    return ti * abs(h), ei * abs(h), gmax, True


@njit(cache=True, _nrt=False)
def _march(single, model, P, kp, kn, mpos, mode, u0, uo, V, T, rtol, atol, cap, ulim, sgn, lo, hi):
    """Integrate t(u) = ∫ du/|du/dt| from u0 toward ulim (direction sgn) with adaptive 5-point
    Gauss-Legendre pieces (error estimate: whole piece against its two halves; accepted when the
    implied state error |rate|·δt is below atol + rtol·|u|), and invert t(u_end) = T by safeguarded
    Newton on the last piece.

    Returns (u_end, t_used, energy, status, n_pieces): status 0 = time T used up at u_end,
    1 = ulim reached at t_used <= T, -1 = failure (caller falls back to Dormand-Prince)."""
    u = u0
    t = 0.0
    e = 0.0
    rest = abs(ulim - u0)
    if rest == 0.0:
        return u0, 0.0, 0.0, 1, 0
    r0, p0 = _rate_c(single, model, P, kp, kn, mpos, mode, u0, uo, V, cap, lo, hi)
    h = 2.0 * abs(r0) * T
    if h >= rest or not h > 0.0:
        h = rest
        b = ulim
    else:
        b = u0 + sgn * h
    Iw, Ew, gw, okw = _gl_piece(single, model, P, kp, kn, mpos, mode, u, b, uo, V, cap, sgn, lo, hi)
    npc = 0
    while npc < MAX_PIECES:
        npc += 1
        m = u + sgn * 0.5 * h
        Il, El, gl, okl = _gl_piece(single, model, P, kp, kn, mpos, mode, u, m, uo, V, cap, sgn, lo, hi)
        Ir, Er, gr, okr = _gl_piece(single, model, P, kp, kn, mpos, mode, m, b, uo, V, cap, sgn, lo, hi)
        if okw and okl and okr:
            I = Il + Ir
            err = abs(Iw - I)
            tol_t = (atol + rtol * min(_tol_u(model, u), _tol_u(model, b))) / max(gw, max(gl, gr))
            if err <= tol_t:
                if t + I >= T:
                    return _invert(single, model, P, kp, kn, mpos, mode, u, b, uo, V, T - t, t, e, I, rtol, atol,
                                   cap, sgn, lo, hi, npc)
                t += I
                e += El + Er
                u = b
                rest = abs(ulim - u)
                if rest <= 0.0:
                    return ulim, t, e, 1, npc
                fac = 4.0 if err <= 0.0 else min(4.0, max(1.0, 0.8 * (tol_t / err) ** (1.0 / 11.0)))
                h = h * fac
                if h >= rest * (1.0 - 1e-12):
                    h = rest
                    b = ulim
                else:
                    b = u + sgn * h
                Iw, Ew, gw, okw = _gl_piece(single, model, P, kp, kn, mpos, mode, u, b, uo, V, cap, sgn, lo, hi)
                continue
        if h < 1e-13:
            break
        h *= 0.5
        b = m
        Iw, Ew, gw, okw = Il, El, gl, okl
    return u, t, e, -1, npc


@njit(cache=True, _nrt=False)
def _invert(single, model, P, kp, kn, mpos, mode, a, b, uo, V, t_rem, t, e, I, rtol, atol, cap, sgn, lo, hi, npc):
    """End state inside the accepted piece [a, b] (time I > t_rem): solve ∫_a^u du/|rate| = t_rem."""
    h = abs(b - a)
    sl = 0.0
    sh = 1.0
    s = min(max(t_rem / I, 0.0), 1.0)
    es = 0.0
    for it in range(40):
        us = a + sgn * s * h
        Fs, es, gm, ok = _gl_piece(single, model, P, kp, kn, mpos, mode, a, us, uo, V, cap, sgn, lo, hi)
        r, p = _rate_c(single, model, P, kp, kn, mpos, mode, us, uo, V, cap, lo, hi)
        r *= sgn
        if not ok or not r > 0.0:
            sh = s
            sn = 0.5 * (sl + sh)
        else:
            F = Fs - t_rem
            if F > 0.0:
                sh = s
            else:
                sl = s
            ds = -F * r / h
            if abs(ds) * h <= 0.01 * (atol + rtol * _tol_u(model, us)):
                es += p / r * ds * h
                s = min(max(s + ds, 0.0), 1.0)
                break
            sn = s + ds
            if not (sl < sn < sh):
                sn = 0.5 * (sl + sh)
        if (sh - sl) * h <= 1e-3 * (atol + rtol * _tol_u(model, us)):
            s = sn
            break
        s = sn
    return _clamp(a + sgn * s * h, lo, hi), t + t_rem, e + es, 0, npc + it + 1


# ---------------------------------------------------------------------------
# series pair: current i into + of device kp and into - of device kn
@njit(cache=True, inline="always")
def pair_current(model, P, kp, kn, up, un, v):
    """Current (A) through a series pair under total voltage v, and the voltage across kp."""
    if model != MODEL_YAKOPCIC:
        rp = resistance(P, kp, up)
        i = v / (rp + resistance(P, kn, un))
        return i, i * rp
    if v == 0.0:
        return 0.0, 0.0
    # both devices with the same b (every preset): closed form (yakopcic.yak_pair_split)
    i, vp, ok = yak_pair_split(P, kp, kn, up, un, v)
    if ok:
        return i, vp
    # solve I_p(vp) + I_n(vp - v) = 0 for vp in [min(0,v), max(0,v)]; F increasing in vp
    lo = min(0.0, v)
    hi = max(0.0, v)
    x = 0.5 * v
    for it in range(100):
        f = yak_current(P, kp, up, x) + yak_current(P, kn, un, x - v)
        if f > 0.0:
            hi = x
        else:
            lo = x
        # Newton step with numerical-free derivative: dI/dV = a·x·b·cosh(bV)
        d = 0.0
        for (kk, uu, vv) in ((kp, up, x), (kn, un, x - v)):
            V = -vv
            a = P[kk, Y_A1] if V >= 0.0 else P[kk, Y_A2]
            d += a * (1.0 - uu) * P[kk, Y_B] * math.cosh(P[kk, Y_B] * V)
        xn = x - f / d if d > 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) <= 1e-15 * abs(v) + 1e-300:
            x = xn
            break
        x = xn
    return yak_current(P, kp, up, x), x


@njit(cache=True, _nrt=False)
def _team_lin_rate1(P, k, uc, v, cap):
    """(du/dt, power) of one TEAM device with linear I-V and no window under voltage v: bit-identical
    to the general path (current_of, dudt with window factor 1.0), without its calls."""
    i = v / (P[k, P_RON] + (P[k, P_ROFF] - P[k, P_RON]) * uc)
    return threshold_rate(P, k, i, 0.0, cap, False), v * i


@njit(cache=True, _nrt=False)
def _team_lin_rates2(P, kp, kn, u1c, u2c, v, cap):
    """(du1/dt, du2/dt, power) of a TEAM pair with linear I-V and no window: bit-identical to the general
    path (window factor 1.0), without its per-device calls; most write time of the default physics."""
    rp = P[kp, P_RON] + (P[kp, P_ROFF] - P[kp, P_RON]) * u1c
    i = v / (rp + (P[kn, P_RON] + (P[kn, P_ROFF] - P[kn, P_RON]) * u2c))
    return threshold_rate(P, kp, i, 0.0, cap, False), threshold_rate(P, kn, -i, 0.0, cap, False), v * i


@njit(cache=True, inline="always")
def _deriv2(model, P, kp, kn, u1, u2, s, a0, a1, cap, lo1, hi1, lo2, hi2):
    u1c = _clamp(u1, lo1, hi1)
    u2c = _clamp(u2, lo2, hi2)
    v = a0 + (a1 - a0) * s
    if (model == MODEL_TEAM and P[kp, P_IV] == 0.0 and P[kn, P_IV] == 0.0 and P[kp, P_WIN] == WIN_NONE
            and P[kn, P_WIN] == WIN_NONE):
        return _team_lin_rates2(P, kp, kn, u1c, u2c, v, cap)
    i, vp = pair_current(model, P, kp, kn, u1c, u2c, v)
    r1 = dudt(model, P, kp, u1c, vp, i, cap)
    r2 = dudt(model, P, kn, u2c, vp - v, -i, cap)
    return r1, r2, v * i


@njit(cache=True, inline="always")
def _deriv2_held(model, P, kp, kn, u1, u2, s, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2):
    """:func:`_deriv2` with a stuck device's rate zero at every stage: zeroing it only after the stages
    let the stages move it, so the partner's stage currents (and the power) came from a state the
    solution never had, and the step's error fell only as the square root of rtol (a Joglekar device
    beside a stuck one, 1 V for 10 us: 1e-8 in u and 1.3e-6 in energy at rtol = 1e-10; 47 steps at the
    default rtol where one does)."""
    r1, r2, p = _deriv2(model, P, kp, kn, u1, u2, s, a0, a1, cap, lo1, hi1, lo2, hi2)
    if s1:
        r1 = 0.0
    if s2:
        r2 = 0.0
    return r1, r2, p


@njit(cache=True, _nrt=False)
def advance2(model, P, kp, kn, u1, u2, a0, a1, T, rtol, atol, cap, s1, s2):
    """Advance a series pair over one PWL segment. s1/s2: device is stuck (state frozen).

    Returns (u1, u2, energy, n_steps)."""
    lo1, hi1 = _bounds(model, P, kp)
    lo2, hi2 = _bounds(model, P, kn)
    u1 = _clamp(u1, lo1, hi1)
    u2 = _clamp(u2, lo2, hi2)
    if T <= 0.0:
        return u1, u2, 0.0, 0
    a1r, a2r, p0 = _deriv2_held(model, P, kp, kn, u1, u2, 0.0, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
    b1r, b2r, p1 = _deriv2_held(model, P, kp, kn, u1, u2, 1.0, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
    f1 = (a1r == 0.0 and b1r == 0.0) or (u1 <= lo1 and a1r <= 0.0 and b1r <= 0.0) or (
        u1 >= hi1 and a1r >= 0.0 and b1r >= 0.0)
    f2 = (a2r == 0.0 and b2r == 0.0) or (u2 <= lo2 and a2r <= 0.0 and b2r <= 0.0) or (
        u2 >= hi2 and a2r >= 0.0 and b2r >= 0.0)
    hp_cross = model == MODEL_HP and a0 * a1 < 0.0
    yak_cross = model == MODEL_YAKOPCIC and a0 * a1 < 0.0
    if f1 and f2 and not hp_cross and not yak_cross:
        if model != MODEL_YAKOPCIC:
            R = resistance(P, kp, u1) + resistance(P, kn, u2)
            return u1, u2, T * (a0 * a0 + a0 * a1 + a1 * a1) / (3.0 * R), 0
        e = 0.0
        for q in range(5):
            d = a0 + (a1 - a0) * GL_X[q]
            e += GL_W[q] * d * pair_current(model, P, kp, kn, u1, u2, d)[0]
        return u1, u2, e * T, 0
    if a0 == a1 and model != MODEL_YAKOPCIC and (f1 != f2) and max(abs(a1r), abs(a2r)) * T > MARCH_MIN_DU:
        # constant voltage, one device moves: 1-D autonomous ODE, integrate in state space
        mpos = f2  # the moving device is kp
        um = u1 if mpos else u2
        uo = u2 if mpos else u1
        lom, him = (lo1, hi1) if mpos else (lo2, hi2)
        r0 = a1r if mpos else a2r
        sgn = 1.0 if r0 > 0.0 else -1.0
        ulim = him if sgn > 0.0 else lom
        so = s2 if mpos else s1
        ue, te, ee, st, npc = _march(False, model, P, kp, kn, mpos, 0, um, uo, a0, T, rtol, atol, cap, ulim, sgn,
                                     lom, him)
        if st >= 0 and (so or _partner_frozen(model, P, kp, kn, mpos, ue, uo, a0, cap, lo1, hi1, lo2, hi2)):
            if st == 1:
                i_b = pair_current(model, P, kp, kn, ulim if mpos else uo, uo if mpos else ulim, a0)[0]
                ee += a0 * i_b * (T - te)
                ue = ulim
            if mpos:
                return ue, u2, ee, npc
            return u1, ue, ee, npc
        if st >= 0:
            # the partner starts to move on the way: find where (its drive crosses its threshold),
            # integrate the single mover up to there, then both together
            ua = um
            ub = ue
            for it in range(60):
                if abs(ub - ua) <= 1e-12:
                    break
                mid = 0.5 * (ua + ub)
                if _partner_frozen(model, P, kp, kn, mpos, mid, uo, a0, cap, lo1, hi1, lo2, hi2):
                    ua = mid
                else:
                    ub = mid
            ue, te, ee, st, npc2 = _march(False, model, P, kp, kn, mpos, 0, um, uo, a0, T, rtol, atol, cap, ua, sgn,
                                          lom, him)
            if st == 1:
                if mpos:
                    u1 = ua
                else:
                    u2 = ua
                n1, n2, e2, ns = _dp2(model, P, kp, kn, u1, u2, a0, a1, T - te, rtol, atol, cap, s1, s2,
                                      lo1, hi1, lo2, hi2)
                return n1, n2, ee + e2, npc + npc2 + ns
    return _dp2(model, P, kp, kn, u1, u2, a0, a1, T, rtol, atol, cap, s1, s2, lo1, hi1, lo2, hi2)


@njit(cache=True, _nrt=False)
def _partner_frozen(model, P, kp, kn, mpos, um, uo, V, cap, lo1, hi1, lo2, hi2):
    """Whether the non-moving device of a pair has zero rate (or is pushed outward at a bound)
    with the moving one at state um, under constant voltage V."""
    if mpos:
        i, vp = pair_current(model, P, kp, kn, um, uo, V)
        r = dudt(model, P, kn, uo, vp - V, -i, cap)
        lo, hi = lo2, hi2
    else:
        i, vp = pair_current(model, P, kp, kn, uo, um, V)
        r = dudt(model, P, kp, uo, vp, i, cap)
        lo, hi = lo1, hi1
    return r == 0.0 or (uo <= lo and r < 0.0) or (uo >= hi and r > 0.0)


@njit(cache=True, _nrt=False)
def _dp2(model, P, kp, kn, u1, u2, a0, a1, T, rtol, atol, cap, s1, s2, lo1, hi1, lo2, hi2):
    """Dormand-Prince 5(4) for a series pair over one segment. Returns (u1, u2, energy, n_steps)."""
    a1r, a2r, p0 = _deriv2_held(model, P, kp, kn, u1, u2, 0.0, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
    t = 0.0
    e = 0.0
    k1a, k1b, q1 = a1r, a2r, p0
    rmax = max(abs(k1a), abs(k1b))
    h = 1.0 if rmax * T <= 0.05 else 0.05 / (rmax * T)
    nsteps = 0
    braked = False
    while t < 1.0 and nsteps < MAX_STEPS:
        if t + h > 1.0:
            h = 1.0 - t
        H = h * T
        y2a = u1 + H * A21 * k1a
        y2b = u2 + H * A21 * k1b
        k2a, k2b, q2 = _deriv2_held(model, P, kp, kn, y2a, y2b, t + C2 * h, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
        y3a = u1 + H * (A31 * k1a + A32 * k2a)
        y3b = u2 + H * (A31 * k1b + A32 * k2b)
        k3a, k3b, q3 = _deriv2_held(model, P, kp, kn, y3a, y3b, t + C3 * h, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
        y4a = u1 + H * (A41 * k1a + A42 * k2a + A43 * k3a)
        y4b = u2 + H * (A41 * k1b + A42 * k2b + A43 * k3b)
        k4a, k4b, q4 = _deriv2_held(model, P, kp, kn, y4a, y4b, t + C4 * h, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
        y5a = u1 + H * (A51 * k1a + A52 * k2a + A53 * k3a + A54 * k4a)
        y5b = u2 + H * (A51 * k1b + A52 * k2b + A53 * k3b + A54 * k4b)
        k5a, k5b, q5 = _deriv2_held(model, P, kp, kn, y5a, y5b, t + C5 * h, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
        y6a = u1 + H * (A61 * k1a + A62 * k2a + A63 * k3a + A64 * k4a + A65 * k5a)
        y6b = u2 + H * (A61 * k1b + A62 * k2b + A63 * k3b + A64 * k4b + A65 * k5b)
        k6a, k6b, q6 = _deriv2_held(model, P, kp, kn, y6a, y6b, t + h, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
        n1 = u1 + H * (B1 * k1a + B3 * k3a + B4 * k4a + B5 * k5a + B6 * k6a)
        n2 = u2 + H * (B1 * k1b + B3 * k3b + B4 * k4b + B5 * k5b + B6 * k6b)
        k7a, k7b, q7 = _deriv2_held(model, P, kp, kn, n1, n2, t + h, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
        nsteps += 1
        c1 = _clamp(n1, lo1, hi1)
        c2 = _clamp(n2, lo2, hi2)
        e1 = abs(H * (E1 * k1a + E3 * k3a + E4 * k4a + E5 * k5a + E6 * k6a + E7 * k7a))
        e2 = abs(H * (E1 * k1b + E3 * k3b + E4 * k4b + E5 * k5b + E6 * k6b + E7 * k7b))
        # a component pinned at its bound (pushed outward through the whole step, and not pulled inward at
        # its end: a device leaving its bound within the step is not) is exact
        pin1 = (u1 <= lo1 and c1 <= lo1 and k7a <= 0.0) or (u1 >= hi1 and c1 >= hi1 and k7a >= 0.0)
        pin2 = (u2 <= lo2 and c2 <= lo2 and k7b <= 0.0) or (u2 >= hi2 and c2 >= hi2 and k7b >= 0.0)
        if pin1:
            e1 = 0.0
        if pin2:
            e2 = 0.0
        sc1 = _atol_u(model, P, kp, u1, c1, atol) + rtol * max(_tol_u(model, u1), _tol_u(model, c1))
        sc2 = _atol_u(model, P, kn, u2, c2, atol) + rtol * max(_tol_u(model, u2), _tol_u(model, c2))
        de = H * (B1 * q1 + B3 * q3 + B4 * q4 + B5 * q5 + B6 * q6)
        ratio = max(max(e1 / sc1, e2 / sc2), _energy_ratio(H, q1, q3, q4, q5, q6, q7, e, de, rtol))
        kink = 0.0
        if not pin1:
            kink = _kink_ratio(model, H, k1a, k2a, k3a, k4a, k5a, k6a, k7a, u1, y2a, y3a, y4a, y5a, y6a, n1, lo1, hi1,
                               sc1)
        if not pin2:
            kink = max(kink, _kink_ratio(model, H, k1b, k2b, k3b, k4b, k5b, k6b, k7b, u2, y2b, y3b, y4b, y5b, y6b,
                                         n2, lo2, hi2, sc2))
        dmax = max(abs(c1 - u1), abs(c2 - u2))
        if (ratio <= 1.0 and kink <= 1.0 and dmax <= DU_MAX) or h * T < 1e-18:
            e += de
            t += h
            clamped = (n1 != c1) or (n2 != c2)
            u1 = c1
            u2 = c2
            if clamped:
                k7a, k7b, q7 = _deriv2_held(model, P, kp, kn, u1, u2, t, a0, a1, cap, lo1, hi1, lo2, hi2, s1, s2)
            k1a, k1b, q1 = k7a, k7b, q7
            if a0 == a1 and model != MODEL_YAKOPCIC and t < 1.0:
                # constant voltage: once one device is held (pinned at a bound or below threshold)
                # finish the other in state space
                g1 = k1a == 0.0 or (u1 <= lo1 and k1a < 0.0) or (u1 >= hi1 and k1a > 0.0)
                g2 = k1b == 0.0 or (u2 <= lo2 and k1b < 0.0) or (u2 >= hi2 and k1b > 0.0)
                if g1 != g2 and max(abs(k1a), abs(k1b)) * (1.0 - t) * T > MARCH_MIN_DU:
                    mpos = g2
                    um = u1 if mpos else u2
                    uo = u2 if mpos else u1
                    lom, him = (lo1, hi1) if mpos else (lo2, hi2)
                    sgn = 1.0 if (k1a if mpos else k1b) > 0.0 else -1.0
                    ulim = him if sgn > 0.0 else lom
                    so = s2 if mpos else s1
                    Tr = (1.0 - t) * T
                    ue, te, ee, st, npc = _march(False, model, P, kp, kn, mpos, 0, um, uo, a0, Tr, rtol, atol, cap,
                                                 ulim, sgn, lom, him)
                    if st >= 0 and (so or _partner_frozen(model, P, kp, kn, mpos, ue, uo, a0, cap, lo1, hi1, lo2,
                                                          hi2)):
                        if st == 1:
                            i_b = pair_current(model, P, kp, kn, ulim if mpos else uo, uo if mpos else ulim, a0)[0]
                            ee += a0 * i_b * (Tr - te)
                            ue = ulim
                        if mpos:
                            return ue, u2, e + ee, nsteps + npc
                        return u1, ue, e + ee, nsteps + npc
            fac = 5.0 if ratio < 1e-4 else min(5.0, 0.9 * ratio ** -0.2)
            if braked:  # the step after a kink rejection grows gently
                fac = min(fac, 2.0)
                braked = False
            h = h * fac
        else:
            fac = max(0.1, 0.9 * ratio ** -0.2) if ratio > 1.0 else 0.5
            if kink > 1.0:
                fac = min(fac, 0.5)
                braked = True
            if dmax > DU_MAX:
                fac = min(fac, 0.9 * DU_MAX / dmax)
            h = h * fac
    return u1, u2, e, nsteps


# ---------------------------------------------------------------------------
# array kernels
@njit(cache=True, inline="always")
def _switched(du, switch_dx):
    """Whether a call's state change du counts as a switching event (endurance)."""
    return abs(du) > switch_dx


@njit(cache=True, inline="always")
def _worn(u, cnt, lim, flg, stuck_u):
    """After a switching event (cnt already counts it): at the endurance limit the device is flagged stuck
    and set to ``stuck_u`` if that is 0 or 1.  Returns (state, count, flags).  Scalars only: inlined
    helpers taking arrays cost numba reference counting per call, ~3x the whole write; the callers read
    count and limit only after a switching event (memory traffic of the write)."""
    if cnt >= lim:
        flg |= 1
        if stuck_u == 0.0 or stuck_u == 1.0:
            return stuck_u, cnt, flg
    return u, cnt, flg


@njit(cache=True, _nrt=False, inline="always")
def c2c_kick(U, dU, flags, k, dx_dn, dx_up, z):
    """Cycle-to-cycle noise on device k's last state change: u + du·dx·z with dx = ``dx_dn`` for du < 0 and
    ``dx_up`` otherwise (:meth:`components.devices.DeviceParams.c2c_spreads`), clipped to [0, 1]; stuck
    and open devices kept.  ``z``: the device's standard normal draw.  Every compiled write path's law
    (DeviceArray._c2c is the same in numpy)."""
    if (flags[k] & 3) == 0:
        U[k] = min(max(U[k] + dU[k] * (dx_dn if dU[k] < 0.0 else dx_up) * z, 0.0), 1.0)


@njit(cache=True, _nrt=False, inline="always")
def _count_paths(paths, total, n_exact, n_fallback, n_integrator, n_certified):
    """Add a kernel's path counts to ``paths`` (frozen, exact, fallback, integrator, certified): the
    ``total`` devices or pairs × pieces it advanced, those not on the four counted paths being frozen."""
    paths[1] += n_exact
    paths[2] += n_fallback
    paths[3] += n_integrator
    paths[4] += n_certified
    paths[0] += total - n_exact - n_fallback - n_integrator - n_certified


@njit(cache=True, _nrt=False, inline="always")
def _store(k, u, u_old, U, dU, count, limit, flags, stuck_u, switch_dx):
    """Store device k's new state u (its change from u_old) and, where the change counts as a switching
    event, count it and apply wear-out: the one bookkeeping step after every device's segment or piece."""
    U[k] = u
    dU[k] = u - u_old
    if _switched(u - u_old, switch_dx):
        U[k], count[k], flags[k] = _worn(u, count[k] + 1, limit[k], flags[k], stuck_u)


@njit(cache=True, inline="always")
def _flow_ok(model, P, k):
    """Whether device k has the exact constant-voltage flows of :mod:`.flows` (TEAM, linear I-V, no window)."""
    return model == MODEL_TEAM and P[k, P_IV] == 0.0 and P[k, P_WIN] == WIN_NONE


# path codes returned per device/pair (counted by DeviceArray.path_counts): frozen or read (state
# unchanged without an integrator step), exact (flows.py or advance1's closed forms), exact flow
# handed over to the integrator or certificate refused (fallback), integrator, certified closed form
# (flows.team_ramp_certified: error bracket within the integrator's tolerance)
PATH_FROZEN, PATH_EXACT, PATH_FALLBACK, PATH_INTEGRATOR, PATH_CERTIFIED = 0, 1, 2, 3, 4


@njit(cache=True, inline="always")
def _moves_far(P, k, mode, u, d0, d1, T):
    """Whether an HP device's initial rate at the larger drive, times T, exceeds MARCH_MIN_DU, or the
    device is within 1e-3 of a bound (where the window vanishes, a state leaving it grows exponentially
    from a value of the order of the integrator's atol: 2.5e-3 in R at the default tolerance)."""
    uc = min(max(u, 0.0), 1.0)
    if uc < 1e-3 or uc > 1.0 - 1e-3:
        return True
    d = d0 if abs(d0) >= abs(d1) else d1
    i = d / resistance(P, k, uc) if mode == 0 else d
    r = P[k, P_KUP] * i
    return abs(r * _window(P, k, uc, r > 0.0)) * T > MARCH_MIN_DU


@njit(cache=True, _nrt=False)
def _single_one(j, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx, a0, a1, T, mode, rtol, atol, cap,
                fast, energy):
    """Advance one device; returns (integrator steps, path code)."""
    k = idx[j] if idx.size > 0 else j
    d0 = a0[0] if a0.size == 1 else a0[j]
    d1 = a1[0] if a1.size == 1 else a1[j]
    f = flags[k]
    if f & 2:  # open: no current, no motion
        energy[j] = 0.0
        dU[k] = 0.0
        return 0, PATH_FROZEN
    if f & 1:  # stuck: state frozen
        energy[j] = _energy_frozen1(model, P, k, mode, U[k], d0, d1, T)
        dU[k] = 0.0
        return 0, PATH_FROZEN
    u_old = U[k]
    code = PATH_INTEGRATOR
    e0 = 0.0
    u = u_old
    Tr = T
    if fast and mode == 0 and d0 == d1 and d0 != 0.0 and T > 0.0 and _flow_ok(model, P, k):
        u, u2_, tdone, e0, ok = team_flat(P, k, k, True, min(max(u, 0.0), 1.0), 0.0, d0, T, cap, False, False)
        if ok:
            energy[j] = e0
            _store(k, u, u_old, U, dU, count, limit, flags, stuck_u, switch_dx)
            return 0, PATH_EXACT
        Tr = T - tdone
        code = PATH_FALLBACK
    elif fast and model == MODEL_HP and T > 0.0 and P[k, P_IV] == 0.0 and window_flow_ok(P, k) and _moves_far(
            P, k, mode, u, d0, d1, T):
        # one HP device with a p = 1 window moving far (where the integrator would take many steps): the
        # separable law in closed form (windowed.py); shorter moves are cheaper in one or two steps
        lo, hi = _bounds(model, P, k)
        un, e0, ok = window_flow(P, k, mode, min(max(u, lo), hi), d0, d1, T, cap, lo, hi)
        if ok:
            energy[j] = e0
            _store(k, un, u_old, U, dU, count, limit, flags, stuck_u, switch_dx)
            return 0, PATH_FROZEN if un == u_old else PATH_EXACT
        code = PATH_FALLBACK
    elif fast and mode == 0 and d0 != d1 and T > 0.0 and _flow_ok(model, P, k):
        # a ramp: the closed form with a certified error bracket, else the integrator (fallback)
        un, u2_, e0, ok = team_ramp_certified(P, k, k, True, min(max(u, 0.0), 1.0), 0.0, d0, d1, T, cap, False, False,
                                              rtol, atol)
        if ok:
            energy[j] = e0
            _store(k, un, u_old, U, dU, count, limit, flags, stuck_u, switch_dx)
            return 0, PATH_FROZEN if un == u_old else PATH_CERTIFIED
        e0 = 0.0
        code = PATH_FALLBACK
    elif fast and model == MODEL_YAKOPCIC and mode == 0 and T > 0.0:
        # separable law: the end state in closed form, the energy exact (flat top) or certified (ramp);
        # refused (the rate cap could bind, a ramp through 0 V, ...): the integrator (fallback)
        lo, hi = _bounds(model, P, k)
        un, e0, fc = yak_flow1(P, k, min(max(u, lo), hi), d0, d1, T, cap, lo, hi)
        if fc == FLOW_NONE:  # below threshold or held at a bound: frozen
            energy[j] = e0
            U[k] = un
            dU[k] = un - u_old
            return 0, PATH_FROZEN if un == u_old else PATH_EXACT
        if fc == FLOW_EXACT or fc == FLOW_CERTIFIED:
            energy[j] = e0
            _store(k, un, u_old, U, dU, count, limit, flags, stuck_u, switch_dx)
            return 0, PATH_FROZEN if un == u_old else (PATH_EXACT if fc == FLOW_EXACT else PATH_CERTIFIED)
        e0 = 0.0
        code = PATH_FALLBACK
    un, e, ns = advance1(model, P, k, mode, u, d0, d1, Tr, rtol, atol, cap)
    if ns == 0 and code == PATH_INTEGRATOR:  # no integrator step: frozen, or one of advance1's closed forms
        code = PATH_FROZEN if un == u else PATH_EXACT
    energy[j] = e + e0
    _store(k, un, u_old, U, dU, count, limit, flags, stuck_u, switch_dx)
    return ns, code


@njit(cache=True, inline="always")
def _below_thresholds_pair(model, P, kp, kn, u1, u2, a0, a1):
    """R1 + R2 if neither TEAM/VTEAM device of a pair is driven past a threshold anywhere on the ramp
    a0 -> a1 (states in bounds), else -1.0 (the caller then takes the general path)."""
    r1 = resistance(P, kp, u1)
    r2 = resistance(P, kn, u2)
    R = r1 + r2
    for q in range(2):
        i = (a0 if q == 0 else a1) / R
        if model == MODEL_TEAM:
            d1 = i
            d2 = -i
        else:
            d1 = i * r1
            d2 = -i * r2
        if d1 > P[kp, P_THUP] or d1 < P[kp, P_THDOWN] or d2 > P[kn, P_THUP] or d2 < P[kn, P_THDOWN]:
            return -1.0
    lo1, hi1 = _bounds(model, P, kp)
    lo2, hi2 = _bounds(model, P, kn)
    if not (lo1 <= u1 <= hi1 and lo2 <= u2 <= hi2):  # the general path clamps first
        return -1.0
    return R


@njit(cache=True, _nrt=False)
def _pair_core(model, P, kp, kn, o1, o2, d0, d1, T, rtol, atol, cap, fast, s1, s2):
    """One PWL segment d0 -> d1 (V) of the series pair (kp, kn) from states (o1, o2), nothing stored.
    Returns (u1, u2, energy, integrator steps, path code)."""
    if model == MODEL_TEAM or model == MODEL_VTEAM:
        # quick read path: both devices below their thresholds at both ends of the (monotone) ramp
        R = _below_thresholds_pair(model, P, kp, kn, o1, o2, d0, d1)
        if R > 0.0:
            return o1, o2, T * (d0 * d0 + d0 * d1 + d1 * d1) / (3.0 * R), 0, PATH_FROZEN
    code = PATH_INTEGRATOR
    e0 = 0.0
    u1 = o1
    u2 = o2
    Tr = T
    if fast and model == MODEL_HP and T > 0.0 and pair_flow_ok(P, kp, kn):
        # HP pair, p = 1 windows: both devices charge-controlled, closed form in the charge (windowed.py)
        lo1, hi1 = _bounds(model, P, kp)
        lo2, hi2 = _bounds(model, P, kn)
        u1, u2, e0, ok, ser = window_pair(P, kp, kn, o1, o2, d0, d1, T, cap, s1, s2, lo1, hi1, lo2, hi2)
        if ok:
            if s1:
                u1 = o1
            if s2:
                u2 = o2
            return u1, u2, e0, 0, PATH_FROZEN if (u1 == o1 and u2 == o2) else PATH_EXACT
        u1 = o1
        u2 = o2
        e0 = 0.0
    if fast and model == MODEL_HP and T > 0.0 and P[kp, P_WIN] == WIN_NONE and P[kn, P_WIN] == WIN_NONE:
        u1, u2, e0, ok = hp_pair(P, kp, kn, min(max(o1, 0.0), 1.0), min(max(o2, 0.0), 1.0), d0, d1, T, cap, s1, s2)
        if ok:
            return u1, u2, e0, 0, PATH_EXACT
        u1 = o1
        u2 = o2
    if fast and (d0 != d1 or d0 != 0.0) and T > 0.0 and _flow_ok(model, P, kp) and _flow_ok(model, P, kn):
        # balanced pair (R1 + R2 constant): ramps and flat tops in closed form
        u1, u2, e0, ok = team_ramp_balanced(P, kp, kn, min(max(o1, 0.0), 1.0), min(max(o2, 0.0), 1.0), d0, d1, T,
                                            cap, s1, s2)
        if ok:
            return u1, u2, e0, 0, PATH_EXACT
        u1 = o1
        u2 = o2
        if d0 != d1:  # a ramp: the closed form with a certified error bracket, else the integrator (fallback)
            u1, u2, e0, ok = team_ramp_certified(P, kp, kn, False, min(max(o1, 0.0), 1.0), min(max(o2, 0.0), 1.0),
                                                 d0, d1, T, cap, s1, s2, rtol, atol)
            if ok:
                return o1 if s1 else u1, o2 if s2 else u2, e0, 0, PATH_CERTIFIED
            u1 = o1
            u2 = o2
            e0 = 0.0
            code = PATH_FALLBACK
    if fast and d0 == d1 and d0 != 0.0 and T > 0.0 and _flow_ok(model, P, kp) and _flow_ok(model, P, kn):
        u1, u2, tdone, e0, ok = team_flat(P, kp, kn, False, min(max(o1, 0.0), 1.0), min(max(o2, 0.0), 1.0), d0, T,
                                          cap, s1, s2)
        if ok:
            return o1 if s1 else u1, o2 if s2 else u2, e0, 0, PATH_EXACT
        Tr = T - tdone
        code = PATH_FALLBACK
    n1, n2, e, ns = advance2(model, P, kp, kn, u1, u2, d0, d1, Tr, rtol, atol, cap, s1, s2)
    if ns == 0 and code == PATH_INTEGRATOR:
        code = PATH_FROZEN if (n1 == u1 and n2 == u2) else PATH_EXACT
    if s1:
        n1 = o1
    if s2:
        n2 = o2
    return n1, n2, e + e0, ns, code


@njit(cache=True, _nrt=False)
def _pair_one(j, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, a0, a1, T, rtol, atol, cap,
              fast, energy):
    """Advance one series pair; returns (integrator steps, path code)."""
    kp = pos[j]
    kn = neg[j]
    d0 = a0[0] if a0.size == 1 else a0[j]
    d1 = a1[0] if a1.size == 1 else a1[j]
    if (flags[kp] & 2) or (flags[kn] & 2):
        energy[j] = 0.0
        dU[kp] = 0.0
        dU[kn] = 0.0
        return 0, PATH_FROZEN
    o1 = U[kp]
    o2 = U[kn]
    n1, n2, e, ns, code = _pair_core(model, P, kp, kn, o1, o2, d0, d1, T, rtol, atol, cap, fast,
                                     (flags[kp] & 1) != 0, (flags[kn] & 1) != 0)
    energy[j] = e
    if code == PATH_FROZEN:
        dU[kp] = 0.0
        dU[kn] = 0.0
        return ns, code
    _store(kp, n1, o1, U, dU, count, limit, flags, stuck_u, switch_dx)
    _store(kn, n2, o2, U, dU, count, limit, flags, stuck_u, switch_dx)
    return ns, code


@njit(cache=True, _nrt=False)
def _pulse_one(j, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, amp, width, rise, fall, rtol,
               atol, cap, fast, energy):
    """One trapezoid pulse (0 -> a over rise, a for width, a -> 0 over fall) through pair j, the state kept
    in registers between the three segments and stored once.  Returns (integrator steps, segments on
    exact, fallback and integrator paths)."""
    kp = pos[j]
    kn = neg[j]
    a = amp[0] if amp.size == 1 else amp[j]
    w = width[0] if width.size == 1 else width[j]
    if (flags[kp] & 2) or (flags[kn] & 2):
        energy[j] = 0.0
        dU[kp] = 0.0
        dU[kn] = 0.0
        return 0, 0, 0, 0, 0
    s1 = (flags[kp] & 1) != 0
    s2 = (flags[kn] & 1) != 0
    o1 = U[kp]
    o2 = U[kn]
    u1 = o1
    u2 = o2
    etot = 0.0
    tot = 0
    n1 = 0
    n2 = 0
    n3 = 0
    n4 = 0
    for q in range(3):
        if q == 0:
            v0, v1, T = 0.0, a, rise
        elif q == 1:
            v0, v1, T = a, a, w
        else:
            v0, v1, T = a, 0.0, fall
        u1, u2, e, ns, code = _pair_core(model, P, kp, kn, u1, u2, v0, v1, T, rtol, atol, cap, fast, s1, s2)
        etot += e
        tot += ns
        if code == PATH_EXACT:
            n1 += 1
        elif code == PATH_FALLBACK:
            n2 += 1
        elif code == PATH_CERTIFIED:
            n4 += 1
        elif code == PATH_INTEGRATOR:
            n3 += 1
    energy[j] = etot
    _store(kp, u1, o1, U, dU, count, limit, flags, stuck_u, switch_dx)
    _store(kn, u2, o2, U, dU, count, limit, flags, stuck_u, switch_dx)
    return tot, n1, n2, n3, n4


@njit(cache=True, parallel=True)
def apply_pair_pulses(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, amp, width, rise, fall,
                      rtol, atol, cap, fast, energy, paths):
    """Trapezoid pulses through series pairs (pos[j], neg[j]): amplitude amp[j], flat width[j] (len 1 =
    broadcast), edges rise/fall; one pass over the pairs instead of three.  Adds the segments per path
    code to ``paths``; returns the integrator steps."""
    tot = 0
    c1 = 0
    c2 = 0
    c3 = 0
    c4 = 0
    for j in prange(pos.size):
        ns, n1, n2, n3, n4 = _pulse_one(np.int64(j), model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg,
                                    amp, width, rise, fall, rtol, atol, cap, fast, energy)
        tot += ns
        c1 += n1
        c2 += n2
        c3 += n3
        c4 += n4
    _count_paths(paths, 3 * pos.size, c1, c2, c3, c4)
    return tot


@njit(cache=True, _nrt=False)
def _uniform_laws(model, P, fast, uniform):
    """:func:`balanced_law` of parameter row 0 for a positive and a negative drive where every row is that
    row and the exact flows apply (ok False otherwise)."""
    lup = balanced_law(P, 0, 0, 1.0)
    ldn = balanced_law(P, 0, 0, -1.0)
    if not (fast and uniform and _flow_ok(model, P, 0)):
        lup = (False,) + lup[1:]
        ldn = (False,) + ldn[1:]
    return lup, ldn


PIECES_CHUNK = 512  # pairs per task of the parallel pulse kernel (one call per chunk, not per pair)


@njit(cache=True, _nrt=False)
def _pieces_chunk(j0, j1, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, sign, v0, v1, T, rtol,
                  atol, cap, fast, uniform, c2c_dn, c2c_up, noise, energy, lup, ldn):
    """The PWL pieces q of one write pulse through pairs j0 <= j < j1 (voltage sign[j]·v0[q] -> sign[j]·v1[q]
    over T[q]), each piece exactly what one :func:`apply_pairs` call and its cycle-to-cycle draw do (a piece
    is one cycle: switching count, wear-out, c2c noise ``noise[q, j]`` / ``noise[q, m + j]`` for the + / −
    device).  ``uniform``: every parameter row is the same (no device-to-device spread), so row 0 is read for
    all (identical values, 136 bytes less memory traffic per device).  ``lup``/``ldn``: :func:`balanced_law`
    of row 0 for a positive/negative drive (uniform arrays): where it holds, a one-signed piece is first
    tried with :func:`balanced_step` (what :func:`_pair_core` would reach through ``team_ramp_balanced``,
    without its per-pair dispatch).  Returns (integrator steps, pieces on the exact, fallback and integrator
    paths)."""
    m = pos.size
    tot = 0
    n1 = 0
    n2 = 0
    n3 = 0
    n4 = 0
    for j in range(j0, j1):
        kp = pos[j]
        kn = neg[j]
        rp = 0 if uniform else kp
        rn = 0 if uniform else kn
        sg = sign[j]
        e = 0.0
        for q in range(v0.size):
            if (flags[kp] & 2) or (flags[kn] & 2):
                dU[kp] = 0.0
                dU[kn] = 0.0
                continue
            o1 = U[kp]
            o2 = U[kn]
            a = sg * v0[q]
            b = sg * v1[q]
            done = False
            if flags[kp] == 0 and flags[kn] == 0 and a * b >= 0.0 and (a != 0.0 or b != 0.0):
                law = lup if (a if abs(a) >= abs(b) else b) > 0.0 else ldn
                if law[0]:
                    u1, u2, eq, moved, done = balanced_step(law[1], law[2], law[3], law[4], law[5], law[6], law[7],
                                                            min(max(o1, 0.0), 1.0), min(max(o2, 0.0), 1.0), a, b,
                                                            T[q], cap)
                    ns = 0
                    code = PATH_EXACT if moved else PATH_FROZEN
            if not done:
                u1, u2, eq, ns, code = _pair_core(model, P, rp, rn, o1, o2, a, b, T[q], rtol, atol, cap, fast,
                                                  (flags[kp] & 1) != 0, (flags[kn] & 1) != 0)
            e += eq
            tot += ns
            if code == PATH_FROZEN:
                dU[kp] = 0.0
                dU[kn] = 0.0
            else:
                _store(kp, u1, o1, U, dU, count, limit, flags, stuck_u, switch_dx)
                _store(kn, u2, o2, U, dU, count, limit, flags, stuck_u, switch_dx)
                if code == PATH_EXACT:
                    n1 += 1
                elif code == PATH_FALLBACK:
                    n2 += 1
                elif code == PATH_CERTIFIED:
                    n4 += 1
                else:
                    n3 += 1
            if c2c_dn > 0.0 or c2c_up > 0.0:  # the spread of a change with du < 0, and of the others
                c2c_kick(U, dU, flags, kp, c2c_dn, c2c_up, noise[q, j])
                c2c_kick(U, dU, flags, kn, c2c_dn, c2c_up, noise[q, m + j])
        energy[j] = e
    return tot, n1, n2, n3, n4


@njit(cache=True, parallel=True)
def apply_pair_pieces(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, sign, v0, v1, T, rtol,
                      atol, cap, fast, uniform, c2c_dn, c2c_up, noise, energy, paths):
    """A write pulse given as PWL pieces (v0[q] -> v1[q] over T[q], times sign[j] for pair j) through the
    series pairs (pos[j], neg[j]) in one pass: the same as one :func:`apply_pairs_par` call per piece,
    each followed by its cycle-to-cycle noise (``c2c_dn``/``c2c_up``: the relative spread of a state
    change with du < 0 / of the others, DeviceParams.c2c_spreads; ``noise`` of shape (pieces, 2·pairs),
    drawn in the order those calls draw).  Energy per pair summed over the pieces; pairs per piece and
    path code added to ``paths``; returns the integrator steps."""
    lup, ldn = _uniform_laws(model, P, fast, uniform)
    m = pos.size
    nch = (m + PIECES_CHUNK - 1) // PIECES_CHUNK
    tot = 0
    c1 = 0
    c2 = 0
    c3 = 0
    c4 = 0
    for c in prange(nch):
        ns, n1, n2, n3, n4 = _pieces_chunk(c * PIECES_CHUNK, min(m, (c + 1) * PIECES_CHUNK), model, P, U, dU, flags,
                                       count, limit, stuck_u, switch_dx, pos, neg, sign, v0, v1, T, rtol, atol, cap,
                                       fast, uniform, c2c_dn, c2c_up, noise, energy, lup, ldn)
        tot += ns
        c1 += n1
        c2 += n2
        c3 += n3
        c4 += n4
    _count_paths(paths, v0.size * m, c1, c2, c3, c4)
    return tot


@njit(cache=True, _nrt=False)
def apply_pair_pieces_ser(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, sign, v0, v1, T, rtol,
                          atol, cap, fast, uniform, c2c_dn, c2c_up, noise, energy, paths):
    """Single-threaded :func:`apply_pair_pieces` for small arrays (no thread wake-up)."""
    lup, ldn = _uniform_laws(model, P, fast, uniform)
    tot, n1, n2, n3, n4 = _pieces_chunk(0, pos.size, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg,
                                    sign, v0, v1, T, rtol, atol, cap, fast, uniform, c2c_dn, c2c_up, noise, energy, lup,
                                    ldn)
    _count_paths(paths, v0.size * pos.size, n1, n2, n3, n4)
    return tot


@njit(cache=True, _nrt=False)
def apply_single(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx, a0, a1, T, mode, rtol, atol, cap,
                 fast, energy, paths):
    """Advance devices idx[j] (all if idx is empty) under PWL drive a0[j]->a1[j] (len 1 = broadcast).
    Adds the number of devices per path code to ``paths``; returns the total number of integrator steps."""
    n = idx.size if idx.size > 0 else U.size
    tot = 0
    for j in range(n):
        ns, code = _single_one(j, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx, a0, a1, T, mode,
                               rtol, atol, cap, fast, energy)
        tot += ns
        paths[code] += 1
    return tot


@njit(cache=True, parallel=True)
def apply_single_par(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx, a0, a1, T, mode, rtol, atol,
                     cap, fast, energy, paths):
    """Parallel (prange) version of :func:`apply_single` for large arrays."""
    n = idx.size if idx.size > 0 else U.size
    tot = 0
    c1 = 0
    c2 = 0
    c3 = 0
    c4 = 0
    for j in prange(n):
        ns, code = _single_one(np.int64(j), model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx, a0, a1,
                               T, mode, rtol, atol, cap, fast, energy)
        tot += ns
        c1 += 1 if code == PATH_EXACT else 0
        c2 += 1 if code == PATH_FALLBACK else 0
        c3 += 1 if code == PATH_INTEGRATOR else 0
        c4 += 1 if code == PATH_CERTIFIED else 0
    _count_paths(paths, n, c1, c2, c3, c4)
    return tot


@njit(cache=True, _nrt=False)
def _single_pieces_chunk(j0, j1, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx, drv0, drv1, T,
                         rtol, atol, cap, fast, c2c_dn, c2c_up, noise, energy, eq):
    """The PWL pieces q of one voltage pulse through devices j0 <= j < j1 (device idx[j], or j if idx is
    empty; voltage drv0[q, j] -> drv1[q, j] over T[q]), each piece exactly what one :func:`apply_single`
    call and its cycle-to-cycle draw ``noise[q, j]`` do (a piece is one cycle).  ``eq``: scratch of one
    energy per device.  Returns (integrator steps, pieces on the exact, fallback, integrator and certified
    paths)."""
    tot = 0
    n1 = 0
    n2 = 0
    n3 = 0
    n4 = 0
    for j in range(j0, j1):
        k = idx[j] if idx.size > 0 else j
        e = 0.0
        for q in range(T.size):
            ns, code = _single_one(np.int64(j), model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx,
                                   drv0[q], drv1[q], T[q], 0, rtol, atol, cap, fast, eq)
            e += eq[j]
            tot += ns
            if code == PATH_EXACT:
                n1 += 1
            elif code == PATH_FALLBACK:
                n2 += 1
            elif code == PATH_INTEGRATOR:
                n3 += 1
            elif code == PATH_CERTIFIED:
                n4 += 1
            if c2c_dn > 0.0 or c2c_up > 0.0:
                c2c_kick(U, dU, flags, k, c2c_dn, c2c_up, noise[q, j])
        energy[j] = e
    return tot, n1, n2, n3, n4


@njit(cache=True, parallel=True)
def apply_single_pieces(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx, drv0, drv1, T, rtol, atol,
                        cap, fast, c2c_dn, c2c_up, noise, energy, eq, paths):
    """A voltage pulse given as PWL pieces (drv0[q, j] -> drv1[q, j] over T[q] for device j) through single
    devices in one pass: the same as one :func:`apply_single_par` call per piece, each followed by its
    cycle-to-cycle noise (``noise`` of shape (pieces, devices), drawn in the order those calls draw).
    Energy per device summed over the pieces (``eq``: scratch, one per device); devices per piece and path
    code added to ``paths``; returns the integrator steps."""
    m = energy.size
    nch = (m + PIECES_CHUNK - 1) // PIECES_CHUNK
    tot = 0
    c1 = 0
    c2 = 0
    c3 = 0
    c4 = 0
    for c in prange(nch):
        ns, n1, n2, n3, n4 = _single_pieces_chunk(c * PIECES_CHUNK, min(m, (c + 1) * PIECES_CHUNK), model, P, U, dU,
                                                  flags, count, limit, stuck_u, switch_dx, idx, drv0, drv1, T, rtol,
                                                  atol, cap, fast, c2c_dn, c2c_up, noise, energy, eq)
        tot += ns
        c1 += n1
        c2 += n2
        c3 += n3
        c4 += n4
    _count_paths(paths, T.size * m, c1, c2, c3, c4)
    return tot


@njit(cache=True, _nrt=False)
def apply_single_pieces_ser(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx, drv0, drv1, T, rtol,
                            atol, cap, fast, c2c_dn, c2c_up, noise, energy, eq, paths):
    """Single-threaded :func:`apply_single_pieces` for small arrays (no thread wake-up)."""
    m = energy.size
    tot, n1, n2, n3, n4 = _single_pieces_chunk(0, m, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx,
                                               drv0, drv1, T, rtol, atol, cap, fast, c2c_dn, c2c_up, noise, energy,
                                               eq)
    _count_paths(paths, T.size * m, n1, n2, n3, n4)
    return tot


@njit(cache=True, _nrt=False)
def apply_pairs(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, a0, a1, T, rtol, atol, cap,
                fast, energy, paths):
    """Advance series pairs (pos[j], neg[j]) under total PWL voltage a0[j]->a1[j] (len 1 = broadcast).
    Adds the number of pairs per path code to ``paths``; returns the total number of integrator steps."""
    tot = 0
    for j in range(pos.size):
        ns, code = _pair_one(j, model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, a0, a1, T, rtol,
                             atol, cap, fast, energy)
        tot += ns
        paths[code] += 1
    return tot


@njit(cache=True, parallel=True)
def apply_pairs_par(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, a0, a1, T, rtol, atol, cap,
                    fast, energy, paths):
    """Parallel (prange) version of :func:`apply_pairs`."""
    tot = 0
    c1 = 0
    c2 = 0
    c3 = 0
    c4 = 0
    for j in prange(pos.size):
        ns, code = _pair_one(np.int64(j), model, P, U, dU, flags, count, limit, stuck_u, switch_dx, pos, neg, a0, a1,
                             T, rtol, atol, cap, fast, energy)
        tot += ns
        c1 += 1 if code == PATH_EXACT else 0
        c2 += 1 if code == PATH_FALLBACK else 0
        c3 += 1 if code == PATH_INTEGRATOR else 0
        c4 += 1 if code == PATH_CERTIFIED else 0
    _count_paths(paths, pos.size, c1, c2, c3, c4)
    return tot


@njit(cache=True, _nrt=False)
def resistances(model, P, U, flags, v_read, out):
    """Resistance per device; one parameter row (P.shape[0] == 1) stands for every device."""
    one = P.shape[0] == 1
    for k in range(U.size):
        r = 0 if one else k
        if flags[k] & 2:
            out[k] = math.inf
        elif model == MODEL_YAKOPCIC:
            # v/i at the read voltage; at x = 0 (u = 1) the device carries no current: infinite
            i = yak_current(P, r, U[k], v_read)
            out[k] = v_read / i if i != 0.0 else math.inf
        else:
            out[k] = resistance(P, r, U[k])


@njit(cache=True, _nrt=False)
def currents(model, P, U, flags, v, out):
    sc = v.size == 1
    for k in range(U.size):
        vv = v[0] if sc else v[k]
        out[k] = 0.0 if flags[k] & 2 else current_of(model, P, k, U[k], vv)
