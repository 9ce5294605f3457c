"""Cross-check: the single-pole neuron against an ngspice transient of the same
inverting summer (op-amp = VCVS gain A0 into an RC pole, buffered, clamped at
the rails)."""

import math

import numpy as np
import pytest

from components.neurons import NeuronLayer, NeuronParams
from components.opamp import OpAmpParams
from components.spice import find_ngspice, pwl, run_transient
from mssim import Circuit
from mssim.stimulus import PWLSource
from mssim.units import to_ticks
from tests.test_neurons import ResistorColumns

R1, R2, RF = 10e3, 20e3, 10e3
A0 = 1e5
V_IN = (1.5, 1.0)          # -> ideal output -(1.5 + 0.5) = -2 V
T_STEP, T_RISE = 10e-9, 1e-9
FULL_SCALE = 5.0           # +-5 V rails


def spice_summer(gbw, tstop):
    rc = A0 / (2 * math.pi * gbw)  # open-loop pole time constant
    rp = 1e3
    tpts = [0.0, T_STEP, T_STEP + T_RISE, tstop]
    net = f"""* inverting summer, single-pole op-amp (GBW {gbw:g} Hz, A0 {A0:g})
V1 in1 0 {pwl(tpts, [0, 0, V_IN[0], V_IN[0]])}
V2 in2 0 {pwl(tpts, [0, 0, V_IN[1], V_IN[1]])}
R1 in1 inn {R1:g}
R2 in2 inn {R2:g}
RF inn out {RF:g}
E1 x 0 0 inn {A0:g}
RP x y {rp:g}
CP y 0 {rc / rp:.17g}
B1 out 0 V = max(min(V(y), 5), -5)
"""
    tau = (1 + RF / R1 + RF / R2) / (2 * math.pi * gbw)
    return run_transient(net, tstop, tau / 100, vectors=["v(out)"], tmax=tau / 400,
                         options="reltol=1e-7 abstol=1e-15 vntol=1e-9")


def mssim_summer(gbw):
    c = Circuit()
    c.add(PWLSource("src", 2, [(0, [0.0, 0.0]), (to_ticks(T_STEP), list(V_IN), to_ticks(T_RISE))]))
    c.add(ResistorColumns("syn", [[1 / R1, 1 / R2]], [1 / R1 + 1 / R2]))
    op = OpAmpParams(a0=A0, gbw=gbw, slew_rate=math.inf, v_rail_pos=5.0, v_rail_neg=-5.0, i_q=0.0)
    lay = c.add(NeuronLayer("nl", 1, NeuronParams(r_f=RF, activation="rails", opamp=op)))
    c.connect("src.out", "syn.in")
    c.connect("syn.i", "nl.in")
    c.connect("syn.g", "nl.g")
    return c.build(), lay


@pytest.mark.ngspice
@pytest.mark.parametrize("gbw", [1e6, 10e6])
def test_summer_settling_matches_ngspice(gbw):
    if find_ngspice() is None:
        pytest.skip("ngspice is not installed")
    ng = 1 + RF / R1 + RF / R2
    tau = ng / (2 * math.pi * gbw)
    tstop = T_STEP + 12 * tau
    sp = spice_summer(gbw, tstop)
    t_sp, v_sp = sp["time"], sp["v(out)"]
    v_final = v_sp[-1]
    assert v_final == pytest.approx(-2.0 / (1 + ng / A0), abs=1e-4)

    sim, lay = mssim_summer(gbw)
    # output at several instants during settling: within 1 % of full scale
    # (and in fact much closer: both are exact solutions of the same ODE)
    worst = 0.0
    for k in (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.6, 8.0):
        t = T_STEP + T_RISE + k * tau
        sim.run(to_ticks(round(t * 1e12) * 1e-12))
        got = lay.read()[0]
        ref = float(np.interp(round(t * 1e12) * 1e-12, t_sp, v_sp))
        worst = max(worst, abs(got - ref))
        assert abs(got - ref) < 0.01 * FULL_SCALE, (k, got, ref)
    assert worst < 1e-3 * abs(v_final)

    # 1 % settling time (band 1 % of the step), measured from the start of the input step
    band = 0.01 * abs(v_final)
    out = np.nonzero(np.abs(v_sp - v_final) > band)[0]
    i = out[-1]
    # interpolate the band crossing between samples i and i+1
    e0, e1 = abs(v_sp[i] - v_final), abs(v_sp[i + 1] - v_final)
    t_cross = t_sp[i] + (e0 - band) / (e0 - e1) * (t_sp[i + 1] - t_sp[i])
    ts_spice = t_cross - T_STEP

    sim2, lay2 = mssim_summer(gbw)
    sim2.run(to_ticks(T_STEP + T_RISE) + 1)
    ts_mssim = T_STEP + T_RISE - T_STEP + 1e-12 + lay2.settle_time(0.01, v_step=abs(v_final))[0]
    assert ts_mssim == pytest.approx(ts_spice, rel=0.02)
    # and both near the textbook tau*ln(100) (+ half the 1 ns input ramp)
    assert ts_mssim == pytest.approx(tau * math.log(100) + T_RISE / 2, rel=0.02)
