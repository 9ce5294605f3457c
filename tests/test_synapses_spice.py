"""Cross-check of a crossbar layer of pair synapses against ngspice (independent solver).

A 2×2 layer of the paper's pair units (TEAM, kinetics fitted to HP TiO2) with
mixed write polarities is driven *through its ports* in an mssim circuit:
alternating write pulses of +1.0 V and −0.8 V (1 µs flat, 10 ns edges, the
polarity mask latched per unit) and ±0.05 V reads on the rows with the middle
nodes loaded by R_in into the neuron's virtual ground.  ngspice runs the same
circuit built from the device layer's behavioural device cards
(``components.devices.spice_netlist.device_cards``): per unit, M1 from the
+ line to the middle node, M2 from the − line to the middle node (both − at
the middle), R_in gated off while a write pulse is on.  After every write each
device's resistance must agree within 1 %, and the read currents within 1 % of
the column's Σ|unit current| (a column sum can nearly cancel).

A second test checks the exact line-resistance solve against an ngspice
operating point of the same resistor network.
"""

import numpy as np
import pytest

from components.devices import TEAMParams
from components.devices.spice_netlist import device_cards
from components.spice import find_ngspice, pwl, run_transient
from components.synapses import CrossbarLayer, SynapseParams
from mssim import Circuit
from mssim.stimulus import PWLSource

pytestmark = [pytest.mark.ngspice,
              pytest.mark.skipif(find_ngspice() is None, reason="ngspice binary not installed")]

OPTS = "method=gear reltol=1e-5 abstol=1e-13 vntol=1e-9 itl4=100"
CAP = 1e9
US, EDGE = 1e-6, 10e-9
POL = np.array([[1.0, -1.0], [-1.0, 1.0]])
R_IN = 100e3


def _schedule(n_cycles):
    """Write/read program as a list of (t_start, kind, value) with kind 'w' (write V) or 'r' (row volts)."""
    prog, t = [], 1 * US
    for _ in range(n_cycles):
        for amp in (1.0, -0.8):
            prog.append((t, "w", amp))
            t += EDGE + US + EDGE + 1 * US
            prog.append((t, "r", np.array([0.05, -0.05])))
            t += 2 * US
            prog.append((t, "r", np.zeros(2)))
            t += 1 * US
    return prog, t


def _pwl_points(prog, kind, size):
    pts = []
    for t0, k, val in prog:
        if k != kind:
            continue
        if kind == "w":
            pts += [(t0, 0.0), (t0, val, EDGE), (t0 + EDGE + US, 0.0, EDGE)]
        else:
            pts.append((t0, val))
    return pts


def _corner_list(points, size, tstop):
    """(times, values[size]) corners of PWLSource points (time, value[, ramp]) for ngspice."""
    times, vals = [0.0], [np.zeros(size)]
    for p in points:
        t, v = p[0], np.broadcast_to(np.asarray(p[1], float), (size,))
        ramp = p[2] if len(p) == 3 else 0.0
        cur = vals[-1]
        if t > times[-1]:
            times.append(t)
            vals.append(cur)
        times.append(t + (ramp if ramp > 0 else 1e-12))
        vals.append(v.copy())
    times.append(tstop)
    vals.append(vals[-1])
    return np.array(times), np.array(vals)


