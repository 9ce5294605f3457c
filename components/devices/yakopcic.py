"""Exact flows of Yakopcic devices: single devices in closed form, the voltage split of a series pair
without iteration.

Single device.  mssim's state is u = 1 − x (terminals flipped, :func:`components.devices.kernels.dudt`);
the law dx/dt = η·g(V)·f(x) separates.  Under a voltage of one sign, the motion goes one way only
and in the distance to the bound it moves toward, z (z = 1 − x = u when η·g > 0, x grows; z = x = 1 − u
when η·g < 0, x falls), both windows take one form:

    dz/dτ = −φ(z),  τ = ∫|g| dt,   φ(z) = 1 for z > z0,  e^{−α(z0 − z)}·z/z0 for z <= z0

(z0 = 1 − x_p, α = α_p, resp. z0 = 1 − x_n, α = α_n).  Its flow is G(z_end) = G(z_start) − τ with
G(z) = ∫dz/φ = z above z0 and z0 − K0·(E1(α z) − E1(α z0)) below it (K0 = z0·e^{α z0}, E1 the
exponential integral: :func:`exp1`, power series up to 1, a table of Taylor expansions to 33, a continued
fraction above; 3e-15 of scipy).  In L = ln(α z) the flow is dL/dσ = −e^{αz}, σ = τ/K0: a short move is
its third-order expansion in σ, taken where the Lagrange bound on the rest is below 1e-16 (no E1 at all:
the benchmark's edges); a longer one is Newton on E1(α z_end) = E1(α z_start) + σ in ln y from that
expansion (E1 is convex and decreasing in ln y: the iteration ends monotonically at the root; one step
suffices, by the bound, where the expansion is within 1e-8).  The state is held at the integrator's
bounds (kernels._bounds) when the flow would pass them.  τ over a flat top or a linear ramp (the part
beyond the threshold) is closed form: g = A·e^{V_th}·(e^w − 1), w = |V| − V_th.

Energy, v·i = a·v·sinh(b·v)·x(t):

* flat top: exact, ∫x dt in closed form along the trajectory (dt = −dz/(|g| φ); ∫z dz/φ is elementary);
* ramp: x(t) as its Taylor expansion in τ(t) about the start (second order where the motion stays in
  the exponential region, first order across z0 or in the linear region, where it is exact), the moments
  ∫p·τ^k dt by 5-point Gauss-Legendre, and the Lagrange remainder bounded by the sup of |d^n z/dτ^n| over
  the states passed; the ramp is certified when that bound is within 1e-9 of the segment's energy,
  otherwise refused (the caller integrates).

Refused as well (the caller integrates, path counter: fallback): the rate cap could bind anywhere on the
segment (η·max|g| > cap; f <= 1), a ramp through 0 V, α·z0 > 600 (overflow), Newton failing to converge.

Pair.  The current through a series pair solves a_p·x_p·sinh(b·v_p) = a_n·x_n·sinh(b·(v − v_p)); with
the two devices' b equal (as every preset has) tanh(b·v_p) = c_n·sinh(b v)/(c_p + c_n·cosh(b v)) in
closed form (:func:`yak_pair_split`, written without cancellation: one expm1, one log1p and one sqrt
instead of the Newton iteration with its sinh and cosh; a Dormand-Prince step of a pair went from 2.5 us
to 0.42 us, benchmarks/device_step_floor.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .params import Y_A1, Y_A2, Y_ALN, Y_ALP, Y_AN, Y_AP, Y_B, Y_ETA, Y_VN, Y_VP, Y_XN, Y_XP

EULER = 0.57721566490153286061
GL_X = (0.04691007703066800, 0.23076534494715845, 0.5, 0.76923465505284155, 0.95308992296933200)
GL_W = (0.11846344252809454, 0.23931433524968324, 0.28444444444444444, 0.23931433524968324, 0.11846344252809454)
CERT_REL = 1e-9       # a ramp's energy remainder bound, relative to the segment's energy
ALZ_MAX = 600.0       # α·z0 above this: refused (e^{α z0} overflows)

# flow codes (the caller maps them to the path counter)
FLOW_NONE, FLOW_REFUSED, FLOW_EXACT, FLOW_CERTIFIED = -1, 0, 1, 2


@njit(cache=True, _nrt=False, inline="always")
def _e1_cf(x, tol, nmax):
    """E1(x) for x > 1 by the modified Lentz continued fraction, stopped when a factor is within ``tol``
    of 1 (or after ``nmax`` terms): :func:`exp1` above the table, and (``py_func``, plain Python, to
    1e-17) the table's cell values."""
    b = x + 1.0
    c = 1e300
    d = 1.0 / b
    h = d
    for i in range(1, nmax):
        an = -float(i * i)
        b += 2.0
        d = 1.0 / (an * d + b)
        c = b + an / c
        de = c * d
        h *= de
        if abs(de - 1.0) <= tol:
            break
    return h * math.exp(-x)


