"""Closed forms of the four synaptic units (ideal lines, r_line = 0).

Every function works on conductances ``g`` of shape ``(k, n_in, n_out)`` (device
slot first) so open devices (g = 0) never produce NaN.  ``v`` is the row input
voltage, shape ``(n_in,)``.  Orientation of every device (its + terminal) is
fixed here and in docs/synapses.md; a device voltage is V(+) − V(−).

pair          +V_in ─(+)M1(−)─ mid ─(−)M2(+)─ −V_in ;  mid ─ R_in ─ summing node (0 V)
differential  +V_in ─(+)M1(−)─ col ;  −V_in ─(+)M2(−)─ col          (col = virtual ground)
bridge        V_in ─(+)M1(−)─ A ─(−)M2(+)─ 0 ;  V_in ─(+)M3(−)─ B ─(−)M4(+)─ 0 ;
              ideal differential amp: (V_A − V_B) ─ R_in ─ summing node
reference     +V_in ─(+)M(−)─ col ;  reference column: I_ref = V_in·g_ref subtracted
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..devices import kernels as K


def _safe_div(a, b):
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


@dataclass(frozen=True)
class Topology:
    """Static description of one unit type."""

    name: str
    n_dev: int
    write_pairs: tuple  # ((pos_slot, neg_slot), ...) driven by apply_pair
    write_single: tuple  # slots driven alone by apply_voltage
    state_dependent_read: bool  # device read voltages depend on the states (loaded nodes)
    uses_minus_line: bool


PAIR = Topology("pair", 2, ((0, 1),), (), True, True)
DIFFERENTIAL = Topology("differential", 2, ((0, 1),), (), False, True)
BRIDGE = Topology("bridge", 4, ((0, 1), (3, 2)), (), True, True)
REFERENCE = Topology("reference", 1, (), (0,), False, False)
TOPOLOGIES = {t.name: t for t in (PAIR, DIFFERENTIAL, BRIDGE, REFERENCE)}


UNIT_CODES = {"pair": 0, "differential": 1, "bridge": 2, "reference": 3}


@njit(cache=True)
def _sdiv(a, b):
    return a / b if b != 0.0 else 0.0


@njit(cache=True)
def _unit_terms(code, g, r_in, g_ref, buffered, by_current, G, usrc, dvc, Q, amax, amin):
    """Every read quantity of a layer of units in one pass (the closed forms of this module).

    For conductances ``g`` (k, n_in, n_out): transfer conductance ``G`` and Norton conductance
    ``usrc`` per unit; ``dvc`` (k, n_in, n_out), the voltage across each device per volt of its
    row input; ``Q`` (n_in), the read power per volt² of each row (devices plus R_in or the
    reference column); ``amax``/``amin`` (n_in), the extremes over the row's devices of the
    threshold quantity per volt: ``dvc`` (voltage thresholds) or ``dvc·g`` (current thresholds).
    """
    k, n_in, n_out = g.shape
    for i in range(n_in):
        q = 0.0
        hi = -math.inf
        lo = math.inf
        for j in range(n_out):
            if code == 0:  # pair: +V ─M1─ mid ─M2─ −V, mid ─ R_in ─ summing node
                g1, g2 = g[0, i, j], g[1, i, j]
                s = g1 + g2
                if buffered:
                    w = _sdiv(g1 - g2, s)
                    Gu = w / r_in
                    us = 1.0 / r_in
                    vmid = w
                else:
                    Gu = (g1 - g2) / (1.0 + r_in * s)
                    us = s / (1.0 + r_in * s)
                    vmid = Gu * r_in
                dvc[0, i, j] = 1.0 - vmid
                dvc[1, i, j] = -1.0 - vmid
                load = Gu * Gu * r_in
            elif code == 1:  # differential into a virtual ground
                g1, g2 = g[0, i, j], g[1, i, j]
                Gu = g1 - g2
                us = g1 + g2
                dvc[0, i, j] = 1.0
                dvc[1, i, j] = -1.0
                load = 0.0
            elif code == 2:  # bridge with an ideal differential amplifier into R_in
                va = _sdiv(g[0, i, j], g[0, i, j] + g[1, i, j])
                vb = _sdiv(g[2, i, j], g[2, i, j] + g[3, i, j])
                Gu = (va - vb) / r_in
                us = 1.0 / r_in
                dvc[0, i, j] = 1.0 - va
                dvc[1, i, j] = -va
                dvc[2, i, j] = 1.0 - vb
                dvc[3, i, j] = -vb
                load = Gu * Gu * r_in
            else:  # reference column
                Gu = g[0, i, j] - g_ref
                us = g[0, i, j]
                dvc[0, i, j] = 1.0
                load = 0.0
            G[i, j] = Gu
            usrc[i, j] = us
            q += load
            for d in range(k):
                c = dvc[d, i, j]
                q += g[d, i, j] * c * c
                a = c * g[d, i, j] if by_current else c
                if a > hi:
                    hi = a
                if a < lo:
                    lo = a
        if code == 3:
            q += g_ref  # one reference column per row, shared by every neuron
        Q[i] = q
        amax[i] = hi
        amin[i] = lo


@njit(cache=True)
def _state_terms(model, P, U, flags, v_read, code, r_in, g_ref, buffered, by_current, g, G, usrc, dvc, Q, amax, amin,
                 gsrc):
    """A crossbar's read state in one call: device conductances ``g`` (flat, slot-major: the
    device kernels' resistance, inverted), the :func:`_unit_terms` of them, and the source
    conductance per column ``gsrc`` (the column sums of ``usrc``, row by row)."""
    K.resistances(model, P, U, flags, v_read, g)
    for i in range(g.size):
        g[i] = 1.0 / g[i]
    k = dvc.shape[0]
    n_in, n_out = G.shape
    _unit_terms(code, g.reshape((k, n_in, n_out)), r_in, g_ref, buffered, by_current, G, usrc, dvc, Q, amax, amin)
    for j in range(n_out):
        gsrc[j] = usrc[0, j]
    for i in range(1, n_in):
        for j in range(n_out):
            gsrc[j] += usrc[i, j]


def unit_terms(name: str, g: np.ndarray, r_in: float, g_ref: float, buffered: bool = False,
               by_current: bool = False):
    """``(G, usrc, dvc, Q, amax, amin)`` of :func:`_unit_terms` for unit type ``name``."""
    g = np.ascontiguousarray(g, dtype=float)
    k, n_in, n_out = g.shape
    G = np.empty((n_in, n_out))
    usrc = np.empty((n_in, n_out))
    dvc = np.empty((k, n_in, n_out))
    Q = np.empty(n_in)
    amax = np.empty(n_in)
    amin = np.empty(n_in)
    _unit_terms(UNIT_CODES[name], g, float(r_in), float(g_ref or 0.0), bool(buffered), bool(by_current), G, usrc,
                dvc, Q, amax, amin)
    return G, usrc, dvc, Q, amax, amin


# ----------------------------------------------------------------------------- read
def gain(name: str, g: np.ndarray, r_in: float, g_ref: float, buffered: bool = False) -> np.ndarray:
    """Short-circuit transfer conductance (S): out_j = Σ_i v_i·G_ij into a 0 V summing node.

    pair ``w/(R_th + R_in)`` with ``w = (g1-g2)/(g1+g2)``, ``R_th = 1/(g1+g2)``; ``buffered`` (pair
    only): the middle node drives R_in through an ideal follower, ``G = w/R_in``; differential
    ``g1 - g2``; bridge ``(g1/(g1+g2) - g3/(g3+g4))/R_in``; reference ``g - g_ref``.
    """
    return unit_terms(name, g, r_in, g_ref, buffered)[0]


def source_conductance(name: str, g: np.ndarray, r_in: float, buffered: bool = False) -> np.ndarray:
    """Norton conductance each unit presents to the summing node (S)."""
    return unit_terms(name, g, r_in, 0.0, buffered)[1]


def device_voltages(name: str, g: np.ndarray, v: np.ndarray, r_in: float, G: np.ndarray | None = None,
                    buffered: bool = False) -> np.ndarray:
    """Voltage across every device, shape ``(k, n_in, n_out)``, for row inputs ``v`` (loaded nodes).

    ``G`` (pair, unbuffered): the transfer conductance that sets the middle node (default: the
    devices' own)."""
    v = np.asarray(v, dtype=float)
    if name == "pair" and not buffered and G is not None:
        vc = v[:, None]
        vmid = vc * G * r_in  # current into the summing node times R_in
        return np.stack((vc - vmid, -vc - vmid))
    dvc = unit_terms(name, g, r_in, 0.0, buffered)[2]
    return dvc * v[None, :, None]


def load_power(name: str, g: np.ndarray, v: np.ndarray, r_in: float, g_ref: float, G: np.ndarray | None = None,
               buffered: bool = False) -> float:
    """Power (W) dissipated outside the devices at input ``v``: R_in, the reference column."""
    v = np.asarray(v, dtype=float)
    return float(np.dot(load_power_rows(name, g, r_in, g_ref, G, buffered), v * v))


def load_power_rows(name: str, g: np.ndarray, r_in: float, g_ref: float, G: np.ndarray | None = None,
                    buffered: bool = False) -> np.ndarray:
    """Per-row coefficients ``c_i`` (W/V²) with :func:`load_power` ``= Σ_i c_i·v_i²`` (the non-device
    power is a sum of per-row squares for every unit)."""
    if G is not None and name in ("pair", "bridge"):  # an explicit transfer conductance (R_in carries v·G)
        return np.sum(G * G, axis=1) * r_in
    _, _, dvc, Q, _, _ = unit_terms(name, g, r_in, g_ref, buffered)
    return Q - np.sum(np.asarray(g) * dvc * dvc, axis=(0, 2))


# ----------------------------------------------------------------------------- weights
def weights(name: str, g: np.ndarray, g_lo: float, g_hi: float, g_ref: float) -> np.ndarray:
    """Normalised weight from the states (``g_lo``/``g_hi`` nominal OFF/ON conductances).

    pair: (M2 − M1)/(M1 + M2); bridge: M2/(M1+M2) − M4/(M3+M4);
    differential: (G1 − G2)/(G_on − G_off); reference: (G − g_ref)/((G_on − G_off)/2).
    """
    if name == "pair":
        return _safe_div(g[0] - g[1], g[0] + g[1])
    if name == "differential":
        return (g[0] - g[1]) / (g_hi - g_lo)
    if name == "bridge":
        return _safe_div(g[0], g[0] + g[1]) - _safe_div(g[2], g[2] + g[3])
    if name == "reference":
        return (g[0] - g_ref) / (0.5 * (g_hi - g_lo))
    raise KeyError(name)


def w_range(name: str, r_lo: float, r_hi: float, g_ref: float, r_sum: float | None = None) -> tuple[float, float]:
    """Realisable normalised weights with the programming rule of :func:`resistances_for`."""
    if name in ("pair", "bridge"):
        if r_sum is None:
            m = (r_hi - r_lo) / (r_hi + r_lo)
            return -m, m
        m = min(1.0 - 2.0 * r_lo / r_sum, 2.0 * r_hi / r_sum - 1.0)
        return -m, m
    if name == "differential":
        return -1.0, 1.0
    if name == "reference":
        h = 0.5 * (1.0 / r_lo - 1.0 / r_hi)
        return (1.0 / r_hi - g_ref) / h, (1.0 / r_lo - g_ref) / h
    raise KeyError(name)


def resistances_for(name: str, W: np.ndarray, r_lo: float, r_hi: float, g_ref: float,
                    r_sum: float | None = None) -> np.ndarray:
    """Device resistances (k, n_in, n_out) realising weights ``W`` (inverse of :func:`weights`).

    pair / bridge keep every divider's sum at S = ``r_sum`` (default the mid-range sum r_lo + r_hi):
    M1 = S(1 − w)/2, M2 = S(1 + w)/2 (bridge: M3 = M2, M4 = M1).  differential keeps
    G1 + G2 = G_on + G_off.  reference sets G = g_ref + w·(G_on − G_off)/2.
    """
    if name in ("pair", "bridge"):
        S = r_lo + r_hi if r_sum is None else r_sum
        m1, m2 = S * (1 - W) / 2, S * (1 + W) / 2
        return np.stack((m1, m2)) if name == "pair" else np.stack((m1, m2, m2, m1))
    if name == "differential":
        glo, ghi = 1.0 / r_hi, 1.0 / r_lo
        g1 = 0.5 * ((ghi + glo) + W * (ghi - glo))
        g2 = 0.5 * ((ghi + glo) - W * (ghi - glo))
        return np.stack((1.0 / g1, 1.0 / g2))
    if name == "reference":
        h = 0.5 * (1.0 / r_lo - 1.0 / r_hi)
        return (1.0 / (g_ref + W * h))[None]
    raise KeyError(name)


def weight_resistance(name: str, r_lo: float, r_hi: float, r_in: float) -> float:
    """Nominal resistance per unit weight (ohm): a unit of weight ``w`` drives ``w/weight_resistance``
    (S) into its summing node (:func:`gain`).  pair and bridge ``R_in`` (exact when buffered; the
    pair's Thevenin resistance adds ~(r_lo+r_hi)/4); differential ``1/(G_on − G_off)``; reference
    ``2/(G_on − G_off)``.  A neuron's feedback resistor scaled by it gives every unit the same
    weight-to-output gain."""
    if name in ("pair", "bridge"):
        return float(r_in)
    span = 1.0 / r_lo - 1.0 / r_hi
    if name == "differential":
        return 1.0 / span
    if name == "reference":
        return 2.0 / span
    raise KeyError(name)


def write_conductance(name: str, g: np.ndarray) -> np.ndarray:
    """Conductance of each unit's write path between its + and − row lines (column isolated)."""
    if name in ("pair", "differential"):
        return _safe_div(g[0] * g[1], g[0] + g[1])
    if name == "reference":
        return g[0].copy()
    raise KeyError(name)
