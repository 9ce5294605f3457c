"""A complete ngspice netlist of a built WSP chip plus the stimulus of one training step.

:func:`chip_netlist` takes the chip's *parameters* from the built objects
(``run.chip``: its spec, the crossbars' device arrays after the device-to-device
spread, the drawn op-amp offsets) and the step's stimulus and initial
conditions from a :class:`~components.spicechip.trace.StepTrace`, and writes the
same equations mssim integrates (docs/spice.md):

* every device as the behavioural cards of :func:`components.devices.spice_netlist.device_cards`
  (device current B-source, 1 F state capacitor, continuous bound gates, rate cap);
* every synaptic unit (``pair`` loaded or buffered, ``differential``,
  ``bridge``, ``reference``) as its devices between its row drivers and its
  inner nodes, and a branch into the neuron's summing node; the row drivers
  switch from the read voltages to the unit's write polarity times the global
  pulse while a pulse is on (the read branch opens, and the summing node sees
  the column's Norton conductance to ground, as in mssim);
* the electrical perturbation as a voltage ``v_in*delta`` in series with the
  branch (adds ``v_in*delta*dG/dw``, exactly mssim's injection);
* every neuron as a single-pole op-amp macromodel (state node ``y``: rate
  ``2*pi*GBW/A0*(A0*(v+ - v-) - y)``, clamped at the slew rate, gated at the
  rails so the state is clipped without wind-up), its feedback resistor and its
  static activation; the attenuators as controlled sources;
* the error circuit (subtractors, squarers with their clips, the summer's
  static J) with mssim's lumped pole, the sample-and-hold (track pole, hold,
  droop, pedestal, offset) and the comparator (a steep tanh, observed only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mssim.errors import ConfigError

from ..devices.spice_netlist import TABLE_NOT_EXPORTED, device_cards
from ..devices.table import MODEL_TABLE
from ..opamp import closed_loop
from ..spice import pwl
from ..synapses import topologies as topo

EDGE = 1e-12  # s: the ramp used for logic steps (gates, hold, polarity switches)
R_DIFF_BRANCH = 1e-3  # ohm: the differential unit's column connection (a closed switch)
TAU_ACQ_MIN = 1e-9  # s: tracking time constant used for an instant sample-and-hold (stiffer stalls ngspice)
R_LEAK = 1e12  # ohm: from every otherwise current-source-only node to ground (keeps the matrix regular)
SUPPORTED_UNITS = ("pair", "differential", "bridge", "reference")


def _g(x: float) -> str:
    return f"{float(x):.17g}"


@dataclass
class NetlistInfo:
    """Node names of the compared quantities and the analysis settings."""

    t_stop: float
    t_max: float
    o_nodes: list[list[str]]
    j_node: str = "j"
    sh_node: str = "sho"
    state_nodes: list[np.ndarray] = field(default_factory=list)  # per layer, (k, n_in, n_out) node names
    options: str = ""


def _gate(intervals, t_stop: float) -> tuple[np.ndarray, np.ndarray]:
    """PWL corners of a 0/1 gate that is 1 on each ``[a, b)`` of ``intervals`` (EDGE ramps)."""
    times, vals = [0.0], [0.0]
    for a, b in intervals:
        if a <= 0.0:
            vals[0] = 1.0
        else:
            times += [a, a + EDGE]
            vals += [0.0, 1.0]
        if b < t_stop:
            times += [b, b + EDGE]
            vals += [1.0, 0.0]
    times.append(max(t_stop, times[-1] + EDGE))
    vals.append(vals[-1])
    t, v = np.array(times), np.array(vals)
    keep = np.append(np.diff(t) > 0, True)
    return t[keep], v[keep]


def _conductances(xb, u: np.ndarray) -> np.ndarray:
    """Device conductances (S), shape (k, n_in, n_out), for normalised states ``u`` of that shape."""
    from .check import resistances_from_u

    arr = xb.device_array
    flat = np.empty(arr.n)
    for s in range(u.shape[0]):
        flat[xb.device_indices(s).ravel()] = u[s].ravel()
    r = resistances_from_u(arr, flat)
    return np.stack([1.0 / r[xb.device_indices(s)] for s in range(u.shape[0])])


def _mask(masks, l, s, i, j) -> bool:
    return bool(masks[l][s, i, j]) if masks else False


def _faulted(cards: str, name: str, read_disturb: bool, stuck: bool, open_: bool) -> str:
    """Device cards with mssim's read-disturb switch and the faults in force: a stuck device's
    state does not move, an open device carries no current (its state does not move either)."""
    head_s, head_i = f"BS{name} 0 s_{name} I=", f"B{name} "
    out = []
    for ln in cards.split("\n"):
        if ln.startswith(head_s):
            rate = ln[len(head_s):]
            if stuck or open_:
                rate = "0"
            elif not read_disturb:  # reads do not move the states: only a write pulse does
                rate = f"V(wg)*({rate})"
            ln = head_s + rate
        elif ln.startswith(head_i) and open_:
            ln = ln[: ln.index(" I=")] + " I=0"
        out.append(ln)
    return "\n".join(out)


def _clip(expr: str, lo: float, hi: float) -> str:
    if math.isfinite(hi):
        expr = f"min({_g(hi)},{expr})"
    if math.isfinite(lo):
        expr = f"max({_g(lo)},{expr})"
    return expr


def _rate(target_rate: str, node: str, slew: float, lo: float, hi: float, eps: float = 1e-6) -> str:
    """A state's rate, clamped at +-slew and gated at the rails (no wind-up)."""
    r = target_rate
    if math.isfinite(slew):
        r = f"max(-{_g(slew)},min({_g(slew)},{r}))"
    up = f"max({r},0)"
    dn = f"min({r},0)"
    if math.isfinite(hi):
        up = f"{up}*min(1,max(0,({_g(hi)}-V({node}))/{_g(eps)}))"
    if math.isfinite(lo):
        dn = f"{dn}*min(1,max(0,(V({node})-{_g(lo)})/{_g(eps)}))"
    if not (math.isfinite(hi) or math.isfinite(lo)):
        return r
    return f"({up}+{dn})"


