"""ngspice netlists of the same device equations the kernels integrate.

Each device is two behavioural sources: ``B<name>`` carries the device current
between its terminals, and ``BS<name>`` charges a 1 F capacitor on node
``s_<name>`` whose voltage is the normalised state u (0 = ON, 1 = OFF).  The
pitfalls of MODELS.md are handled as follows:

* bounds: continuous gates ``min(1, max(0, (1 - u)/eps))`` on the outward rate
  instead of ternary clamps (eps = 1e-6 by default);
* ``pow`` takes |x| in ngspice, so threshold terms are written
  ``pow(max(0, i/i_off - 1), alpha)``;
* the whole rate, including the cap |du/dt| <= ``cap``, is one B-source
  expression so no huge intermediate appears on a node.

Supported: HP, TEAM, VTEAM (all windows, linear and exponential I-V) and
Yakopcic.  Parameters come from the device rows of a :class:`DeviceArray`
(after the device-to-device spread), so every simulated device has a twin.
"""

from __future__ import annotations

import numpy as np

from components.spice import pwl
from mssim.errors import ConfigError

from . import params as PR


#: Why the measured-data model has no netlist: its rate is a staircase over tabulated knots (one jump per
#: measured pulse), which a B-source could only hold as a nested ternary or pwl() per knot and
#: ngspice's step control handles badly at every jump; the comparison would test ngspice, not mssim.
TABLE_NOT_EXPORTED = ("device.model: the table model (measured pulse trains) is not exported to SPICE: its rate is a "
                      "staircase over the tabulated pulses, which ngspice's behavioural sources do not integrate "
                      "reliably; cross-check a chip with a model device (hp, team, vteam, yakopcic) instead")


def _g(x: float) -> str:
    return f"{float(x):.17g}"


def _window(row, up: bool, uc: str) -> str:
    w = int(row[PR.P_WIN])
    p2 = _g(2 * row[PR.P_WP])
    if w == PR.WIN_NONE:
        return "1"
    if w == PR.WIN_JOGLEKAR:
        return f"(1-pow(2*{uc}-1,{p2}))"
    if w == PR.WIN_BIOLEK:
        return f"(1-pow({uc},{p2}))" if up else f"(1-pow(1-{uc},{p2}))"
    if w == PR.WIN_PRODROMAKIS:
        return f"({_g(row[PR.P_WJ])}*(1-pow(pow({uc}-0.5,2)+0.75,{_g(row[PR.P_WP])})))"
    x = f"({_g(row[PR.P_XON])}+{uc}*{_g(row[PR.P_XOFF] - row[PR.P_XON])})"
    if up:
        return f"exp(-exp(({x}-{_g(row[PR.P_AOFF])})/{_g(row[PR.P_WC])}))"
    return f"exp(-exp(-({x}-{_g(row[PR.P_AON])})/{_g(row[PR.P_WC])}))"


