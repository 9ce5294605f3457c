"""Exact flows of one HP device with a Joglekar, Biolek or Prodromakis window of exponent p = 1.

The HP law du/dt = k·i·f(u) (:func:`components.devices.kernels.dudt`, window
:func:`components.devices.kernels._window`) separates for one device: under a voltage v(t),
i = v/R(u) with R(u) = R_on + Δ·u (linear I-V), so

    R(u)/f(u) du = k·v(t) dt   ->   G(u_end) = G(u_0) + k·Φ,   Φ = ∫v dt,
    G(u) = R_on·A(u) + Δ·B(u),  A = ∫du/f,  B = ∫u du/f;

under a current i(t), G = A and Φ = ∫i dt.  With p = 1 every window is a product of linear
factors and A, B are logarithms (f_up/f_down: the Biolek window of a rising/falling state):

    Joglekar     f = 4u(1 − u)      A = ¼·ln(u/(1 − u))      B = −¼·ln(1 − u)
    Prodromakis  f = j·u(1 − u)     A = ln(u/(1 − u))/j      B = −ln(1 − u)/j
    Biolek up    f = (1 − u)(1 + u) A = ½·ln((1 + u)/(1 − u)) B = −½·ln((1 − u)(1 + u))
    Biolek down  f = u(2 − u)       A = ½·ln(u/(2 − u))      B = −ln(2 − u)

A device's spread in R_on, R_off and k changes G's two coefficients and the time scale only;
the end state is G⁻¹ of one number, found by safeguarded Newton (G' = R/f exactly, started from
the first-order step) to a few ulps.  Energy: v/k·(A(u_end) − A(u_0)) under a constant voltage
(i·dt = du/(k·f)), otherwise 5-point Gauss-Legendre on the exact trajectory.  The rate cap must not bind
(k·max|drive|/R_on·max f <= cap), else the caller integrates.  Any other exponent p has no such
closed form here: those devices take the integrator (path counter: integrator).
"""

from __future__ import annotations

import math

from numba import njit

from .params import P_KUP, P_RON, P_ROFF, P_WIN, P_WJ, P_WP, WIN_BIOLEK, WIN_JOGLEKAR, WIN_PRODROMAKIS

GL_X = (0.04691007703066800, 0.23076534494715845, 0.5, 0.76923465505284155, 0.95308992296933200)
GL_W = (0.11846344252809454, 0.23931433524968324, 0.28444444444444444, 0.23931433524968324, 0.11846344252809454)


@njit(cache=True, inline="always")
def window_flow_ok(P, k):
    """Whether device k (HP, linear I-V) has the closed-form flow: a Joglekar, Biolek or Prodromakis
    window with p = 1."""
    w = P[k, P_WIN]
    return (w == WIN_JOGLEKAR or w == WIN_BIOLEK or w == WIN_PRODROMAKIS) and P[k, P_WP] == 1.0


@njit(cache=True, inline="always")
def _ln(x):
    """ln x, -inf at x <= 0 (what compiled code gives at 0; plain Python, NUMBA_DISABLE_JIT=1, would raise)."""
    return math.log(x) if x > 0.0 else -math.inf


@njit(cache=True)
def _ab(w, j, up, u):
    """(A(u), B(u), f(u)) of window code w (p = 1) for a rising (up) or falling state."""
    if w == WIN_BIOLEK:
        if up:
            lm = math.log1p(-u) if u < 1.0 else -math.inf
            lp = math.log1p(u)
            return 0.5 * (lp - lm), -0.5 * (lm + lp), (1.0 - u) * (1.0 + u)
        return 0.5 * (_ln(u) - math.log(2.0 - u)), -math.log(2.0 - u), u * (2.0 - u)
    c = 0.25 if w == WIN_JOGLEKAR else 1.0 / j
    lm = math.log1p(-u) if u < 1.0 else -math.inf
    return c * (_ln(u) - lm), -c * lm, u * (1.0 - u) / c