# E1 on (1, TAB_HI]: Taylor expansions about the centres x0 = 1 + TAB_H·(i + ½), |x − x0| <= TAB_H/2:
# E1(x0 + h) = E1(x0) − e^{−x0}·Σ_m c_m h^{m+1}/(m+1), c_m = (−1)^m Σ_{j<=m} x0^{−j−1}/(m − j)! (the
# series of e^{−t}/(x0 + t)); |c_m| <= e/x0 <= e, so the terms after TAB_M fall below e·(1/8)^{TAB_M+1}
# relative to e^{−x0}/x0 (x0 >= 1): ~1e-17 for TAB_M = 18.
TAB_H = 0.25
TAB_N = 128
TAB_M = 19
TAB_HI = 1.0 + TAB_H * TAB_N


def _e1_table():
    tab = np.zeros((TAB_N, TAB_M + 1))
    for i in range(TAB_N):
        x0 = 1.0 + TAB_H * (i + 0.5)
        ex = math.exp(-x0)
        tab[i, 0] = getattr(_e1_cf, "py_func", _e1_cf)(x0, 1e-17, 1000)  # plain Python, also without JIT
        for m in range(TAB_M):
            cm = sum(x0 ** (-j - 1) / math.factorial(m - j) for j in range(m + 1)) * (-1.0) ** m
            tab[i, m + 1] = -ex * cm / (m + 1)
    return tab


E1_TAB = _e1_table()
# power series: E1(x) = −γ − ln x − Σ_k (−x)^k/(k·k!), k <= SER_K (x <= 1: the next term < 1e-17)
SER_K = 19
SER_C = np.array([(-1.0) ** k / (k * math.factorial(k)) for k in range(1, SER_K + 1)])


@njit(cache=True, _nrt=False)
def exp1(x):
    """The exponential integral E1(x) = ∫_x^∞ e^{−t}/t dt for x > 0 (inf at 0): its power series for
    x <= 1, the Taylor table E1_TAB on (1, TAB_HI], the modified Lentz continued fraction above;
    within ~1e-15 relative of scipy.special.exp1 (tests/test_devices_yakopcic_flow.py)."""
    if x <= 0.0:
        return math.inf
    if x <= 1.0:
        s = 0.0
        for k in range(SER_K - 1, -1, -1):
            s = s * x + SER_C[k]
        return -EULER - math.log(x) - s * x
    if x <= TAB_HI:
        i = min(int((x - 1.0) / TAB_H), TAB_N - 1)
        h = x - (1.0 + TAB_H * (i + 0.5))
        s = 0.0
        for m in range(TAB_M, 0, -1):
            s = s * h + E1_TAB[i, m]
        return E1_TAB[i, 0] + s * h
    return _e1_cf(x, 2e-16, 500)


@njit(cache=True, _nrt=False)
def flow_z(zs, tau, z0, al):
    """The end of dz/dτ = −φ(z) after τ >= 0 from zs (φ = 1 above z0, e^{−α(z0 − z)}·z/z0 below).
    Returns -1.0 if Newton does not converge (the caller refuses)."""
    return _flow(zs, tau, z0, al)[0]