def test_pair_layer_writes_and_reads_match_ngspice():
    p = TEAMParams.hp_tio2()
    sp = SynapseParams(init="random", w_init_scale=0.3, r_in=R_IN)
    n_cycles = 4
    prog, tstop = _schedule(n_cycles)
    c = Circuit("spice_xcheck")
    layer = c.add(CrossbarLayer("xb", 2, 2, p, sp, device_options={"rate_cap": CAP}))
    wpts = _pwl_points(prog, "w", 1)
    rpts = _pwl_points(prog, "r", 2)
    c.add(PWLSource("wr", 1, wpts))
    c.add(PWLSource("rows", 2, rpts))
    c.add(PWLSource("pol", 4, [(0, POL.ravel())], kind="digital"))
    c.connect("wr.out", "xb.write")
    c.connect("rows.out", "xb.in")
    c.connect("pol.out", "xb.polarity")
    sim = c.build(seed=7)
    arr = layer.device_array
    u_init = arr.u.copy()

    # ---- ngspice netlist of the same four pairs
    tw, vw = _corner_list(wpts, 1, tstop)
    tr, vr = _corner_list(rpts, 2, tstop)
    ctl_t, ctl_v = [0.0], [1.0]  # read path connected except while a write pulse is on
    for t0, k, _ in prog:
        if k == "w":
            ctl_t += [t0, t0 + 1e-12, t0 + 2 * EDGE + US, t0 + 2 * EDGE + US + 1e-12]
            ctl_v += [1.0, 0.0, 0.0, 1.0]
    ctl_t.append(tstop)
    ctl_v.append(1.0)
    lines = ["* 2x2 pair crossbar", f"Vw vw 0 {pwl(tw, vw[:, 0])}", f"Vctl ctl 0 {pwl(ctl_t, ctl_v)}"]
    for i in range(2):
        lines.append(f"Vr{i} vr{i} 0 {pwl(tr, vr[:, i])}")
    m1, m2 = layer.device_indices(0), layer.device_indices(1)
    for i in range(2):
        for j in range(2):
            pol = POL[i, j]
            lines.append(f"Ba{i}{j} a{i}{j} 0 V=V(vr{i})+{pol / 2:.17g}*V(vw)")
            lines.append(f"Bb{i}{j} b{i}{j} 0 V=-V(vr{i})-{pol / 2:.17g}*V(vw)")
            lines.append(device_cards(arr.model, arr.P[m1[i, j]], f"p{i}{j}", f"a{i}{j}", f"m{i}{j}",
                                      u_init[m1[i, j]], cap=CAP))
            lines.append(device_cards(arr.model, arr.P[m2[i, j]], f"n{i}{j}", f"b{i}{j}", f"m{i}{j}",
                                      u_init[m2[i, j]], cap=CAP))
            lines.append(f"Bl{i}{j} m{i}{j} 0 I=V(m{i}{j})*V(ctl)/{R_IN:.17g}")
    vecs = [f"v(s_p{i}{j})" for i in range(2) for j in range(2)] + \
           [f"v(s_n{i}{j})" for i in range(2) for j in range(2)] + \
           [f"v(m{i}{j})" for i in range(2) for j in range(2)]
    res = run_transient("\n".join(lines) + "\n", tstop, tmax=EDGE / 2, vectors=vecs, options=OPTS)

    R = lambda u: p.r_on + (p.r_off - p.r_on) * np.clip(u, 0, 1)  # noqa: E731
    r_me, r_sp, i_me, i_sp, i_scale = [], [], [], [], []
    for t0, k, val in prog:
        if k == "w":
            t_check = t0 + 2 * EDGE + US + 0.5 * US  # after the pulse, before the read
        elif np.any(val):
            t_check = t0 + 1 * US  # mid-read
        else:
            continue
        sim.run(int(round(t_check * 1e12)))
        if k == "w":
            M1, M2 = layer.resistances()
            r_me.append(np.concatenate((M1.ravel(), M2.ravel())))
            r_sp.append(np.array([R(res.at(f"v(s_p{i}{j})", t_check)) for i in range(2) for j in range(2)] +
                                 [R(res.at(f"v(s_n{i}{j})", t_check)) for i in range(2) for j in range(2)]))
        else:
            i_me.append(np.array(sim.net("xb.out").value()))
            unit = np.array([[res.at(f"v(m{i}{j})", t_check) / R_IN for j in range(2)] for i in range(2)])
            i_sp.append(unit.sum(axis=0))
            i_scale.append(np.abs(unit).sum(axis=0))
    r_me, r_sp = np.array(r_me), np.array(r_sp)
    i_me, i_sp = np.array(i_me), np.array(i_sp)
    # the writes really moved the devices, in both directions across the mixed polarities
    moved = np.abs(r_me[-1] / R(u_init) - 1)
    assert moved.max() > 0.05, moved
    assert np.all(np.abs(r_me / r_sp - 1) < 0.01), np.abs(r_me / r_sp - 1).max()
    # column currents are sums of opposite-sign unit currents: compare to 1 % of their scale
    err = np.abs(i_me - i_sp) / np.array(i_scale)
    assert np.all(err < 0.01), err.max()


def test_line_resistance_solve_matches_ngspice_operating_point():
    p = TEAMParams.hp_tio2()
    n_in, n_out, r_line = 3, 4, 50.0
    sp = SynapseParams(init="random", w_init_scale=0.8, r_line=r_line, r_in=20e3)
    layer = CrossbarLayer("xb", n_in, n_out, p, sp).build_detached(seed=11)
    M1, M2 = layer.resistances()
    v = np.array([0.03, -0.02, 0.05])
    lines = ["* crossbar with line resistance"]
    for i in range(n_in):
        lines.append(f"Vp{i} dp{i} 0 DC {v[i]:.17g}")
        lines.append(f"Vn{i} dn{i} 0 DC {-v[i]:.17g}")
        for j in range(n_out):
            lp = f"dp{i}" if j == 0 else f"p{i}_{j - 1}"
            ln = f"dn{i}" if j == 0 else f"n{i}_{j - 1}"
            lines.append(f"Rlp{i}_{j} {lp} p{i}_{j} {r_line}")
            lines.append(f"Rln{i}_{j} {ln} n{i}_{j} {r_line}")
            lines.append(f"Rm1{i}_{j} p{i}_{j} m{i}_{j} {M1[i, j]:.17g}")
            lines.append(f"Rm2{i}_{j} n{i}_{j} m{i}_{j} {M2[i, j]:.17g}")
            lines.append(f"Rin{i}_{j} m{i}_{j} c{i}_{j} {sp.r_in:.17g}")
            nxt = f"c{i + 1}_{j}" if i < n_in - 1 else f"s{j}"
            lines.append(f"Rlc{i}_{j} c{i}_{j} {nxt} {r_line}")
    for j in range(n_out):
        lines.append(f"Vs{j} s{j} 0 DC 0")  # ammeter at the virtual ground
    res = run_transient("\n".join(lines) + "\n", 1e-9, 1e-10, vectors=[f"i(vs{j})" for j in range(n_out)],
                        uic=False)
    i_sp = np.array([res[f"i(vs{j})"][-1] for j in range(n_out)])  # current into + of Vs = into summing node
    i_me = layer.read(v)
    np.testing.assert_allclose(i_me, i_sp, rtol=1e-6, atol=1e-15)
    # and the wires matter here: the ideal-line closed form differs
    ideal = CrossbarLayer("xb", n_in, n_out, p, sp.with_values(r_line=0.0)).build_detached(seed=11)
    assert np.max(np.abs(ideal.read(v) / i_me - 1)) > 1e-3
