"""Independent reference for the device tests: each paper's equations in the paper's own variables.

Written from the papers (and MODELS.md), not from ``components/devices``: HP in w = x/D with the
paper's current i_HP (mssim's + terminal is the paper's − terminal, so i_HP = −i), TEAM/VTEAM in
metres, Yakopcic in the paper's x with V_paper = −v.  Nothing here imports the kernels, so a
slip in the kernels (an exponent, a window, a sign) shows up as a disagreement.

:func:`reference_states` integrates a piecewise-linear voltage waveform segment by segment with
scipy's DOP853 at tight tolerance and returns the paper state at every corner.  The device sits
at a hard bound when its rate pushes outward there (the papers' "x is bounded"), exactly what the
continuous models do; a state that reaches a bound is released as soon as the rate reverses.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from components.devices import HPParams, TEAMParams, VTEAMParams, YakopcicParams


# ----------------------------------------------------------------------------- HP (Strukov 2008)
def hp_window(p: HPParams, w: float, i_hp: float) -> float:
    """Window of Joglekar, Biolek or Prodromakis at paper state w for paper current i_HP."""
    if p.window == "none":
        return 1.0
    if p.window == "joglekar":          # Joglekar & Wolf 2009: 1 - (2w - 1)^(2p)
        return 1.0 - (2.0 * w - 1.0) ** (2 * p.p)
    if p.window == "biolek":            # Biolek 2009: 1 - (w - stp(-i))^(2p), stp(a) = 1 for a >= 0
        stp = 1.0 if -i_hp >= 0.0 else 0.0
        return 1.0 - (w - stp) ** (2 * p.p)
    if p.window == "prodromakis":       # Prodromakis 2011: j (1 - ((w - 0.5)^2 + 0.75)^p)
        return p.j * (1.0 - ((w - 0.5) ** 2 + 0.75) ** p.p)
    raise ValueError(p.window)


def hp_rate(p: HPParams, w: float, v: float) -> float:
    """dw/dt (1/s) for voltage v across mssim's (+, −) terminals."""
    r = p.r_on * w + p.r_off * (1.0 - w)
    i_hp = -v / r
    k = p.mu_v * p.r_on / p.d ** 2
    return k * i_hp * hp_window(p, w, i_hp)


# ----------------------------------------------------------------------------- TEAM / VTEAM (Kvatinsky 2013, 2015)
def team_resistance(p: TEAMParams, x: float) -> float:
    s = (x - p.x_on) / (p.x_off - p.x_on)
    if p.iv == "linear":
        return p.r_on + (p.r_off - p.r_on) * s
    return p.r_on * math.exp(math.log(p.r_off / p.r_on) * s)


def team_rate(p: TEAMParams, x: float, v: float) -> float:
    """dx/dt (m/s): thresholds on the current (TEAM) or on the voltage (VTEAM)."""
    i = v / team_resistance(p, x)
    if isinstance(p, VTEAMParams):
        d, th_on, th_off = v, p.v_on, p.v_off
    else:
        d, th_on, th_off = i, p.i_on, p.i_off
    kv = p.window == "kvatinsky"
    if d > th_off:
        f = math.exp(-math.exp((x - p.a_off) / p.w_c)) if kv else 1.0
        return p.k_off * (d / th_off - 1.0) ** p.alpha_off * f
    if d < th_on:
        f = math.exp(-math.exp(-(x - p.a_on) / p.w_c)) if kv else 1.0
        return p.k_on * (d / th_on - 1.0) ** p.alpha_on * f
    return 0.0


# ----------------------------------------------------------------------------- Yakopcic (EDL 2011)
def yakopcic_current(p: YakopcicParams, x: float, v: float) -> float:
    """Current into mssim's + terminal (the paper's I with V = −v, sign flipped)."""
    vp = -v
    a = p.a1 if vp >= 0 else p.a2
    return -a * x * math.sinh(p.b * vp)


def yakopcic_rate(p: YakopcicParams, x: float, v: float) -> float:
    """dx/dt (1/s) of the paper's x for mssim voltage v."""
    V = -v
    if V > p.vp:
        g = p.ap * (math.exp(V) - math.exp(p.vp))
    elif V < -p.vn:
        g = -p.an * (math.exp(-V) - math.exp(p.vn))
    else:
        g = 0.0
    if p.eta * g > 0:
        f = math.exp(-p.alphap * (x - p.xp)) * ((p.xp - x) / (1 - p.xp) + 1) if x >= p.xp else 1.0
    else:
        f = math.exp(p.alphan * (x + p.xn - 1)) * (x / (1 - p.xn)) if x <= 1 - p.xn else 1.0
    return p.eta * g * f


# ----------------------------------------------------------------------------- driver
def _model(p):
    """(rate(x, v), lower bound, upper bound) in the paper's state."""
    if isinstance(p, HPParams):
        return (lambda x, v: hp_rate(p, x, v)), 0.0, 1.0
    if isinstance(p, TEAMParams):
        return (lambda x, v: team_rate(p, x, v)), p.x_on, p.x_off
    if isinstance(p, YakopcicParams):
        return (lambda x, v: yakopcic_rate(p, x, v)), 0.0, 1.0
    raise TypeError(type(p).__name__)


def reference_states(p, x0: float, times, volts, rtol: float = 1e-10) -> np.ndarray:
    """Paper state at every corner of the PWL voltage waveform (times, volts), from x0."""
    rate, lo, hi = _model(p)
    span = hi - lo

    def rhs(t, y, t0, dt, v0, v1):
        x = min(max(y[0], lo), hi)
        v = v0 + (v1 - v0) * (t - t0) / dt
        r = rate(x, v)
        if (x <= lo and r < 0) or (x >= hi and r > 0):
            r = 0.0
        return [r]

    out = np.empty(len(times))
    out[0] = x = float(x0)
    for k in range(1, len(times)):
        t0, t1 = float(times[k - 1]), float(times[k])
        v0, v1 = float(volts[k - 1]), float(volts[k])
        if rate(x, v0) != 0.0 or rate(x, v1) != 0.0 or (v0 > 0) != (v1 > 0):
            sol = solve_ivp(rhs, (t0, t1), [x], method="DOP853", rtol=rtol, atol=1e-13 * span,
                            args=(t0, t1 - t0, v0, v1))
            x = min(max(sol.y[0, -1], lo), hi)
        out[k] = x
    return out


def trapezoid_train(amplitudes, width, edge, gap=None):
    """Corners (times, volts) of trapezoid pulses with 0 V gaps and the index of each pulse's end."""
    gap = width if gap is None else gap
    t, v, ends = [0.0], [0.0], []
    for a in amplitudes:
        t += [t[-1] + edge, t[-1] + edge + width, t[-1] + 2 * edge + width]
        v += [a, a, 0.0]
        ends.append(len(t) - 1)
        t.append(t[-1] + gap)
        v.append(0.0)
    return np.array(t), np.array(v), np.array(ends)


def sine_wave(amplitude, freq, cycles, per_cycle=400):
    """Corners of a sinusoid sampled per_cycle times per cycle (linear between samples)."""
    t = np.linspace(0.0, cycles / freq, cycles * per_cycle + 1)
    return t, amplitude * np.sin(2 * np.pi * freq * t)