def device_cards(model: int, row, name: str, node_p: str, node_n: str, u0: float, *, cap: float = 1e10,
                 eps: float = 1e-6) -> str:
    """Cards for one device between ``node_p`` (+) and ``node_n`` (−); state on node ``s_<name>``."""
    if model == PR.MODEL_TABLE:
        raise ConfigError(TABLE_NOT_EXPORTED)
    s = f"s_{name}"
    uc = f"min(1,max(0,V({s})))"
    vd = f"V({node_p},{node_n})"
    gate_up = f"min(1,max(0,(1-V({s}))/{_g(eps)}))"
    gate_dn = f"min(1,max(0,V({s})/{_g(eps)}))"
    if model == PR.MODEL_YAKOPCIC:
        x = f"(1-{uc})"
        V = f"(-{vd})"  # paper's orientation
        a = f"({_g(row[PR.Y_A1])}*({V}>=0)+{_g(row[PR.Y_A2])}*({V}<0))"
        cur = f"(-{a}*{x}*sinh({_g(row[PR.Y_B])}*{V}))"
        vp, vn = _g(row[PR.Y_VP]), _g(row[PR.Y_VN])
        g = (f"({_g(row[PR.Y_AP])}*(exp({V})-exp({vp}))*({V}>{vp})"
             f"-{_g(row[PR.Y_AN])}*(exp(-{V})-exp({vn}))*({V}<-{vn}))")
        xp, xn = row[PR.Y_XP], row[PR.Y_XN]
        fpos = (f"(({x}>={_g(xp)})*exp(-{_g(row[PR.Y_ALP])}*({x}-{_g(xp)}))*(({_g(xp)}-{x})/{_g(1 - xp)}+1)"
                f"+({x}<{_g(xp)}))")
        fneg = (f"(({x}<={_g(1 - xn)})*exp({_g(row[PR.Y_ALN])}*({x}+{_g(xn - 1)}))*({x}/{_g(1 - xn)})"
                f"+({x}>{_g(1 - xn)}))")
        eta = _g(row[PR.Y_ETA])
        eg = f"({eta}*{g})"
        # du/dt = -eta*g*f ; up (u increasing) when eta*g < 0
        rate = f"(-max({eg},0)*{fpos}*{gate_dn}-min({eg},0)*{fneg}*{gate_up})"
    else:
        ron, roff = row[PR.P_RON], row[PR.P_ROFF]
        if row[PR.P_IV] == 0:
            R = f"({_g(ron)}+{_g(roff - ron)}*{uc})"
        else:
            R = f"({_g(ron)}*exp({_g(np.log(roff / ron))}*{uc}))"
        cur = f"({vd}/{R})"
        if model == PR.MODEL_HP:
            k = _g(row[PR.P_KUP])
            up = f"{k}*max({cur},0)*{_window(row, True, uc)}"
            dn = f"{k}*min({cur},0)*{_window(row, False, uc)}"
        else:
            d = cur if model == PR.MODEL_TEAM else vd
            up = (f"{_g(row[PR.P_KUP])}*pow(min(1e6,max(0,{d}/{_g(row[PR.P_THUP])}-1)),{_g(row[PR.P_AUP])})"
                  f"*{_window(row, True, uc)}")
            dn = (f"{_g(row[PR.P_KDOWN])}*pow(min(1e6,max(0,{d}/{_g(row[PR.P_THDOWN])}-1)),{_g(row[PR.P_ADOWN])})"
                  f"*{_window(row, False, uc)}")
        rate = f"({up}*{gate_up}+{dn}*{gate_dn})"
    capped = f"max(-{_g(cap)},min({_g(cap)},{rate}))"
    return (f"B{name} {node_p} {node_n} I={cur}\n"
            f"C{name} {s} 0 1 IC={_g(u0)}\n"
            f"BS{name} 0 {s} I={capped}\n")


def single_devices_netlist(arr, times, volts, index=None, *, eps: float = 1e-6) -> str:
    """Netlist driving devices of ``arr`` each from its own PWL voltage source (same waveform).

    Device j of ``index`` sits between node ``a_j`` and ground; its state is ``v(s_d<j>)``.
    """
    idx = range(arr.n) if index is None else index
    src = pwl(times, volts)
    out = ["* mssim devices under PWL voltage"]
    for j, k in enumerate(idx):
        out.append(f"V{j} a{j} 0 {src}")
        out.append(device_cards(arr.model, arr.P[k], f"d{j}", f"a{j}", "0", arr.U[k], cap=arr.rate_cap, eps=eps))
    return "\n".join(out) + "\n"


def pair_netlist(arr, times, volts, pos, neg, *, eps: float = 1e-6) -> str:
    """Netlist of series pairs (pos[j] + at node a_j, − at m_j; neg[j] − at m_j, + at ground).

    States are ``v(s_p<j>)`` and ``v(s_n<j>)``.
    """
    src = pwl(times, volts)
    out = ["* mssim series pairs under PWL voltage"]
    for j, (kp, kn) in enumerate(zip(pos, neg)):
        out.append(f"V{j} a{j} 0 {src}")
        out.append(device_cards(arr.model, arr.P[kp], f"p{j}", f"a{j}", f"m{j}", arr.U[kp], cap=arr.rate_cap,
                                eps=eps))
        out.append(device_cards(arr.model, arr.P[kn], f"n{j}", "0", f"m{j}", arr.U[kn], cap=arr.rate_cap,
                                eps=eps))
    return "\n".join(out) + "\n"


def pulse_train(amplitudes, width, rise=0.0, fall=0.0, gap=None, t0=0.0):
    """PWL corners of a train of trapezoid pulses (rise, flat ``width``, fall, 0 V ``gap``).

    Returns (times, volts, ends) where ``ends[k]`` is the time pulse k's fall ends.
    Zero rise/fall are drawn as 1 ps edges in the corner list only when needed
    for strictly increasing times.
    """
    gap = width if gap is None else gap
    t = t0
    times, volts, ends = [t0], [0.0], []
    for a in amplitudes:
        if rise > 0:
            t += rise
        else:
            t += 1e-12
        times.append(t)
        volts.append(a)
        t += width
        times.append(t)
        volts.append(a)
        t += fall if fall > 0 else 1e-12
        times.append(t)
        volts.append(0.0)
        ends.append(t)
        if gap > 0:
            t += gap
            times.append(t)
            volts.append(0.0)
    return np.array(times), np.array(volts), np.array(ends)