def _activation(p, node_y: str) -> str:
    x = f"V({node_y})" if p.invert else f"(-V({node_y}))"
    vs = _g(p.v_sat)
    if p.activation == "tanh":
        return f"{vs}*tanh({x}/{vs})"
    if p.activation == "clip":
        return f"max(-{vs},min({vs},{x}))"
    return x


def check_exportable(chip) -> None:
    """Raise ``ConfigError`` (naming the scenario key and the fix) for what the netlist does not model."""
    sp = chip.spec.synapse_params
    if chip.spec.device_params.model_code == MODEL_TABLE:
        raise ConfigError(TABLE_NOT_EXPORTED)
    if sp.unit not in SUPPORTED_UNITS:
        raise ConfigError(f"synapse.unit: the SPICE export covers {', '.join(SUPPORTED_UNITS)} units (got "
                          f"{sp.unit!r}); use --set synapse.unit=pair")
    if sp.r_line > 0:
        raise ConfigError(f"synapse.params.r_line: line resistance is not exported to SPICE (got {sp.r_line:g}); "
                          "use --set synapse.params.r_line=0")


def chip_netlist(chip, trace, *, title: str = "mssim chip") -> tuple[str, NetlistInfo]:
    """The complete netlist (with ``.tran`` and ``.end``) and the names of the nodes to compare.

    Parameters
    ----------
    chip : components.training.chip.Chip
        The built chip (parameters only are read).
    trace : StepTrace
        Stimulus and initial conditions of the step.
    """
    check_exportable(chip)
    spec = chip.spec
    sp, npar = spec.synapse_params, spec.neuron_params
    op = npar.opamp
    L = len(chip.crossbars)
    T = float(trace.t_end)
    out: list[str] = [f"* {title}: training pattern {trace.pattern} (epoch {trace.epoch}), "
                      f"t = 0 is mssim's {trace.t_abs:.12g} s",
                      "* written by 'mssim spice'; equations as in mssim (docs/spice.md); run with: ngspice -b chip.cir",
                      "* nodes: r<l>_<i> row voltage of crossbar l (bias row last); a/b/p/q/p3<l>_<i>_<j> the unit's",
                      "*   drivers; m (A, B for the bridge)<l>_<i>_<j> its inner nodes; s_m<k>_<l>_<i>_<j> state u of",
                      "*   device k (0 = ON, 1 = OFF bound); n<l>_<j> summing node, y<l>_<j> op-amp output, o<l>_<j>",
                      "*   neuron output (activated); tg<k> targets, e/q<k> error terms, j J, s/sho S&H state/output,",
                      "*   cmp comparator; wg write gate, w<k> write pulse k, pg<k> perturbation gate k, hold S&H control",
                      ""]
    # ---------------------------------------------------------------- global stimulus
    out.append("* --- stimulus: write gate, write pulses, perturbation gates, sample-and-hold control")
    wg = _gate([(p.t_on, p.t_off) for p in trace.pulses], T)
    out.append(f"Vwg wg 0 {pwl(*wg)}")
    for k, p in enumerate(trace.pulses):
        times = np.concatenate([[0.0], p.times, [max(T, p.times[-1] + EDGE)]]) if p.times[0] > 0 else \
            np.concatenate([p.times, [max(T, p.times[-1] + EDGE)]])
        volts = np.concatenate([[0.0], p.volts, [0.0]]) if p.times[0] > 0 else np.concatenate([p.volts, [0.0]])
        keep = np.append(np.diff(times) > 0, True)
        out.append(f"* pulse {k}: {p.kind}, {p.volts.max():g} V")
        out.append(f"Vw{k} w{k} 0 {pwl(times[keep], volts[keep])}")
    inj = []  # (gate index, per-layer delta)
    for k, (t, d) in enumerate(trace.inject):
        if d is None:
            continue
        t_next = trace.inject[k + 1][0] if k + 1 < len(trace.inject) else T
        out.append(f"Vpg{len(inj)} pg{len(inj)} 0 {pwl(*_gate([(t, t_next)], T))}")
        inj.append(d)
    out.append(f"Vhold hold 0 {pwl(*_gate([(trace.t_j0, trace.t_j1)], T))}")
    # ---------------------------------------------------------------- first crossbar's rows, targets
    out.append("* --- row read voltages of crossbar 0 (bias line last) and targets")
    for i, v in enumerate(trace.x_rows):
        out.append(f"Vr0_{i} r0_{i} 0 DC {_g(v)}")
    for j, v in enumerate(trace.target):
        out.append(f"Vtg{j} tg{j} 0 DC {_g(v)}")
    # ---------------------------------------------------------------- layers
    o_nodes = []
    state_nodes = []
    r_branch = R_DIFF_BRANCH if sp.unit in ("differential", "reference") else sp.r_in
    buffered = sp.unit == "pair" and sp.buffer
    scale = sp.v_read / npar.v_sat
    tau_min = math.inf
    for l, (xb, nl) in enumerate(zip(chip.crossbars, chip.neurons)):
        arr = xb.device_array
        n_in, n_out = xb.n_in, xb.n_out
        k_dev = len(xb.resistances())
        idx = [xb.device_indices(s) for s in range(k_dev)]
        snodes = np.empty((k_dev, n_in, n_out), dtype=object)
        out.append(f"* --- crossbar {l}: {n_in} x {n_out} {sp.unit} units"
                   f"{' (buffered)' if buffered else ''}, R_in {_g(sp.r_in)} ohm")
        for i in range(n_in):
            row = f"r{l}_{i}"
            for j in range(n_out):
                u = f"{l}_{i}_{j}"
                nn = f"n{l}_{j}"
                wr = "".join(f"+{_g(p.polarity[l][i, j])}*V(w{k})" for k, p in enumerate(trace.pulses)
                             if p.polarity[l][i, j] != 0)
                read = f"V({row})*(1-V(wg))"
                pert = "".join(f"+{_g(d[l][i, j])}*V(pg{g})" for g, d in enumerate(inj) if d[l][i, j] != 0)
                vpert = f"+V({row})*(0{pert})" if pert else ""
                # (device, + node, - node) per slot; drivers: read voltages, or the write path
                if sp.unit in ("pair", "differential"):
                    out.append(f"Ba{u} a{u} 0 V={read}{wr}")
                    out.append(f"Bb{u} b{u} 0 V=-{read}")
                    devs = ((f"a{u}", f"m{u}"), (f"b{u}", f"m{u}"))
                    src = "0" if buffered else f"m{u}"
                    out.append(f"Bin{u} {src} {nn} I=(1-V(wg))*(V(m{u}){vpert}-V({nn}))/{_g(r_branch)}")
                    out.append(f"Rlk{u} m{u} 0 {_g(R_LEAK)}")
                elif sp.unit == "reference":
                    out.append(f"Ba{u} a{u} 0 V={read}{wr}")
                    devs = ((f"a{u}", f"m{u}"),)
                    out.append(f"Bin{u} m{u} {nn} I=(1-V(wg))*(V(m{u}){vpert}-V({nn}))/{_g(r_branch)}")
                    # while writing, the device's - end is switched to ground (the pulse is across it)
                    out.append(f"Bgw{u} m{u} 0 I=V(wg)*V(m{u})/{_g(R_DIFF_BRANCH)}")
                    out.append(f"Rlk{u} m{u} 0 {_g(R_LEAK)}")
                else:  # bridge: M1 V_in->A, M2 0->A, M3 V_in->B, M4 0->B (+ ends); writes (M1, M2), (M4, M3)
                    out.append(f"Bp{u} p{u} 0 V={read}{wr}")  # + ends of M1 and M3 (V_in while reading)
                    out.append(f"Bq{u} q{u} 0 V={wr[1:] if wr else '0'}")  # + end of M4 (0 V while reading)
                    devs = ((f"p{u}", f"A{u}"), ("0", f"A{u}"), (f"p3{u}", f"B{u}"), (f"q{u}", f"B{u}"))
                    out.append(f"Bp3{u} p3{u} 0 V={read}")  # M3's + end: V_in while reading, 0 while writing
                    out.append(f"Bin{u} 0 {nn} I=(1-V(wg))*(V(A{u})-V(B{u}){vpert}-V({nn}))/{_g(sp.r_in)}")
                    out.append(f"RlkA{u} A{u} 0 {_g(R_LEAK)}")
                    out.append(f"RlkB{u} B{u} 0 {_g(R_LEAK)}")
                for s_, (node_p, node_n) in enumerate(devs):
                    name = f"m{s_ + 1}_{u}"
                    k = int(idx[s_][i, j])
                    cards = device_cards(arr.model, arr.P[k], name, node_p, node_n, float(trace.u0[l][s_, i, j]),
                                         cap=arr.rate_cap).rstrip("\n")
                    cards = _faulted(cards, name, sp.read_disturb, _mask(trace.stuck0, l, s_, i, j),
                                     _mask(trace.open0, l, s_, i, j))
                    out.append(cards)
                    snodes[s_, i, j] = f"s_{name}"
        if sp.unit == "reference":  # the mirrored reference column: -sum_i V_in,i * g_ref into every column
            ref = "+".join(f"V(r{l}_{i})" for i in range(n_in))
            for j in range(n_out):
                out.append(f"Bref{l}_{j} n{l}_{j} 0 I=(1-V(wg))*({ref})*{_g(xb.g_ref)}")
        # mssim keeps each column's source conductance while the read path is off: the summing
        # node sees it to ground during a write (from the states at the step start)
        g_col = topo.source_conductance(sp.unit, _conductances(xb, trace.u0[l]), sp.r_in, sp.buffer).sum(axis=0)
        state_nodes.append(snodes)
        # neurons
        p = nl.params
        opp = p.opamp
        out.append(f"* --- neurons {l}: single-pole op-amps (A0 {opp.a0:g}, GBW {opp.gbw:g} Hz, SR {opp.slew_rate:g} V/s, "
                   f"rails {opp.v_rail_neg:g}/{opp.v_rail_pos:g} V), R_f {_g(p.r_f)} ohm, {p.activation}")
        names = []
        for j in range(n_out):
            n, y, o = f"n{l}_{j}", f"y{l}_{j}", f"o{l}_{j}"
            vos = float(trace.offsets0[l][j]) if trace.offsets0 else float(nl.offset[j])
            stuck_y = float(trace.stuck_y0[l][j]) if trace.stuck_y0 else math.nan
            out.append(f"Bwg{l}_{j} 0 {n} I=-V(wg)*V({n})*{_g(g_col[j])}")
            y0 = float(trace.y0[l][j])
            if not math.isnan(stuck_y):  # op-amp output stuck (fault): a fixed source
                out.append(f"Bf{l}_{j} 0 {n} I=(V({y})-V({n}))/{_g(p.r_f)}")
                out.append(f"Rlk{n} {n} 0 {_g(R_LEAK)}")
                out.append(f"V{y} {y} 0 DC {_g(stuck_y)}")
            elif math.isinf(opp.gbw):
                if math.isinf(opp.a0):
                    out.append(f"Vn{l}_{j} {n} 0 DC {_g(vos)}")
                    out.append(f"By{l}_{j} {y} 0 V={_clip(f'({_g(vos)}-{_g(p.r_f)}*I(Vn{l}_{j}))', opp.v_rail_neg, opp.v_rail_pos)}")
                else:
                    out.append(f"Bf{l}_{j} 0 {n} I=(V({y})-V({n}))/{_g(p.r_f)}")
                    out.append(f"Rlk{n} {n} 0 {_g(R_LEAK)}")
                    out.append(f"By{l}_{j} {y} 0 V={_clip(f'{_g(opp.a0)}*({_g(vos)}-V({n}))', opp.v_rail_neg, opp.v_rail_pos)}")
            else:
                a = 2 * math.pi * opp.gbw
                b = 0.0 if math.isinf(opp.a0) else a / opp.a0
                rate = f"({_g(a)}*({_g(vos)}-V({n}))-{_g(b)}*V({y}))"
                out.append(f"Bf{l}_{j} 0 {n} I=(V({y})-V({n}))/{_g(p.r_f)}")
                out.append(f"Rlk{n} {n} 0 {_g(R_LEAK)}")
                out.append(f"C{y} {y} 0 1 IC={_g(y0)}")
                out.append(f"B{y} 0 {y} I={_rate(rate, y, opp.slew_rate, opp.v_rail_neg, opp.v_rail_pos)}")
                tau, _ = closed_loop(opp, 1.0 + p.r_f * float(np.max(g_col)))
                tau_min = min(tau_min, float(tau))
            out.append(f"B{o} {o} 0 V={_activation(p, y)}")
            names.append(o)
        o_nodes.append(names)
        if l < L - 1:
            out.append(f"* --- attenuator {l} -> crossbar {l + 1} (x {_g(scale)}), bias line {_g(sp.v_read)} V")
            for j in range(n_out):
                out.append(f"Br{l + 1}_{j} r{l + 1}_{j} 0 V={_g(scale)}*V(o{l}_{j})")
            out.append(f"Vr{l + 1}_{n_out} r{l + 1}_{n_out} 0 DC {_g(sp.v_read)}")
    # ---------------------------------------------------------------- error circuit, S&H, comparator
    err, ep = chip.error, spec.error_params
    eop = ep.opamp
    n = spec.sizes[-1]
    ng_sub, ng_sum = 1.0 + ep.sub_gain, 1.0 + n * ep.sum_gain / 2.0
    t_sub, k_sub = closed_loop(eop, ng_sub)
    t_sq, _ = closed_loop(eop, 1.0)
    t_sum, k_sum = closed_loop(eop, ng_sum)
    tau_j = float(t_sub + t_sq + t_sum)
    lo, hi = float(eop.v_rail_neg), float(eop.v_rail_pos)
    out.append(f"* --- error circuit: J = k_sum*(sum_gain/2*sum sq + NG_sum*Vos), lumped pole tau {tau_j:.6g} s")
    for k in range(n):
        e = f"{_g(float(k_sub))}*({_g(ep.sub_gain)}*(V(tg{k})-V(o{L - 1}_{k}))+{_g(ng_sub * float(err.offset_sub[k]))})"
        out.append(f"Be{k} e{k} 0 V={_clip(e, lo, hi)}")
        out.append(f"Bq{k} q{k} 0 V={_clip(f'{_g(ep.k_sq)}*V(e{k})*V(e{k})', lo, hi)}")
    jst = f"{_g(float(k_sum))}*({_g(ep.sum_gain / 2)}*({'+'.join(f'V(q{k})' for k in range(n))})+{_g(ng_sum * err.offset_sum)})"
    if tau_j > 0:
        out.append(f"Cj j 0 1 IC={_g(trace.j_state0)}")
        out.append(f"Bj 0 j I={_rate(f'(({jst})-V(j))/{_g(tau_j)}', 'j', float(eop.slew_rate), lo, hi)}")
    else:
        out.append(f"Bj j 0 V={_clip(jst, lo, hi)}")
    shp = spec.sh_params
    slo, shi = float(shp.opamp.v_rail_neg), float(shp.opamp.v_rail_pos)
    tau_acq = max(shp.tau_acq, TAU_ACQ_MIN)  # an instant S&H (t_acq = 0) tracks with 1 ns
    out.append(f"* --- sample-and-hold: track tau {tau_acq:.6g} s, droop {shp.droop:g} V/s, pedestal {shp.pedestal:g} V, "
               f"offset {shp.offset:g} V")
    out.append(f"Cs s 0 1 IC={_g(trace.sh_state0)}")
    out.append(f"Bs 0 s I={_rate(f'((1-V(hold))*(V(j)-V(s))/{_g(tau_acq)}-V(hold)*{_g(shp.droop)})', 's', math.inf, slo, shi)}")
    out.append(f"Bsho sho 0 V={_clip(f'(V(s)+{_g(shp.offset)}+V(hold)*{_g(shp.pedestal)})', slo, shi)}")
    cp = spec.comparator_params
    out.append("* --- comparator (observed only: the update pulse above is the one mssim's controller chose)")
    out.append(f"Bcmp cmp 0 V=tanh((V(j)+{_g(trace.j_offset)}-V(sho)-{_g(cp.offset)})/1e-9)")
    # ---------------------------------------------------------------- analysis
    # The largest step: a quarter of the fastest neuron's closed-loop time constant (the J
    # circuit and the S&H follow their inputs); within it ngspice's truncation-error control
    # on the state capacitors follows the devices through each write pulse, which starts at a
    # breakpoint of its PWL source.
    widths = [p.t_off - p.t_on for p in trace.pulses] or [T]
    t_max = min(tau_min / 4 if math.isfinite(tau_min) else T / 100, T / 100)
    options = "reltol=1e-6 abstol=1e-15 vntol=1e-9 chgtol=1e-20 method=gear maxord=2 itl4=100"
    save = ["time"] + [f"v({o})" for names in o_nodes for o in names] + ["v(j)", "v(sho)", "v(cmp)"]
    save += [f"v({s})" for sn in state_nodes for s in sn.ravel()]
    shown = " ".join(["v(j)", "v(sho)", "v(cmp)"] + [f"v({o})" for o in o_nodes[-1]])
    out += ["", f".options {options}", ".save " + " ".join(save), f".tran {_g(t_max)} {_g(T)} 0 {_g(t_max)} uic",
            f".print tran {shown}", ".end", ""]
    info = NetlistInfo(t_stop=T, t_max=t_max, o_nodes=o_nodes, state_nodes=state_nodes, options=options)
    return "\n".join(out), info