@njit(cache=True, _nrt=False)
def _flow(zs, tau, z0, al):
    """:func:`flow_z` and the motion below z0, min(zs, z0) − z_end, to full relative precision (from the
    change of ln z; the difference of the rounded states loses it for short moves).

    Below z0, in L = ln y, y = α z, and σ = τ/K0: dL/dσ = −e^y, so with ε = σ·e^{y_s}
    L = L_s − ε + y_s ε²/2 − (1 + 2y_s)·y_s ε³/6 + R, |R| <= ε⁴/24·y_s(1 + 7y_s + 6y_s²) (d⁴L/dσ⁴ =
    y(1 + 7y + 6y²)e^{4y}, y falls along the flow).  Where that bound is below 1e-16 the expansion is
    the answer (short moves: no E1 at all); otherwise it starts Newton on E1(y) = D."""
    if zs <= 0.0 or tau <= 0.0:
        return zs, 0.0
    if zs > z0:
        if tau <= zs - z0:
            return zs - tau, 0.0
        tau -= zs - z0
        zs = z0
    ys = al * zs
    q = tau / z0
    eps = q * math.exp(al * (zs - z0))
    dl = -eps + eps * eps * (0.5 * ys - (1.0 + 2.0 * ys) * ys * eps / 6.0)
    rb = eps * eps * eps * eps * ys * (1.0 + 7.0 * ys + 6.0 * ys * ys) / 24.0  # bound on |R|
    if rb <= 1e-16:
        return zs * math.exp(dl), -zs * math.expm1(dl)
    D = exp1(ys) + q * math.exp(-al * z0)   # E1(α z_end) = E1(α z_start) + τ/K0
    if D > 30.0:  # y < 1e-13: E1(y) = −γ − ln y + y + O(y²)
        ze = math.exp(-D - EULER) / al
        return ze, zs - ze
    lmin = -D - EULER  # left of the root (E1(y) > −γ − ln y)
    one = eps < 0.3 and ys * rb * rb <= 1e-16
    ls = math.log(ys)
    L = ls + (dl if eps < 0.3 else -eps)
    if L < lmin:
        L = lmin
    for it in range(100):
        y = math.exp(L)
        ey = math.exp(y)
        step = (exp1(y) - D) * ey
        L += step
        if L < lmin:
            L = lmin
        a = abs(step)
        # Newton's error after the step: <= y/2·(error before)² (E1 convex in ln y, (d²E1/dL²)/(dE1/dL)
        # = −y, y at most y_s): from the expansion's bound rb, or ~ y/2·step²; or the step is round-off
        if (it == 0 and one) or a <= 1e-9 / max(1.0, math.sqrt(y)) or a <= 8e-16 * (1.0 + D * ey):
            return math.exp(L) / al, -zs * math.expm1(L - ls)
    return -1.0, 0.0


@njit(cache=True, inline="always")
def _sinh(x):
    """sinh(x): odd polynomial for |x| <= 0.5 (error < 1e-16 relative), expm1 above."""
    ax = abs(x)
    if ax <= 0.5:
        x2 = x * x
        return x * (1.0 + x2 * (1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (1.0 / 5040.0 + x2 * (
            1.0 / 362880.0 + x2 * (1.0 / 39916800.0 + x2 / 6227020800.0))))))
    em = math.expm1(ax)
    r = em * (em + 2.0) / (2.0 * (em + 1.0))
    return r if x > 0.0 else -r


@njit(cache=True, inline="always")
def frozen_energy(P, k, x, v0, v1, T):
    """Energy (J) of device k held at x under v0 -> v1 over T (no zero crossing): 5-point Gauss-Legendre."""
    a = P[k, Y_A1] if (v0 if abs(v0) >= abs(v1) else v1) <= 0.0 else P[k, Y_A2]
    b = P[k, Y_B]
    e = 0.0
    for q in range(5):
        vv = v0 + (v1 - v0) * GL_X[q]
        e += GL_W[q] * vv * _sinh(b * vv)
    return a * x * e * T


INV_F2 = np.array([1.0 / math.factorial(j + 2) for j in range(17)])  # 1/(j+2)!


@njit(cache=True, inline="always")
def _em1_mean(w1, w2):
    """Mean of e^w − 1 over [w1, w2] (either order), without cancellation for w >= 0."""
    lo = min(w1, w2)
    d = abs(w2 - w1)
    if d == 0.0:
        return math.expm1(lo)
    if d < 1.0:
        # E(d) − 1 = (e^d − 1 − d)/d = Σ_{k>=1} d^k/(k+1)!  (the next term < 1e-17)
        r = 0.0
        for j in range(16, -1, -1):
            r = r * d + INV_F2[j]
        r *= d
        E = 1.0 + r
    else:
        E = math.expm1(d) / d
        r = E - 1.0
    if lo == 0.0:
        return r
    return math.expm1(lo) * E + r


@njit(cache=True, inline="always")
def _phi(z, z0, al):
    if z >= z0:
        return 1.0
    return math.exp(-al * (z0 - z)) * z / z0


@njit(cache=True, _nrt=False)
def _tau_to(zs, zb, z0, al):
    """τ = G(zs) − G(zb) for zb <= zs: the drive integral that takes the state from zs to zb."""
    if zb >= z0:
        return zs - zb
    t = 0.0
    if zs > z0:
        t = zs - z0
        zs = z0
    # K0·(E1(α zb) − E1(α zs)), K0 = z0·e^{α z0}
    return t + z0 * math.exp(al * z0) * (exp1(al * zb) - exp1(al * zs))


