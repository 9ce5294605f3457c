"""Exact flows of TEAM devices with a linear I-V and no window under a constant voltage.

Such a device's rate depends on its current only, and the current on the total
series resistance ``s`` (one device: its own resistance; a pair: R1 + R2):
|i| = |V|/s.  A device moving in direction ``dir`` (+1 = toward OFF) changes ``s``
by ``Δ·du`` (Δ = R_off − R_on), so with threshold θ, S = |V|/θ and z = s/S < 1

    ds/dt = dir·Δ·K·(1/z − 1)^α          (K = |k|/(x_off − x_on), 1/s)

is one *universal* autonomous ODE per exponent α: the device-to-device spread of
K, Δ and θ only rescales time and ``s``.  With y = z/(1 − z) its time is

    t = S/(Δ·K) · [H(y1) − H(y0)],   H(y) = ∫_0^y w^α/(1 + w)² dw,

and the dissipated energy V²·∫dt/s = V²/(Δ·K) · [E(y1) − E(y0)],
E(y) = ∫_0^y w^(α−1)/(1 + w) dw; both are closed forms for integer α (a power
series below y = 1/2, where the closed form would cancel).  Two devices moving
under the same law (equal α and θ: the symmetric preset with spread in K and R)
move s by D = dir1·Δ1·K1 + dir2·Δ2·K2 times the same (1/z − 1)^α: the same flow
with Δ·K -> D, and each device advances by K_j/D of it.  The rate cap makes the
motion linear below z_cap = 1/(1 + (cap/K)^(1/α)).

:func:`team_flat` chains these exact phases between the events of a constant-
voltage segment (a device reaches its bound, a partner crosses its threshold, a
device enters or leaves the rate cap).  Where no exact phase applies (two movers
under different laws, one of them capped, non-integer α) it stops and reports the
state and time reached; the caller finishes the segment with the error-controlled
integrator (the oracle of these flows in the tests).

Development note: numba's on-disk cache does not follow edits across modules
(kernels.py's cached kernels keep the flows they were compiled with); after
editing this file delete ``components/devices/__pycache__/*.nb[ic]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .params import P_ADOWN, P_AUP, P_KDOWN, P_KUP, P_RON, P_ROFF, P_THDOWN, P_THUP

MAX_ALPHA = 16
SERIES_Y = 1.5     # below: positive power series in z = y/(1+y) <= 0.6; above: closed form in t = 1 + y


@njit(cache=True, _nrt=False)
def _binom(n, k):
    r = 1.0
    for q in range(1, k + 1):
        r = r * (n - k + q) / q
    return r


@njit(cache=True, _nrt=False)
def _powi(b, n):
    r = 1.0
    x = b
    while n > 0:
        if n & 1:
            r *= x
        x *= x
        n >>= 1
    return r


# y below which H and E use the power series, per α: the closed form's alternating sum of terms up to
# ~3^α would leave a relative error ~1e-16·3^α·(1 + y)/y^(α+1) in y; the series is used where that
# exceeds 1e-12 (α = 3: y < 0.25; α = 10: y < 1.31), never above SERIES_Y.  Tabulated once: computing
# it per call cost as much as the series itself.
_LIMITS = (0.05, 0.05, 0.103946, 0.250159, 0.427858, 0.602038, 0.768371, 0.933959, 1.081175, 1.191995,
           1.314175, 1.379883, 1.521321, 1.521321, 1.521321, 1.521321, 1.521321)


@njit(cache=True, inline="always")
def _series_limit(a):
    return _LIMITS[a]


@njit(cache=True, _nrt=False)
def flow_h(y, a):
    """H(y) = ∫_0^y w^a/(1 + w)² dw for integer 1 <= a <= MAX_ALPHA, y >= 0 (relative error ~1e-11)."""
    if y <= 0.0:
        return 0.0
    if y <= _series_limit(a):
        # in z = y/(1 + y): H = ∫_0^z (v/(1 - v))^a dv = Σ C(a+n-1, n) z^(a+1+n)/(a+1+n), positive terms
        z = y / (1.0 + y)
        p = _powi(z, a + 1)
        s = 0.0
        c = 1.0
        for n in range(2000):
            t = c * p / (a + 1 + n)
            s += t
            if t <= 1e-17 * s:
                break
            p *= z
            c = c * (a + n) / (n + 1)
        return s
    t = 1.0 + y
    lt = math.log(t)
    s = a * (1.0 if (a - 1) % 2 == 0 else -1.0) * lt
    s += (1.0 if a % 2 == 0 else -1.0) * (1.0 - 1.0 / t)
    tp = 1.0  # t^(m-1)
    for m in range(2, a + 1):
        tp *= t
        sg = 1.0 if (a - m) % 2 == 0 else -1.0
        s += sg * _binom(a, m) * (tp - 1.0) / (m - 1)
    return s


@njit(cache=True, _nrt=False)
def flow_e(y, a):
    """E(y) = ∫_0^y w^(a-1)/(1 + w) dw for integer a >= 1, y >= 0."""
    if y <= 0.0:
        return 0.0
    if y <= _series_limit(a):
        # E = ∫_0^z v^(a-1) (1 - v)^(-a) dv = Σ C(a+n-1, n) z^(a+n)/(a+n)
        z = y / (1.0 + y)
        p = _powi(z, a)
        s = 0.0
        c = 1.0
        for n in range(2000):
            t = c * p / (a + n)
            s += t
            if t <= 1e-17 * s:
                break
            p *= z
            c = c * (a + n) / (n + 1)
        return s
    t = 1.0 + y
    s = (1.0 if (a - 1) % 2 == 0 else -1.0) * math.log(t)
    tp = 1.0
    for m in range(1, a):
        tp *= t
        sg = 1.0 if (a - 1 - m) % 2 == 0 else -1.0
        s += sg * _binom(a - 1, m) * (tp - 1.0) / m
    return s


@njit(cache=True, _nrt=False)
def flow_h_inv(h, a, ylo, yhi, y0, h0, hl, hh):
    """y in [ylo, yhi] with H(y) = h (H increasing; hl = H(ylo), hh = H(yhi), NaN if unknown);
    safeguarded Newton from a first-order step off the known point H(y0) = h0 (y0 = 0: none)."""
    if hl != hl:
        hl = flow_h(ylo, a)
    if hh != hh:
        hh = flow_h(yhi, a)
    if h <= hl:
        return ylo
    if h >= hh:
        return yhi
    ylo = max(ylo, 1e-300)
    y = ylo + (yhi - ylo) * (h - hl) / (hh - hl)
    if y0 > 0.0:  # first-order step from the known point (y0, h0): usually within a few ulps after 3 Newtons
        d0 = _powi(y0, a) / ((1.0 + y0) * (1.0 + y0))
        yg = y0 + (h - h0) / d0 if d0 > 0.0 else -1.0
        if ylo < yg < yhi:
            y = yg
    for it in range(200):
        f = flow_h(y, a) - h
        if f > 0.0:
            yhi = y
        else:
            ylo = y
        d = _powi(y, a) / ((1.0 + y) * (1.0 + y))
        yn = y - f / d if d > 0.0 else -1.0
        if not (ylo < yn < yhi):
            yn = math.sqrt(ylo * yhi) if yhi > 4.0 * ylo else 0.5 * (ylo + yhi)
        if abs(yn - y) <= 4e-16 * abs(y) or yhi - ylo <= 4e-16 * abs(yhi):
            return yn
        y = yn
    return y


@njit(cache=True, _nrt=False)
def _law(P, k, dirn):
    """(K, θ, integer α or -1, Δ, α) of device k moving in direction dirn."""
    if dirn > 0.0:
        kk = P[k, P_KUP]
        th = P[k, P_THUP]
        a = P[k, P_AUP]
    else:
        kk = -P[k, P_KDOWN]
        th = -P[k, P_THDOWN]
        a = P[k, P_ADOWN]
    ia = int(a)
    if ia != a or ia < 1 or ia > MAX_ALPHA:
        ia = -1
    return kk, th, ia, P[k, P_ROFF] - P[k, P_RON], a


@njit(cache=True, inline="always")
def _capped(K, S, ia, a, s, cap):
    """Whether the rate K·(S/s − 1)^α is at the cap (integer powers by squaring: no pow() per call)."""
    if s >= S:
        return False
    w = S / s - 1.0
    return K * (_powi(w, ia) if ia > 0 else w ** a) >= cap


@njit(cache=True, inline="always")
def _cap_s(K, S, a, cap):
    """s below which the rate K·(S/s − 1)^α exceeds the cap (computed only when an event needs it)."""
    return S / (1.0 + (cap / K) ** (1.0 / a))


@njit(cache=True, _nrt=False)
def _y_of(s, S):
    z = s / S
    return z / (1.0 - z)


GL_X = (0.04691007703066800, 0.23076534494715845, 0.5, 0.76923465505284155, 0.95308992296933200)
GL_W = (0.11846344252809454, 0.23931433524968324, 0.28444444444444444, 0.23931433524968324, 0.11846344252809454)
LOCAL_VAR = 0.05   # the local quadrature is used while w^α varies by less than ~5 % over a phase


@njit(cache=True, _nrt=False)
def _gl_q(S, a, Rc, s0, Q):
    """(t, ∫dt/s) over progress [0, Q] with s = s0 + Rc·q, dt = dq/w^α, w = S/s − 1 (5-point Gauss-Legendre)."""
    t = 0.0
    ei = 0.0
    for n in range(5):
        sq = s0 + Rc * Q * GL_X[n]
        g = 1.0 / _powi(S / sq - 1.0, a)
        t += GL_W[n] * g
        ei += GL_W[n] * g / sq
    return t * Q, ei * Q


@njit(cache=True, _nrt=False)
def _flow_q(S, a, Rc, s0, rem, qe):
    """Advance the flow ds/dt = Rc·w^α (w = S/s − 1 > 0) from s0 for at most ``rem`` seconds or up to the
    progress ``qe`` of the next event, in the progress variable Q = ∫ w^α dt (ds = Rc·dQ).

    Returns (Q, dt, ∫dt/s, hit): hit means the event was reached at dt <= rem.  Short phases (w^α
    varies by < 5 %) by 5-point Gauss-Legendre in Q with Newton on t(Q) = rem (error ~ 0.05^10);
    long ones by the closed forms H, E."""
    w0 = S / s0 - 1.0
    qg = rem * _powi(w0, a)  # progress at the initial rate
    qt = min(qg, qe)
    s1 = s0 + Rc * qt
    w1 = S / s1 - 1.0
    if w1 > 0.0 and a * abs(w1 - w0) <= LOCAL_VAR * w0:
        if qe <= qg:
            te, ei = _gl_q(S, a, Rc, s0, qe)
            if te <= rem:
                return qe, te, ei, True
        Q = qt
        for it in range(20):
            tq, ei = _gl_q(S, a, Rc, s0, Q)
            dq = (tq - rem) * _powi(S / (s0 + Rc * Q) - 1.0, a)
            Q -= dq
            if abs(dq) <= 1e-15 * Q:
                break
        tq, ei = _gl_q(S, a, Rc, s0, Q)
        return Q, rem, ei, False
    # closed forms: t = S/|Rc|·|H(y1) − H(y0)|, ∫dt/s = |E(y1) − E(y0)|/|Rc|
    sc = S / abs(Rc)
    y0 = _y_of(s0, S)
    h0 = flow_h(y0, a)
    se = s0 + Rc * qe
    if se < S:
        ye = _y_of(se, S)
        he = flow_h(ye, a)
        te = sc * abs(he - h0)
    else:
        ye = math.inf
        te = math.inf
        he = math.nan
    if te <= rem:
        return qe, te, abs(flow_e(ye, a) - flow_e(y0, a)) / abs(Rc), True
    target = h0 + (1.0 if Rc > 0.0 else -1.0) * rem / sc
    if Rc < 0.0:
        y1 = flow_h_inv(target, a, ye, y0, y0, h0, he, h0)
    else:
        yu = ye
        if yu == math.inf:
            yu = 2.0 * y0 + 1.0
            while flow_h(yu, a) < target:
                yu = 2.0 * yu
            he = math.nan
        y1 = flow_h_inv(target, a, y0, yu, y0, h0, h0, he)
    Q = min((S * y1 / (1.0 + y1) - s0) / Rc, qe)
    return Q, rem, abs(flow_e(y1, a) - flow_e(y0, a)) / abs(Rc), False


@njit(cache=True, _nrt=False)
def team_flat(P, kp, kn, single, u1, u2, V, T, cap, s1, s2):
    """Exact constant-voltage segment of one TEAM device (``single``; kn ignored) or a series pair
    (current V/s into + of kp and into − of kn), linear I-V, no window.

    Returns (u1, u2, t_done, energy, ok): ``ok`` False means it stopped at ``t_done`` < T
    in a state no exact phase covers; the caller integrates the rest."""
    av = abs(V)
    d1 = 1.0 if V > 0.0 else -1.0
    d2 = -d1
    K1, th1, a1, D1, A1 = _law(P, kp, d1)
    S1 = av / th1
    C1 = -1.0  # cap boundaries in s, computed when an event needs them
    C2 = -1.0
    ron1 = P[kp, P_RON]
    if single:
        K2, th2, a2, D2, A2, S2, ron2 = 1.0, 1.0, -1, 1.0, 1.0, 0.0, 0.0
    else:
        K2, th2, a2, D2, A2 = _law(P, kn, d2)
        S2 = av / th2
        ron2 = P[kn, P_RON]
    t = 0.0
    e = 0.0
    vv = V * V
    f1 = -1  # cap state forced by the event that ended the last phase (-1: decide by s, 0: free, 1: capped);
    f2 = -1  # s at a cap boundary is only known to rounding
    for phase in range(16):
        rem = T - t
        if rem <= 0.0:
            return u1, u2, T, e, True
        s = ron1 + D1 * u1 + (0.0 if single else ron2 + D2 * u2)
        h1 = s1 or (d1 > 0.0 and u1 >= 1.0) or (d1 < 0.0 and u1 <= 0.0)
        h2 = single or s2 or (d2 > 0.0 and u2 >= 1.0) or (d2 < 0.0 and u2 <= 0.0)
        act1 = (not h1) and s < S1
        act2 = (not h2) and s < S2
        if not act1 and not act2:
            return u1, u2, T, e + vv / s * rem, True
        b1 = (1.0 - u1) if d1 > 0.0 else u1  # distance to the bound ahead
        b2 = (1.0 - u2) if d2 > 0.0 else u2
        cp1 = _capped(K1, S1, a1, A1, s, cap) if f1 < 0 else f1 == 1
        cp2 = (not single and _capped(K2, S2, a2, A2, s, cap)) if f2 < 0 else f2 == 1
        f1 = -1
        f2 = -1
        if act1 and act2:
            if a1 < 0 or a1 != a2 or th1 != th2 or cp1 != cp2:
                return u1, u2, t, e, False
            capped = cp1
            m1 = True
            m2 = True
        else:
            capped = cp1 if act1 else cp2
            if (a1 if act1 else a2) < 0:
                return u1, u2, t, e, False
            m1 = act1
            m2 = act2
        if capped:  # every mover at the cap: linear in time
            rs = ((d1 * D1) if m1 else 0.0) + ((d2 * D2) if m2 else 0.0)
            rs *= cap
            dt = rem
            if m1:
                dt = min(dt, b1 / cap)
            if m2:
                dt = min(dt, b2 / cap)
            cx = math.inf
            if rs > 0.0:  # s rises: the first mover to leave the cap
                if m1 and C1 < 0.0:
                    C1 = _cap_s(K1, S1, A1, cap)
                if m2 and C2 < 0.0:
                    C2 = _cap_s(K2, S2, A2, cap)
                cx = min(C1 if m1 else math.inf, C2 if m2 else math.inf)
                tx = (cx - s) / rs
                if tx <= dt:
                    dt = max(tx, 0.0)
                    f1 = 0 if (m1 and C1 == cx) else -1
                    f2 = 0 if (m2 and C2 == cx) else -1
            elif rs < 0.0 and not (m1 and m2):  # s falls: the partner's threshold
                So = S2 if m1 else S1
                if not (h2 if m1 else h1):
                    if So >= s:
                        return u1, u2, t, e, False
                    dt = min(dt, (So - s) / rs)
            if not dt >= 0.0 or (dt == 0.0 and f1 < 0 and f2 < 0):
                return u1, u2, t, e, False
            e += vv * (math.log1p(rs * dt / s) / rs if rs != 0.0 else dt / s)
            if m1:
                u1 = (1.0 if d1 > 0.0 else 0.0) if dt >= b1 / cap else min(max(u1 + d1 * cap * dt, 0.0), 1.0)
            if m2:
                u2 = (1.0 if d2 > 0.0 else 0.0) if dt >= b2 / cap else min(max(u2 + d2 * cap * dt, 0.0), 1.0)
            t += dt
            continue
        # uncapped: ds/dt = Rc·w^α with Rc = Σ d_j·Δ_j·K_j over the movers, du_j = d_j·K_j·dQ
        S = S1 if m1 else S2
        a = a1 if m1 else a2
        Rc = ((d1 * D1 * K1) if m1 else 0.0) + ((d2 * D2 * K2) if m2 else 0.0)
        q1 = b1 / K1 if m1 else math.inf
        q2 = b2 / K2 if m2 else math.inf
        qe = min(q1, q2)
        qc = math.inf
        cm = 0.0
        if Rc < 0.0:  # s falls: cap onset of a mover, the partner's threshold
            if m1 and C1 < 0.0:
                C1 = _cap_s(K1, S1, A1, cap)
            if m2 and C2 < 0.0:
                C2 = _cap_s(K2, S2, A2, cap)
            cm = max(C1 if m1 else 0.0, C2 if m2 else 0.0)
            qc = max((cm - s) / Rc, 0.0)
            qe = min(qe, qc)
            if not (m1 and m2) and not (h2 if m1 else h1):
                So = S2 if m1 else S1
                if So >= s:
                    return u1, u2, t, e, False
                qe = min(qe, (So - s) / Rc)
        Q, dt, ei, hit = _flow_q(S, a, Rc, s, rem, qe)
        e += vv * ei
        if hit and qe == qc:
            f1 = 1 if (m1 and C1 == cm) else -1
            f2 = 1 if (m2 and C2 == cm) else -1
        if m1:
            u1 = (1.0 if d1 > 0.0 else 0.0) if (hit and qe == q1) else min(max(u1 + d1 * K1 * Q, 0.0), 1.0)
        if m2:
            u2 = (1.0 if d2 > 0.0 else 0.0) if (hit and qe == q2) else min(max(u2 + d2 * K2 * Q, 0.0), 1.0)
        t += dt
    return u1, u2, t, e, False


@njit(cache=True, inline="always")
def _ramp_integral(th, ia, s, V0, V1, T):
    """(g, c_max, c_max^α): g = ∫_0^T max(0, c(t))^α dt, c(t) = |V(t)|/(θ·s) − 1 of the linear drive
    V0 -> V1 (one sign) at a fixed s, in closed form: T·(c_max^(α+1) − c_min^(α+1))/((c_max − c_min)(α+1))."""
    w = 1.0 / (th * s)
    c0 = abs(V0) * w - 1.0
    c1 = abs(V1) * w - 1.0
    cm = max(c0, c1)
    if cm <= 0.0:
        return 0.0, cm, 0.0
    pm = _powi(cm, ia)
    if c0 == c1:
        return T * pm, cm, pm
    cl = min(c0, c1)
    return T * (cm * pm - (cl * _powi(cl, ia) if cl > 0.0 else 0.0)) / ((cm - cl) * (ia + 1.0)), cm, pm


@njit(cache=True, inline="always")
def balanced_law(P, kp, kn, d1):
    """(ok, K1, K2, θ, α, Δ1, Δ2, R_on1 + R_on2) of a TEAM pair whose + device moves in direction d1 and
    − device in −d1; ok only if both move under the same law (equal integer α and θ) with
    Δ1·K1 = Δ2·K2, so that R1 + R2 stays constant (the symmetric preset without spread)."""
    K1, th1, a1, D1, A1 = _law(P, kp, d1)
    K2, th2, a2, D2, A2 = _law(P, kn, -d1)
    ok = a1 > 0 and a1 == a2 and th1 == th2 and D1 * K1 == D2 * K2
    return ok, K1, K2, th1, a1, D1, D2, P[kp, P_RON] + P[kn, P_RON]


@njit(cache=True, inline="always")
def balanced_step(K1, K2, th, ia, D1, D2, ron2, u1, u2, V0, V1, T, cap):
    """The exact voltage ramp V0 -> V1 (one sign; V1 = V0: a flat top) over a pair with the law
    :func:`balanced_law` accepted for the direction of the drive: R1 + R2 = s stays constant, so each
    device's rate is K·max(0, |V(t)|/(θ·s) − 1)^α of a linear drive, integrated in closed form.

    Returns (u1, u2, energy, moved, ok); ok is False (nothing done) if a device would reach its bound
    or the rate cap would bind within the ramp; moved is False below both thresholds throughout."""
    s = ron2 + D1 * u1 + D2 * u2
    e = T * (V0 * V0 + V0 * V1 + V1 * V1) / (3.0 * s)
    g, cm, pm = _ramp_integral(th, ia, s, V0, V1, T)
    if cm <= 0.0:
        return u1, u2, e, False, True
    if max(K1, K2) * pm > cap:
        return u1, u2, 0.0, False, False
    du1 = K1 * g
    du2 = K2 * g
    d1 = 1.0 if (V0 if abs(V0) >= abs(V1) else V1) > 0.0 else -1.0
    if du1 >= ((1.0 - u1) if d1 > 0.0 else u1) or du2 >= (u2 if d1 > 0.0 else (1.0 - u2)):
        return u1, u2, 0.0, False, False
    return u1 + d1 * du1, u2 - d1 * du2, e, True, True


@njit(cache=True, _nrt=False)
def _ramp_bracket(P, kp, kn, single, u1, u2, V0, V1, T, cap, s1, s2, rtol, atol):
    """A voltage ramp V0 -> V1 (one sign) through one TEAM device (``single``; kn ignored) or a series pair,
    linear I-V, no window, any laws (spread, unequal thresholds): a closed form with a certified error.

    At a fixed total resistance s each moving device advances by g_j(s) = K_j·∫max(0, |V(t)|/(θ_j·s) − 1)^α_j dt
    (:func:`_ramp_integral`).  Every rate falls as s rises, so while s stays in [s_lo, s_hi] the true change
    of device j lies in [g_j(s_hi), g_j(s_lo)].  The bracket is certified when the movers' largest changes
    (at s_lo) cannot carry s out of it (s falls by at most Σ Δ_j·g_j(s_lo) over the movers that lower it and
    rises by at most the same sum over the others), no device can reach its bound and the rate cap cannot
    bind.  Accepted when every bracket is narrower than atol + rtol·u_j (the integrator's own step
    tolerance); the state is g_j at s halfway along its estimated change, kept inside the bracket, the energy
    V²/s integrated at that s (relative error below (s_hi − s_lo)/s_lo).

    Returns (u1, u2, energy, ratio): ratio = widest bracket / its tolerance, accepted when <= 1;
    inf when there is no bracket (a bound or the cap within reach, a ramp through zero)."""
    if V0 * V1 < 0.0:
        return u1, u2, 0.0, math.inf
    Vm = V0 if abs(V0) >= abs(V1) else V1
    if Vm == 0.0:
        return u1, u2, 0.0, math.inf
    d1 = 1.0 if Vm > 0.0 else -1.0
    K1, th1, a1, D1, A1 = _law(P, kp, d1)
    m1 = not (s1 or (d1 > 0.0 and u1 >= 1.0) or (d1 < 0.0 and u1 <= 0.0))
    s0 = P[kp, P_RON] + D1 * u1
    K2, th2, a2, D2, m2 = 1.0, 1.0, 1, 1.0, False
    if not single:
        K2, th2, a2, D2, A2 = _law(P, kn, -d1)
        m2 = not (s2 or (d1 < 0.0 and u2 >= 1.0) or (d1 > 0.0 and u2 <= 0.0))
        s0 += P[kn, P_RON] + D2 * u2
    if (m1 and a1 < 0) or (m2 and a2 < 0):
        return u1, u2, 0.0, math.inf
    # the change of s at s0: down (kp toward ON or kn toward ON) and up; the bracket twice as wide
    g1 = K1 * _ramp_integral(th1, a1, s0, V0, V1, T)[0] if m1 else 0.0
    g2 = K2 * _ramp_integral(th2, a2, s0, V0, V1, T)[0] if m2 else 0.0
    dn = (D1 * g1 if d1 < 0.0 else 0.0) + (D2 * g2 if d1 > 0.0 else 0.0)
    up = (D1 * g1 if d1 > 0.0 else 0.0) + (D2 * g2 if d1 < 0.0 else 0.0)
    s_lo = s0 - 2.0 * dn
    s_hi = s0 + 2.0 * up
    if not s_lo > 0.0:
        return u1, u2, 0.0, math.inf
    h1 = 0.0
    h2 = 0.0
    if m1:
        h1, c1m, p1 = _ramp_integral(th1, a1, s_lo, V0, V1, T)
        if K1 * p1 > cap:
            return u1, u2, 0.0, math.inf
        h1 *= K1
    if m2:
        h2, c2m, p2 = _ramp_integral(th2, a2, s_lo, V0, V1, T)
        if K2 * p2 > cap:
            return u1, u2, 0.0, math.inf
        h2 *= K2
    # certified: the largest changes cannot carry s out of [s_lo, s_hi]
    dn = (D1 * h1 if d1 < 0.0 else 0.0) + (D2 * h2 if d1 > 0.0 else 0.0)
    up = (D1 * h1 if d1 > 0.0 else 0.0) + (D2 * h2 if d1 < 0.0 else 0.0)
    if not ((dn == 0.0 or dn < s0 - s_lo) and (up == 0.0 or up < s_hi - s0)):
        return u1, u2, 0.0, math.inf
    if (h1 > 0.0 and h1 >= ((1.0 - u1) if d1 > 0.0 else u1)) or (h2 > 0.0 and h2 >= ((1.0 - u2) if d1 < 0.0 else u2)):
        return u1, u2, 0.0, math.inf
    l1 = K1 * _ramp_integral(th1, a1, s_hi, V0, V1, T)[0] if m1 else 0.0
    l2 = K2 * _ramp_integral(th2, a2, s_hi, V0, V1, T)[0] if m2 else 0.0
    ratio = max((h1 - l1) / (atol + rtol * u1), (h2 - l2) / (atol + rtol * u2))
    if ratio > 1.0:
        return u1, u2, 0.0, ratio
    sm = s0 + 0.5 * d1 * (D1 * g1 - D2 * g2)
    e1 = min(max(K1 * _ramp_integral(th1, a1, sm, V0, V1, T)[0], l1), h1) if m1 else 0.0
    e2 = min(max(K2 * _ramp_integral(th2, a2, sm, V0, V1, T)[0], l2), h2) if m2 else 0.0
    return u1 + d1 * e1, u2 - d1 * e2, T * (V0 * V0 + V0 * V1 + V1 * V1) / (3.0 * sm), ratio


@njit(cache=True, _nrt=False)
def team_ramp_certified(P, kp, kn, single, u1, u2, V0, V1, T, cap, s1, s2, rtol, atol):
    """:func:`_ramp_bracket`, accepted when every bracket is within its tolerance.

    Returns (u1, u2, energy, ok); ok False: nothing done (the caller integrates the segment).
    A ramp whose ends differ by less than 1e-9 of its amplitude is refused: the bracket's time
    transform divides by V1 - V0 and loses such a ramp (hypothesis found one, 1 V to 1 V - 1 ulp
    with a device at its bound, certified 2.9e-5 off in u: tests/test_devices_flows.py)."""
    if abs(V1 - V0) <= 1e-9 * max(abs(V0), abs(V1)):
        return u1, u2, 0.0, False
    n1, n2, e, r = _ramp_bracket(P, kp, kn, single, u1, u2, V0, V1, T, cap, s1, s2, rtol, atol)
    if r <= 1.0:
        return n1, n2, e, True
    return u1, u2, 0.0, False


@njit(cache=True, _nrt=False)
def team_ramp_balanced(P, kp, kn, u1, u2, V0, V1, T, cap, s1, s2):
    """:func:`balanced_step` with the law of the pair's parameter rows (kp, kn).

    Returns (u1, u2, energy, ok); ok is False (nothing done) whenever the law is not balanced or the
    step refuses (a device reaching its bound, the rate cap binding), or a device is stuck."""
    if V0 * V1 < 0.0 or s1 or s2:
        return u1, u2, 0.0, False
    Vm = V0 if abs(V0) >= abs(V1) else V1
    if Vm == 0.0:
        return u1, u2, 0.0, False
    ok, K1, K2, th, ia, D1, D2, ron2 = balanced_law(P, kp, kn, 1.0 if Vm > 0.0 else -1.0)
    if not ok:
        return u1, u2, 0.0, False
    n1, n2, e, moved, ok = balanced_step(K1, K2, th, ia, D1, D2, ron2, u1, u2, V0, V1, T, cap)
    return n1, n2, e, ok


@njit(cache=True, _nrt=False)
def hp_pair(P, kp, kn, u1, u2, V0, V1, T, cap, s1, s2):
    """Exact PWL segment V0 -> V1 over an HP pair without window (linear drift, no threshold).

    u1' = k1·i, u2' = −k2·i and i = V/s, so s = R1 + R2 obeys s·s' = c·V with c = ±Δ1·k1 ∓ Δ2·k2 over
    the devices that move: s(t)² = s0² + 2·c·Φ(t), Φ = ∫V dt, charge q = (s − s0)/c (Φ/s0 for c = 0).
    Events (exact): the drive's zero crossing, a device reaching its bound (held there while the drive
    pushes outward; time from the quadratic Φ(t) = Φ_b).  Energy ∫V²/s dt by 5-point Gauss-Legendre
    on each piece of the exact trajectory.  A stuck device (s1/s2) is held throughout.

    Returns (u1, u2, energy, ok); ok is False (nothing done) only if the rate cap would bind."""
    k1 = P[kp, P_KUP]
    k2 = P[kn, P_KUP]
    D1 = P[kp, P_ROFF] - P[kp, P_RON]
    D2 = P[kn, P_ROFF] - P[kn, P_RON]
    r0 = P[kp, P_RON] + P[kn, P_RON]
    beta = (V1 - V0) / T
    tz = V0 / (V0 - V1) * T if V0 * V1 < 0.0 else T
    t = 0.0
    e = 0.0
    for piece in range(8):
        if t >= T:
            break
        tend = tz if t < tz else T
        vt = V0 + beta * t
        vmid = V0 + beta * 0.5 * (t + tend)
        if vmid == 0.0:
            t = tend
            continue
        sg = 1.0 if vmid > 0.0 else -1.0
        mv1 = not s1 and not ((sg > 0.0 and u1 >= 1.0) or (sg < 0.0 and u1 <= 0.0))
        mv2 = not s2 and not ((sg < 0.0 and u2 >= 1.0) or (sg > 0.0 and u2 <= 0.0))
        c = (D1 * k1 if mv1 else 0.0) - (D2 * k2 if mv2 else 0.0)
        s0 = r0 + D1 * u1 + D2 * u2
        h = tend - t
        phi_end = vt * h + 0.5 * beta * h * h
        # charge at the end of the piece, and the charges at which a mover reaches its bound
        if c == 0.0:
            q_end = phi_end / s0
        else:
            q_end = (math.sqrt(max(s0 * s0 + 2.0 * c * phi_end, 0.0)) - s0) / c
        qb = math.inf
        who = 0
        if mv1:
            q1 = ((1.0 - u1) if sg > 0.0 else -u1) / k1
            if abs(q1) < abs(qb):
                qb = q1
                who = 1
        if mv2:
            q2 = (u2 if sg > 0.0 else -(1.0 - u2)) / k2
            if abs(q2) < abs(qb):
                qb = q2
                who = 2
        if abs(qb) < abs(q_end):
            # Φ_b = q_b·(2·s0 + c·q_b)/2; solve vt·x + β·x²/2 = Φ_b for x in [0, h]
            phib = qb * (2.0 * s0 + c * qb) * 0.5
            # the root where V(t + x) = vt + β·x has the piece's sign sg; no cancellation in this form
            disc = max(vt * vt + 2.0 * beta * phib, 0.0)
            den = vt + sg * math.sqrt(disc)
            x = 2.0 * phib / den if den != 0.0 else h
            x = min(max(x, 0.0), h)
            q = qb
        else:
            x = h
            q = q_end
            who = 0
        s_end = s0 + c * q
        vmax = max(abs(vt), abs(vt + beta * x))
        if max(k1, k2) * vmax / min(s0, s_end) > cap:
            return u1, u2, 0.0, False
        # composite 5-point Gauss-Legendre: panels while s changes by more than ~2 % (error ~ 0.02^10)
        npan = min(64, 1 + int(50.0 * abs(s_end - s0) / min(s0, s_end)))
        hx = x / npan
        for pn in range(npan):
            for n in range(5):
                y = hx * (pn + GL_X[n])
                v = vt + beta * y
                phi = vt * y + 0.5 * beta * y * y
                sy = s0 if c == 0.0 else math.sqrt(max(s0 * s0 + 2.0 * c * phi, 1e-300))
                e += GL_W[n] * hx * v * v / sy
        if mv1:
            u1 = min(max(u1 + k1 * q, 0.0), 1.0)
        if mv2:
            u2 = min(max(u2 - k2 * q, 0.0), 1.0)
        if who == 1:
            u1 = 1.0 if sg > 0.0 else 0.0
        elif who == 2:
            u2 = 0.0 if sg > 0.0 else 1.0
        t = t + x if who != 0 else tend
    return u1, u2, e, True
