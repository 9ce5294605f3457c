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

from dataclasses import dataclass

import numpy as np


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


# ----------------------------------------------------------------------------- read
def gain(name: str, g: np.ndarray, r_in: float, g_ref: float, buffered: bool = False) -> np.ndarray:
    """Short-circuit transfer conductance (S): out_j = Σ_i v_i·G_ij into a 0 V summing node.

    ``buffered`` (pair only): the middle node drives R_in through an ideal follower, G = w/R_in.
    """
    if name == "pair" and buffered:
        return _safe_div(g[0] - g[1], g[0] + g[1]) / r_in
    if name == "pair":
        g1, g2 = g[0], g[1]
        # w/(R_th + R_in) with w = (g1-g2)/(g1+g2), R_th = 1/(g1+g2)
        return (g1 - g2) / (1.0 + r_in * (g1 + g2))
    if name == "differential":
        return g[0] - g[1]
    if name == "bridge":
        return (_safe_div(g[0], g[0] + g[1]) - _safe_div(g[2], g[2] + g[3])) / r_in
    if name == "reference":
        return g[0] - g_ref
    raise KeyError(name)


def source_conductance(name: str, g: np.ndarray, r_in: float, buffered: bool = False) -> np.ndarray:
    """Norton conductance each unit presents to the summing node (S)."""
    if name == "pair" and buffered:
        return np.full(g.shape[1:], 1.0 / r_in)
    if name == "pair":
        s = g[0] + g[1]
        return s / (1.0 + r_in * s)
    if name == "differential":
        return g[0] + g[1]
    if name == "bridge":
        return np.full(g.shape[1:], 1.0 / r_in)
    if name == "reference":
        return g[0].copy()
    raise KeyError(name)


def device_voltages(name: str, g: np.ndarray, v: np.ndarray, r_in: float, G: np.ndarray | None = None,
                    buffered: bool = False) -> np.ndarray:
    """Voltage across every device, shape ``(k, n_in, n_out)``, for row inputs ``v`` (loaded nodes)."""
    vc = v[:, None]
    if name == "pair" and buffered:
        vmid = vc * _safe_div(g[0] - g[1], g[0] + g[1])  # unloaded divider
        return np.stack((vc - vmid, -vc - vmid))
    if name == "pair":
        G = gain(name, g, r_in, 0.0) if G is None else G
        vmid = vc * G * r_in  # current into the summing node times R_in
        return np.stack((vc - vmid, -vc - vmid))
    if name == "differential":
        shape = g.shape[1:]
        return np.stack((np.broadcast_to(vc, shape), np.broadcast_to(-vc, shape)))
    if name == "bridge":
        va = vc * _safe_div(g[0], g[0] + g[1])
        vb = vc * _safe_div(g[2], g[2] + g[3])
        return np.stack((vc - va, -va, vc - vb, -vb))
    if name == "reference":
        return np.broadcast_to(vc, g.shape[1:])[None].copy()
    raise KeyError(name)


def load_power(name: str, g: np.ndarray, v: np.ndarray, r_in: float, g_ref: float, G: np.ndarray | None = None,
               buffered: bool = False) -> float:
    """Power (W) dissipated outside the devices at input ``v``: R_in, the reference column."""
    if name == "pair" and buffered:  # the follower drives R_in; its supply is not counted here
        G = gain(name, g, r_in, 0.0, True) if G is None else G
        i = v[:, None] * G
        return float(np.sum(i * i) * r_in)
    if name == "pair":
        G = gain(name, g, r_in, 0.0) if G is None else G
        i = v[:, None] * G
        return float(np.sum(i * i) * r_in)
    if name == "bridge":
        G = gain(name, g, r_in, 0.0) if G is None else G
        vd = v[:, None] * G * r_in
        return float(np.sum(vd * vd) / r_in)
    if name == "reference":
        return float(np.sum(v * v) * g_ref)  # one reference column shared by all neurons
    return 0.0


def load_power_rows(name: str, g: np.ndarray, r_in: float, g_ref: float, G: np.ndarray | None = None,
                    buffered: bool = False) -> np.ndarray:
    """Per-row coefficients ``c_i`` (W/V²) with :func:`load_power` ``= Σ_i c_i·v_i²`` (the non-device
    power is a sum of per-row squares for every unit)."""
    n_in = g.shape[1]
    if name in ("pair", "bridge"):
        G = gain(name, g, r_in, 0.0, buffered and name == "pair") if G is None else G
        return np.sum(G * G, axis=1) * r_in
    if name == "reference":
        return np.full(n_in, g_ref)
    return np.zeros(n_in)


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


def w_range(name: str, r_lo: float, r_hi: float, g_ref: float) -> tuple[float, float]:
    """Realisable normalised weights with the programming rule of :func:`resistances_for`."""
    if name in ("pair", "bridge"):
        m = (r_hi - r_lo) / (r_hi + r_lo)
        return -m, m
    if name == "differential":
        return -1.0, 1.0
    if name == "reference":
        h = 0.5 * (1.0 / r_lo - 1.0 / r_hi)
        return (1.0 / r_hi - g_ref) / h, (1.0 / r_lo - g_ref) / h
    raise KeyError(name)


def resistances_for(name: str, W: np.ndarray, r_lo: float, r_hi: float, g_ref: float) -> np.ndarray:
    """Device resistances (k, n_in, n_out) realising weights ``W`` (inverse of :func:`weights`).

    pair / bridge keep every divider's sum at the mid-range sum S = r_lo + r_hi:
    M1 = S(1 − w)/2, M2 = S(1 + w)/2 (bridge: M3 = M2, M4 = M1).  differential keeps
    G1 + G2 = G_on + G_off.  reference sets G = g_ref + w·(G_on − G_off)/2.
    """
    if name in ("pair", "bridge"):
        S = r_lo + r_hi
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


def write_conductance(name: str, g: np.ndarray) -> np.ndarray:
    """Conductance of each unit's write path between its + and − row lines (column isolated)."""
    if name in ("pair", "differential"):
        return _safe_div(g[0] * g[1], g[0] + g[1])
    if name == "reference":
        return g[0].copy()
    raise KeyError(name)