@njit(cache=True, _nrt=False)
def yak_flow1(P, k, u, v0, v1, T, cap, lo, hi):
    """One Yakopcic device under the voltage ramp v0 -> v1 (V, mssim's terminals) over T (s) from state u
    in [lo, hi] (the integrator's bounds, kernels._bounds; a state reaching one is held there).  Returns
    (u_end, energy, code): FLOW_NONE (no motion anywhere: the state held, the energy of the held state),
    FLOW_REFUSED (the caller integrates), FLOW_EXACT (flat top) or FLOW_CERTIFIED (ramp)."""
    if v0 * v1 < 0.0:
        return u, 0.0, FLOW_REFUSED
    vm = v0 if abs(v0) >= abs(v1) else v1
    if vm == 0.0:
        return u, 0.0, FLOW_NONE
    V = -vm  # paper's orientation
    if V > 0.0:
        th = P[k, Y_VP]
        A = P[k, Y_AP]
        gs = 1.0
    else:
        th = P[k, Y_VN]
        A = P[k, Y_AN]
        gs = -1.0
    w0 = abs(v0) - th
    w1 = abs(v1) - th
    if w0 <= 0.0 and w1 <= 0.0:
        return u, frozen_energy(P, k, 1.0 - u, v0, v1, T), FLOW_NONE
    C = A * math.exp(th)
    eta = P[k, Y_ETA]
    if abs(eta) * C * math.expm1(max(w0, w1)) > cap:  # |du/dt| <= |η g| (f <= 1): the cap could bind
        return u, 0.0, FLOW_REFUSED
    if eta * gs > 0.0:  # x grows toward 1: z = 1 − x = u
        z0 = 1.0 - P[k, Y_XP]
        al = P[k, Y_ALP]
        zs = u
        zmin = lo
        up = True
    else:  # x falls toward 0: z = x
        z0 = 1.0 - P[k, Y_XN]
        al = P[k, Y_ALN]
        zs = 1.0 - u
        zmin = 1.0 - hi
        up = False
    if zs <= zmin:  # at the bound, pushed outward
        return u, frozen_energy(P, k, 1.0 - u, v0, v1, T), FLOW_NONE
    if al * z0 > ALZ_MAX:
        return u, 0.0, FLOW_REFUSED
    a = P[k, Y_A1] if vm <= 0.0 else P[k, Y_A2]
    b = P[k, Y_B]
    if v0 == v1:
        sabs = C * math.expm1(w0)
        ze, dzx = _flow(zs, sabs * T, z0, al)
        if ze < 0.0:
            return u, 0.0, FLOW_REFUSED
        Tm = T  # time in motion; held at the bound after it
        if ze <= zmin:
            ze = zmin
            dzx = min(zs, z0) - zmin
            Tm = min(_tau_to(zs, zmin, z0, al) / sabs, T)
        # ∫z dt along the trajectory, dt = −dz/(|g|·φ(z))
        if ze >= z0:  # linear throughout: x linear in t
            ix = Tm * ((1.0 - zs) + (1.0 - ze)) * 0.5 if up else Tm * (zs + ze) * 0.5
        else:
            tlin = 0.0
            ilin = 0.0
            ilinx = 0.0
            if zs > z0:
                tlin = (zs - z0) / sabs
                ilin = tlin * (zs + z0) * 0.5
                ilinx = tlin * ((1.0 - zs) + (1.0 - z0)) * 0.5
            iexp = z0 / (al * sabs) * math.exp(al * (z0 - ze)) * (-math.expm1(-al * dzx))  # dzx = za − ze
            if up:
                ix = ilinx + (Tm - tlin) - iexp
            else:
                ix = ilin + iexp
        ix += (1.0 - ze if up else ze) * (T - Tm)
        e = a * vm * _sinh(b * vm) * ix
        return ze if up else 1.0 - ze, e, FLOW_EXACT
    # ramp: the part beyond the threshold is [ta, tb] (the drive's magnitude is monotone)
    if w0 >= 0.0 and w1 >= 0.0:
        ta, tb = 0.0, T
        wa, wb = w0, w1
    elif w0 < 0.0:  # rising through the threshold at tc
        ta, tb = T * (-w0) / (w1 - w0), T
        wa, wb = 0.0, w1
    else:  # falling through it
        ta, tb = 0.0, T * w0 / (w0 - w1)
        wa, wb = w0, 0.0
    Tp = tb - ta
    tau = C * Tp * _em1_mean(wa, wb)
    ze = flow_z(zs, tau, z0, al)
    if ze <= zmin:  # reaches the bound (or Newton failed)
        return u, 0.0, FLOW_REFUSED
    xs = 1.0 - zs if up else zs
    xe = 1.0 - ze if up else ze
    # moments ∫p τ^n dt over the part (p = a v sinh(b v), τ from the part's start), and ∫p over the rest
    dv = (v1 - v0) / T
    p0 = 0.0
    p1 = 0.0
    p2 = 0.0
    p3 = 0.0
    pf = 0.0
    Tf = T - Tp
    for q in range(5):
        s = GL_X[q]
        t = ta + s * Tp
        vv = v0 + dv * t
        pq = GL_W[q] * a * vv * _sinh(b * vv)
        if wb == 0.0:  # falling to the threshold: τ(t) = τ_total − (τ from t to the part's end), no expm1
            tq = tau - C * (1.0 - s) * Tp * _em1_mean(0.0, wa * (1.0 - s))
        else:
            tq = C * s * Tp * _em1_mean(wa, wa + (wb - wa) * s)
        p0 += pq
        p1 += pq * tq
        p2 += pq * tq * tq
        p3 += pq * tq * tq * tq
        if Tf > 0.0:
            tf = (s * Tf) if ta > 0.0 else (tb + s * Tf)
            vf = v0 + dv * tf
            pf += GL_W[q] * a * vf * _sinh(b * vf)
    p0 *= Tp
    p1 *= Tp
    p2 *= Tp
    p3 *= Tp
    pf *= Tf
    ef = pf * (xs if ta > 0.0 else xe)
    sg = 1.0 if up else -1.0  # x = xs − sg·(z − zs)
    if zs > z0 and ze >= z0:  # linear: z = zs − τ, exact
        ep = xs * p0 + p1 * (1.0 if up else -1.0)
        rem = 0.0
    elif zs > z0:  # across z0: first order (z' = −1 at the start), |z''| <= φ²(α + 1/z) <= α + 1/ze
        ep = xs * p0 + p1 * (1.0 if up else -1.0)
        rem = 0.5 * (al + 1.0 / ze) * abs(p2)
    else:  # exponential region: second order, |z'''| <= φ³·(2α² + 4α/z + 1/z²)
        ph = _phi(zs, z0, al)
        z1 = -ph
        z2 = ph * ph * (al + 1.0 / zs)
        ep = xs * p0 - sg * (z1 * p1 + 0.5 * z2 * p2)
        rem = ph * ph * ph * (2.0 * al * al + 4.0 * al / ze + 1.0 / (ze * ze)) * abs(p3) / 6.0
    e = ep + ef
    if not rem <= CERT_REL * abs(e):
        return u, 0.0, FLOW_REFUSED
    return ze if up else 1.0 - ze, e, FLOW_CERTIFIED