@njit(cache=True)
def _g(w, j, up, mode, ron, dr, u):
    """(G(u), G'(u)) for voltage (mode 0) or current (mode 1) drive."""
    a, b, f = _ab(w, j, up, u)
    if f <= 0.0:  # at the bound the window closes
        return a if mode == 1 else ron * a + dr * b, math.inf
    if mode == 1:
        return a, 1.0 / f
    return ron * a + dr * b, (ron + dr * u) / f


@njit(cache=True)
def _solve(w, j, up, mode, ron, dr, u0, target, guess, lo, hi):
    """u between u0 and the bound ahead with G(u) = target (G increasing): safeguarded Newton from
    ``guess``; the bound if the target lies beyond it."""
    if up:
        a = u0
        b = hi
    else:
        a = lo
        b = u0
    u = min(max(guess, a), b)
    for it in range(100):
        gu, d = _g(w, j, up, mode, ron, dr, u)
        f = gu - target
        if f > 0.0:
            b = u
        else:
            a = u
        un = u - f / d if d > 0.0 and d < math.inf else -1.0
        if not (a < un < b):
            if (up and a >= hi) or (not up and b <= lo):
                return u  # the target lies beyond the bound
            un = 0.5 * (a + b)
        if abs(un - u) <= 4e-16 * max(abs(u), 1e-300) or b - a <= 4e-16 * max(abs(b), 1e-300):
            return un
        u = un
    return u


@njit(cache=True)
def window_flow(P, k, mode, u, d0, d1, T, cap, lo, hi):
    """PWL drive d0 -> d1 over T (voltage: mode 0, current: mode 1) through HP device k with a p = 1
    window (:func:`window_flow_ok`), from state u in [lo, hi].

    Returns (u_end, energy, ok); ok is False (nothing done) where the rate cap could bind."""
    w = P[k, P_WIN]
    j = P[k, P_WJ]
    kk = P[k, P_KUP]
    ron = P[k, P_RON]
    dr = P[k, P_ROFF] - ron
    dmax = max(abs(d0), abs(d1))
    fmax = 1.0 if w != WIN_PRODROMAKIS else 0.25 * j
    if kk * dmax * fmax / (ron if mode == 0 else 1.0) > cap:
        return u, 0.0, False
    # split where the drive changes sign (the Biolek window depends on the direction)
    if d0 * d1 < 0.0:
        ts = d0 / (d0 - d1)
        nparts = 2
    else:
        ts = 1.0
        nparts = 1
    e = 0.0
    for q in range(nparts):
        b0 = d0 if q == 0 else 0.0
        b1 = (0.0 if nparts == 2 else d1) if q == 0 else d1
        tq = ts * T if q == 0 else (1.0 - ts) * T
        if tq <= 0.0 or (b0 == 0.0 and b1 == 0.0):
            continue
        up = (b0 + b1) > 0.0
        g0, g0d = _g(w, j, up, mode, ron, dr, u)
        if not (abs(g0) < math.inf):  # at the bound the window closes: the state stays
            if mode == 0:
                e += tq * (b0 * b0 + b0 * b1 + b1 * b1) / (3.0 * (ron + dr * u))
            else:
                e += tq * (ron + dr * u) * (b0 * b0 + b0 * b1 + b1 * b1) / 3.0
            continue
        dg = kk * 0.5 * (b0 + b1) * tq
        un = _solve(w, j, up, mode, ron, dr, u, g0 + dg, u + dg / g0d, lo, hi)
        if mode == 0 and b0 == b1:
            a0_, x, y = _ab(w, j, up, u)
            a1_, x, y = _ab(w, j, up, un)
            if abs(a1_ - a0_) < math.inf and un != u:
                e += b0 / kk * (a1_ - a0_)
            else:
                e += tq * b0 * b0 / (ron + dr * u)
        else:
            for n in range(5):
                s = GL_X[n]
                dq = b0 + (b1 - b0) * s
                gq = kk * 0.5 * (b0 + dq) * s * tq
                uq = _solve(w, j, up, mode, ron, dr, u, g0 + gq, u + (un - u) * (gq / dg) if dg != 0.0 else u, lo, hi)
                rq = ron + dr * uq
                e += GL_W[n] * tq * (dq * dq / rq if mode == 0 else dq * dq * rq)
        u = un
    return u, e, True
