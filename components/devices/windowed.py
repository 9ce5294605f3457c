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

Series pairs of such devices (:func:`window_pair`, taken by kernels._pair_core): both devices pass the same
charge, each state is a closed form in it and so is the flux needed to pass it; see the section below.
"""

from __future__ import annotations

import math

from numba import njit

from .params import P_IV, P_KUP, P_RON, P_ROFF, P_WIN, P_WJ, P_WP, WIN_BIOLEK, WIN_JOGLEKAR, WIN_PRODROMAKIS

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


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _g(w, j, up, mode, ron, dr, u):
    """(G(u), G'(u)) for voltage (mode 0) or current (mode 1) drive."""
    a, b, f = _ab(w, j, up, u)
    if f <= 0.0:  # at the bound the window closes
        return a if mode == 1 else ron * a + dr * b, math.inf
    if mode == 1:
        return a, 1.0 / f
    return ron * a + dr * b, (ron + dr * u) / f


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
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


# ---------------------------------------------------------------------------
# series pairs: both devices charge-controlled (the same charge passes through both)
#
# Device kp carries the current i, kn carries −i; i = V/(R1 + R2).  With the passed charge q = |∫i dt| over a
# one-signed segment each device that moves has a coordinate w that rises with q (w = u for the device pushed
# up, w = 1 − u for the one pushed down), dw/dq = k·f(w), and every p = 1 window is in w one of two laws
# (f is symmetric about u = ½ for Joglekar and Prodromakis, Biolek's falling window is its rising one in w):
#
#   logistic  f = c·w(1 − w)  (Joglekar c = 4, Prodromakis c = j):  w/(1 − w) = w0/(1 − w0)·e^x,  x = c·k·q
#   Biolek    f = (1 − w)(1 + w):                        (1 + w)/(1 − w) = (1 + w0)/(1 − w0)·e^x,  x = 2·k·q
#
# so w(q) and I(q) = ∫_0^q w dq' are closed forms in e^x (_pflow):
#
#   logistic  w = w0·e^x/(1 + w0·(e^x − 1)),                 I = log1p(w0·(e^x − 1))/(c·k)
#   Biolek    w = (2·w0 + (1 + w0)(e^x − 1))/(2 + (1 + w0)(e^x − 1)),  I = (log1p((1 + w0)(e^x − 1)/2) − x/2)/k
#
# Each device's resistance is R = a + b·w (up: a = R_on, b = Δ; down: a = R_off, b = −Δ), so the flux needed to
# pass the charge q, Λ(q) = ∫_0^q (R1 + R2) dq' = Σ (a·q + b·I(q)), is closed form, increasing (Λ' = R1 + R2),
# and the segment's end charge solves Λ(q) = |Φ|, Φ = (V0 + V1)·T/2.
#
# Short moves (x <= PAIR_Z_SERIES for every mover, every write of ordinary width) take the Taylor series of the
# same closed forms in q instead, to 5th order in w and 6th in Λ: the remainder is below 1e-15 in w (the
# closed forms are analytic in x within |x| < π, bounded by 1 on |x| <= π/2: the n-th term is at most
# (2·x/π)^n), no transcendental function, the end charge by Newton on the polynomial.  Energy: |V|·q on a
# flat top, otherwise 5-point Gauss-Legendre in time of V²/(R1 + R2) on the exact trajectory (each node one
# more solve of Λ(q) = Ψ(t)).
PAIR_Z_SERIES = 4e-3


@njit(cache=True, inline="always")
def pair_flow_ok(P, kp, kn):
    """Whether the series pair (kp, kn) of HP devices has the closed-form charge flow: linear I-V and a
    Joglekar, Biolek or Prodromakis window with p = 1 on each (the two may differ)."""
    return P[kp, P_IV] == 0.0 and P[kn, P_IV] == 0.0 and window_flow_ok(P, kp) and window_flow_ok(P, kn)


@njit(cache=True, inline="always")
def _mover(P, k, up, u):
    """(law: 0 logistic / 1 Biolek, x per unit charge, fmax, w0, 1 − w0) of HP device k pushed up or down
    from state u."""
    w = P[k, P_WIN]
    kk = P[k, P_KUP]
    if w == WIN_BIOLEK:
        typ, c, fm = 1, 2.0, 1.0
    elif w == WIN_JOGLEKAR:
        typ, c, fm = 0, 4.0, 1.0
    else:
        typ, c, fm = 0, P[k, P_WJ], 0.25 * P[k, P_WJ]
    if up:
        return typ, c * kk, fm, u, 1.0 - u
    return typ, c * kk, fm, 1.0 - u, u


@njit(cache=True, inline="always")
def _pflow(typ, ck, w0, w0c, q):
    """(∫_0^q w dq', w(q), 1 − w(q)) of a mover (law typ, x = ck·q)."""
    x = ck * q
    if typ == 0:
        if x <= 30.0:
            em = math.expm1(x)
            d = 1.0 + w0 * em
            return math.log1p(w0 * em) / ck, w0 * (1.0 + em) / d, w0c / d
        e = math.exp(-x)
        d = w0 + w0c * e
        return (x + math.log(d)) / ck, w0 / d, w0c * e / d
    if x <= 30.0:
        h = (1.0 + w0) * math.expm1(x)
        d = 2.0 + h
        return 2.0 * (math.log1p(0.5 * h) - 0.5 * x) / ck, (2.0 * w0 + h) / d, 2.0 * w0c / d
    e = math.exp(-x)
    d = (1.0 + w0) + w0c * e
    return 2.0 * (0.5 * x + math.log(0.5 * d)) / ck, ((1.0 + w0) - w0c * e) / d, 2.0 * w0c * e / d


@njit(cache=True, inline="always")
def _coefs(typ, ck, w0, w0c):
    """Taylor coefficients A1..A5 of w(q) − w0 in q (law typ, x = ck·q): the recurrence of dw/dx = f(w)/c."""
    if typ == 0:  # dw/dx = w(1 − w)
        s = w0c - w0
        a1 = w0 * w0c
        a2 = 0.5 * a1 * s
        a3 = (a2 * s - a1 * a1) * (1.0 / 3.0)
        a4 = (a3 * s - 2.0 * a1 * a2) * 0.25
        a5 = (a4 * s - 2.0 * a1 * a3 - a2 * a2) * 0.2
    else:  # in x = 2kq: dw/dx = (1 − w²)/2
        a1 = 0.5 * w0c * (1.0 + w0)
        a2 = -0.5 * w0 * a1
        a3 = -(2.0 * w0 * a2 + a1 * a1) * (1.0 / 6.0)
        a4 = -(2.0 * w0 * a3 + 2.0 * a1 * a2) * 0.125
        a5 = -(2.0 * w0 * a4 + 2.0 * a1 * a3 + a2 * a2) * 0.1
    c2 = ck * ck
    c4 = c2 * c2
    return a1 * ck, a2 * c2, a3 * c2 * ck, a4 * c4, a5 * c4 * ck


@njit(cache=True, inline="always")
def _lpp(l2, l3, l4, l5, l6, qm):
    """A bound of |Λ''| on [0, qm] for Λ = l1·q + … + l6·q⁶."""
    return 2.0 * abs(l2) + qm * (6.0 * abs(l3) + qm * (12.0 * abs(l4) + qm * (20.0 * abs(l5) + qm * 30.0 * abs(l6))))


@njit(cache=True, inline="always")
def _poly_solve(l1, l2, l3, l4, l5, l6, lpp, psi, q):
    """q with l1·q + … + l6·q⁶ = psi by Newton from q; lpp bounds |Λ''| on the way: stop once the next
    step (at most lpp·dq²/(2·Λ')) is below 1e-16·q.  Returns (q, converged)."""
    for it in range(12):
        f = q * (l1 + q * (l2 + q * (l3 + q * (l4 + q * (l5 + q * l6))))) - psi
        d = l1 + q * (2.0 * l2 + q * (3.0 * l3 + q * (4.0 * l4 + q * (5.0 * l5 + q * 6.0 * l6))))
        if not d > 0.0:
            return q, False
        dq = f / d
        q -= dq
        if lpp * dq * dq <= 2e-16 * d * abs(q):
            return q, True
    return q, False


@njit(cache=True, inline="always")
def _lam(mv1, t1, ck1, a1, b1, w1, c1, mv2, t2, ck2, a2, b2, w2, c2, rc, q):
    """(Λ(q), Λ'(q)) from the closed forms."""
    lam = rc * q
    d = rc
    if mv1:
        i1, x1, y1 = _pflow(t1, ck1, w1, c1, q)
        lam += a1 * q + b1 * i1
        d += a1 + b1 * x1
    if mv2:
        i2, x2, y2 = _pflow(t2, ck2, w2, c2, q)
        lam += a2 * q + b2 * i2
        d += a2 + b2 * x2
    return lam, d


@njit(cache=True, _nrt=False)
def _lam_solve(mv1, t1, ck1, a1, b1, w1, c1, mv2, t2, ck2, a2, b2, w2, c2, rc, psi, q, qlo, qhi):
    """q in [qlo, qhi] with Λ(q) = psi (the closed forms): safeguarded Newton from q.  Returns (q, Λ'(q))."""
    q = min(max(q, qlo), qhi)
    d = 1.0
    for it in range(200):
        lam, d = _lam(mv1, t1, ck1, a1, b1, w1, c1, mv2, t2, ck2, a2, b2, w2, c2, rc, q)
        f = lam - psi
        if f > 0.0:
            qhi = q
        else:
            qlo = q
        qn = q - f / d
        if not (qlo <= qn <= qhi):
            qn = 0.5 * (qlo + qhi)
        if abs(qn - q) <= 4e-16 * abs(q) or qhi - qlo <= 4e-16 * qhi:
            return qn, d
        q = qn
    return q, d


@njit(cache=True, inline="always")
def _edge_energy(r, l2, l3, l4, l5, l6, q, b2):
    """∫_0^q √(b2·F(y)) dy for F(y) = r·y + l2·y² + … + l6·y⁶ (r > 0): the energy ∫|V| dq of a ramp from or to
    zero (V² = 2|β|·F, F the flux from the zero end), as the series √(b2·r·q³)·Σ c_n·(terms in e_m = l_{m+1}·q^m/r)
    of √(1 + ε) to third order in ε; -1.0 where the dropped terms could exceed 1e-16 relative (the caller
    takes quadrature)."""
    e1 = l2 * q / r
    e2 = l3 * q * q / r
    e3 = l4 * q * q * q / r
    q4 = q * q * q * q / r
    if abs(e1) > 1e-4 or abs(e2) > 1e-8 or abs(e3) > 1e-12 or (abs(l5) + abs(l6) * q) * q4 > 1e-16:
        return -1.0
    c = 2.0 / 3.0 + 0.2 * e1 + (e2 * 0.5 - e1 * e1 * 0.125) * (2.0 / 7.0) + (
        e3 * 0.5 - e1 * e2 * 0.25 + e1 * e1 * e1 * 0.0625) * (2.0 / 9.0)
    return math.sqrt(b2 * r * q * q * q) * c


@njit(cache=True, _nrt=False)
def window_pair(P, kp, kn, u1, u2, V0, V1, T, cap, s1, s2, lo1, hi1, lo2, hi2):
    """PWL voltage V0 -> V1 over T across the series pair (kp, kn) of HP devices with p = 1 windows
    (:func:`pair_flow_ok`) from states (u1, u2), clamped first to [lo, hi]; s1/s2: the device is stuck (it
    conducts, it does not move).  Returns (u1, u2, energy, ok, series); ok is False (nothing done) where the
    drive changes sign or the rate cap could bind (the caller integrates); series: the short-move Taylor form
    was used."""
    u1 = min(max(u1, lo1), hi1)
    u2 = min(max(u2, lo2), hi2)
    if V0 * V1 < 0.0:
        return u1, u2, 0.0, False, False
    r1 = P[kp, P_RON]
    d1 = P[kp, P_ROFF] - r1
    r2 = P[kn, P_RON]
    d2 = P[kn, P_ROFF] - r2
    R0 = (r1 + d1 * u1) + (r2 + d2 * u2)
    psi = 0.5 * abs(V0 + V1) * T
    if psi == 0.0:
        return u1, u2, 0.0, True, True
    up = V0 + V1 > 0.0
    vmax = max(abs(V0), abs(V1))
    t1, ck1, f1, w1, c1 = _mover(P, kp, up, u1)
    t2, ck2, f2, w2, c2 = _mover(P, kn, not up, u2)
    mv1 = not s1 and c1 > 0.0
    mv2 = not s2 and c2 > 0.0
    rcap = cap * (r1 + r2)  # the rate cap against k·|V|max/(R_on1 + R_on2)·max f
    if (mv1 and P[kp, P_KUP] * vmax * f1 > rcap) or (mv2 and P[kn, P_KUP] * vmax * f2 > rcap):
        return u1, u2, 0.0, False, False
    # the resistances as a + b·w (movers), the rest constant
    rc = R0
    a1 = b1 = a2 = b2 = 0.0
    if mv1:
        rc -= r1 + d1 * u1
        a1, b1 = (r1, d1) if up else (r1 + d1, -d1)
    if mv2:
        rc -= r2 + d2 * u2
        a2, b2 = (r2, d2) if not up else (r2 + d2, -d2)
    ramp = V0 != V1
    v0 = abs(V0)
    beta = (abs(V1) - v0) / T
    q = psi / R0
    zmax = max(ck1 if mv1 else 0.0, ck2 if mv2 else 0.0)
    if zmax * q <= 0.5 * PAIR_Z_SERIES:
        # short move: Taylor series of the closed forms in q
        l2 = l3 = l4 = l5 = l6 = 0.0
        p1 = p2 = p3 = p4 = p5 = 0.0
        m1 = m2 = m3 = m4 = m5 = 0.0
        if mv1:
            p1, p2, p3, p4, p5 = _coefs(t1, ck1, w1, c1)
            l2 += b1 * p1
            l3 += b1 * p2
            l4 += b1 * p3
            l5 += b1 * p4
            l6 += b1 * p5
        if mv2:
            m1, m2, m3, m4, m5 = _coefs(t2, ck2, w2, c2)
            l2 += b2 * m1
            l3 += b2 * m2
            l4 += b2 * m3
            l5 += b2 * m4
            l6 += b2 * m5
        l2 *= 0.5
        l3 *= 1.0 / 3.0
        l4 *= 0.25
        l5 *= 0.2
        l6 *= 1.0 / 6.0
        # the end charge: the reverted series q = q0·(1 − a2 + 2·a2² − a3 − 5·a2³ + 5·a2·a3 − a4), q0 = |Φ|/R0,
        # a_n = l_n·q0^(n−1)/R0, where its first dropped term (order 4 in the a_n) is below 2e-15 relative;
        # else Newton on the polynomial
        inv = 1.0 / R0
        q0 = psi * inv
        e1 = l2 * inv * q0
        e2 = l3 * inv * q0 * q0
        e3 = l4 * inv * q0 * q0 * q0
        if abs(e1) <= 1e-4 and abs(e2) <= 1e-8 and abs(e3) <= 1e-12 and (
                abs(l5) + abs(l6) * q0) * inv * q0 * q0 * q0 * q0 <= 1e-16:
            q = q0 * (1.0 - e1 + (2.0 * e1 * e1 - e2) + (e1 * (5.0 * e2 - 5.0 * e1 * e1) - e3))
            conv = True
        else:
            q, conv = _poly_solve(R0, l2, l3, l4, l5, l6, _lpp(l2, l3, l4, l5, l6, 2.0 * q0), psi,
                                  q0 - l2 * q0 * q0 * inv)
        if conv and zmax * q <= PAIR_Z_SERIES:
            if not ramp:
                e = v0 * q
            elif v0 == 0.0 or V1 == 0.0:
                # ∫|V| dq, V² = V0² + 2β·Λ(q) = 2|β|·|Λ(q) − Λ(q_zero)|: the flux from the zero end as a
                # polynomial (Λ about 0, or about q1), its series (_edge_energy) where short enough, else
                # q = q1·s² from a zero start, q1·(1 − s²) to a zero end (V ~ √ of the distance) and 5-point
                # Gauss-Legendre in s on a smooth integrand
                if v0 == 0.0:
                    e = _edge_energy(R0, l2, l3, l4, l5, l6, q, 2.0 * beta)
                else:  # Λ(q1) − Λ(q1 − y) in powers of y
                    g1 = R0 + q * (2.0 * l2 + q * (3.0 * l3 + q * (4.0 * l4 + q * (5.0 * l5 + q * 6.0 * l6))))
                    g2 = -(l2 + q * (3.0 * l3 + q * (6.0 * l4 + q * (10.0 * l5 + q * 15.0 * l6))))
                    g3 = l3 + q * (4.0 * l4 + q * (10.0 * l5 + q * 20.0 * l6))
                    g4 = -(l4 + q * (5.0 * l5 + q * 15.0 * l6))
                    g5 = l5 + q * 6.0 * l6
                    e = _edge_energy(g1, g2, g3, g4, g5, -l6, q, -2.0 * beta)
                if e < 0.0:
                    e = 0.0
                    for n in range(5):
                        sn = GL_X[n]
                        qn = q * sn * sn if v0 == 0.0 else q * (1.0 - sn * sn)
                        lam = qn * (R0 + qn * (l2 + qn * (l3 + qn * (l4 + qn * (l5 + qn * l6)))))
                        e += GL_W[n] * sn * math.sqrt(abs(lam if v0 == 0.0 else psi - lam))
                    e *= 2.0 * q * math.sqrt(2.0 * abs(beta))
            else:
                # both ends off zero: 5-point Gauss-Legendre in time of V²/(R1 + R2), a solve per node
                e = 0.0
                for n in range(5):
                    tn = GL_X[n] * T
                    vn = v0 + beta * tn
                    pn = (v0 + 0.5 * beta * tn) * tn
                    qn, cn = _poly_solve(R0, l2, l3, l4, l5, l6, _lpp(l2, l3, l4, l5, l6, q), pn, q * (pn / psi))
                    rn = R0 + qn * (2.0 * l2 + qn * (3.0 * l3 + qn * (4.0 * l4 + qn * (5.0 * l5 + qn * 6.0 * l6))))
                    e += GL_W[n] * vn * vn / rn
                e *= T
            if mv1:
                dw = q * (p1 + q * (p2 + q * (p3 + q * (p4 + q * p5))))
                u1 = min(max(u1 + dw if up else u1 - dw, lo1), hi1)
            if mv2:
                dw = q * (m1 + q * (m2 + q * (m3 + q * (m4 + q * m5))))
                u2 = min(max(u2 - dw if up else u2 + dw, lo2), hi2)
            return u1, u2, e, True, True
    # general move: the closed forms, the end charge bracketed by the extreme resistances
    rlo = rc + (min(a1, a1 + b1) if mv1 else 0.0) + (min(a2, a2 + b2) if mv2 else 0.0)
    rhi = rc + (max(a1, a1 + b1) if mv1 else 0.0) + (max(a2, a2 + b2) if mv2 else 0.0)
    q, R1 = _lam_solve(mv1, t1, ck1, a1, b1, w1, c1, mv2, t2, ck2, a2, b2, w2, c2, rc, psi, psi / R0, psi / rhi,
                       psi / rlo)
    if ramp:
        # ∫|V| dq with V² = V0² + 2β·Λ(q): composite Gauss-Legendre in s, panels of at most 1/8 in every
        # mover's x and 1/8 in R1 + R2 (whose zero lies that far off); q = q1·s² from a zero start,
        # q1·(1 − s²) to a zero end (V ~ √ of the distance)
        if v0 != 0.0 and abs(V1) != 0.0 and min(v0, abs(V1)) < 0.5 * vmax:
            return u1, u2, 0.0, False, False  # a ramp close to zero at one end: not here
        kind = 0 if v0 == 0.0 else (1 if abs(V1) == 0.0 else 2)
        npan = min(256, 1 + int(8.0 * zmax * q + 8.0 * abs(R1 - R0) / min(R0, R1)))
        if kind == 2:  # the branch point of √ at V = 0 lies a third of the segment or more beyond its start
            npan = max(npan, 12)
        hs = 1.0 / npan
        e = 0.0
        for pn in range(npan):
            for n in range(5):
                sn = hs * (pn + GL_X[n])
                if kind == 0:
                    qn = q * sn * sn
                    dq = 2.0 * q * sn
                elif kind == 1:
                    qn = q * (1.0 - sn * sn)
                    dq = 2.0 * q * sn
                else:
                    qn = q * sn
                    dq = q
                lam = _lam(mv1, t1, ck1, a1, b1, w1, c1, mv2, t2, ck2, a2, b2, w2, c2, rc, qn)[0]
                e += GL_W[n] * hs * dq * math.sqrt(max(v0 * v0 + 2.0 * beta * lam, 0.0))
    else:
        e = v0 * q
    if mv1:
        i1, x1, y1 = _pflow(t1, ck1, w1, c1, q)
        u1 = min(max(x1 if up else y1, lo1), hi1)
    if mv2:
        i2, x2, y2 = _pflow(t2, ck2, w2, c2, q)
        u2 = min(max(y2 if up else x2, lo2), hi2)
    return u1, u2, e, True, False