@njit(cache=True, inline="always")
def yak_pair_split(P, kp, kn, up, un, v):
    """(current into + of kp, voltage across kp, ok) of a Yakopcic pair under total voltage v, in closed
    form when both devices have the same b (ok False otherwise: the caller iterates)."""
    if v == 0.0:
        return 0.0, 0.0, True
    b = P[kp, Y_B]
    if P[kn, Y_B] != b:
        return 0.0, 0.0, False
    xp = 1.0 - up
    xn = 1.0 - un
    if v > 0.0:
        cp = P[kp, Y_A2] * xp
        cn = P[kn, Y_A1] * xn
        av = v
    else:
        cp = P[kp, Y_A1] * xp
        cn = P[kn, Y_A2] * xn
        av = -v
    bv = b * av
    if not (bv <= 300.0 and cp >= 0.0 and cn >= 0.0):
        return 0.0, 0.0, False
    # tanh(b v_p) = t = c_n sinh(bv)/(c_p + c_n cosh(bv)); 1 − t and 1 + t are (c_p + c_n e^{∓bv})/(c_p +
    # c_n cosh(bv)), so atanh(t) = ½ log1p(2 c_n sinh(bv)/(c_p + c_n e^{−bv})) and sinh(b v_p) =
    # t/√((1 − t)(1 + t)) = c_n sinh(bv)/√((c_p + c_n e^{−bv})(c_p + c_n e^{bv})): no cancellation
    em = math.expm1(bv)
    ep = em + 1.0
    S = em * (em + 2.0) / (2.0 * ep)
    lo = cp + cn / ep
    if not lo > 0.0:
        return 0.0, 0.0, False
    vp = 0.5 * math.log1p(2.0 * cn * S / lo) / b
    i = cp * (cn * S / math.sqrt(lo * (cp + cn * ep)))
    if v > 0.0:
        return i, vp, True
    return -i, -vp, True
