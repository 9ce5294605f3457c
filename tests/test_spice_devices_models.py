"""Every device model against ngspice (issue 15): VTEAM, HP with each window, Yakopcic, and TEAM
with unequal SET/RESET exponents, as test_spice_devices.py does for the TEAM HP-TiO2 fit.

Per model: SET and RESET pulse trains at two amplitudes, one train that crosses from one window
region to the other, and a sinusoid; the resistance after every pulse (at every sample of the
sinusoid) must agree within 1 %.  ngspice integrates the netlist of spice_netlist.py (the same
equations as behavioural sources) with its own solver; the kernels run at their defaults
(rtol 1e-6).  Each case is one short ngspice run (10-250 ms); marked ``slow`` as well so a quick
local run can leave them out with ``-m 'not slow'``.  The remaining differences shrink as
ngspice's maximum step is tightened (the last column of the cases), so they are ngspice's error.
"""

import numpy as np
import pytest

from components.devices import DeviceArray, HPParams, TEAMParams, VTEAMParams, YakopcicParams
from components.devices.drive import apply_waveform
from components.devices.spice_netlist import single_devices_netlist
from components.spice import run_transient
from tests.device_reference import sine_wave, trapezoid_train

pytestmark = [pytest.mark.ngspice, pytest.mark.slow]

OPTS = "method=gear reltol=1e-5 abstol=1e-12 vntol=1e-9 itl4=100"

TEAM_UNEQUAL = TEAMParams.symmetric(alpha_on=2.0, alpha_off=4.0)
TEAM_KVATINSKY = TEAMParams.symmetric(alpha_on=2.0, alpha_off=4.0, window="kvatinsky", iv="exponential",
                                      a_on=0.6e-9, a_off=2.4e-9, w_c=0.1e-9)


def _resistance(p, u):
    """Resistance from the normalised state: linear/exponential I-V, or v_read/I at v_read for Yakopcic
    (as DeviceArray.resistance)."""
    u = np.clip(u, 0.0, 1.0)
    if isinstance(p, YakopcicParams):
        x = 1.0 - u
        return p.v_read / (p.a2 * x * np.sinh(p.b * p.v_read))   # +v_read on mssim's + is V_paper < 0: a2
    if getattr(p, "iv", "linear") == "exponential":
        return p.r_on * np.exp(np.log(p.r_off / p.r_on) * u)
    return p.r_on + (p.r_off - p.r_on) * u


def _check(p, x0, t, v, samples, tmax):
    arr = DeviceArray(p, 1, x0=x0)
    res = run_transient(single_devices_netlist(arr, t, v), t[-1], tmax=tmax, vectors=["v(s_d0)"], options=OPTS)
    states, _ = apply_waveform(arr, t, v)
    r_me = _resistance(p, states[samples, 0])
    r_sp = _resistance(p, res.at("v(s_d0)", t[samples]))
    rel = np.abs(r_me / r_sp - 1)
    assert rel.max() < 0.01, (type(p).__name__, getattr(p, "window", ""), rel.max(), r_me, r_sp)
    assert r_me.max() / r_me.min() > 1.02, r_me  # the waveform really moves the device
    return rel.max()


# (params, x0, amplitudes, width, edge, ngspice max step)
PULSE_CASES = {
    "vteam-set-a": (VTEAMParams.kvatinsky2015(), 2.7e-9, [-0.21] * 5, 100e-9, 1e-9, 2e-9),
    "vteam-set-b": (VTEAMParams.kvatinsky2015(), 2.7e-9, [-0.23] * 4, 20e-9, 1e-9, 25e-12),
    "vteam-reset-a": (VTEAMParams.kvatinsky2015(), 0.3e-9, [0.04] * 5, 1e-6, 10e-9, 20e-9),
    "vteam-reset-b": (VTEAMParams.kvatinsky2015(), 0.3e-9, [0.1] * 4, 0.3e-6, 10e-9, 10e-9),
    "vteam-both": (VTEAMParams.kvatinsky2015(), 0.3e-9, [0.1] * 3 + [-0.22] * 3, 0.2e-6, 2e-9, 2e-9),
    "team-unequal-set-a": (TEAM_UNEQUAL, 2.5e-9, [-0.6] * 5, 20e-6, 10e-9, 100e-9),
    "team-unequal-set-b": (TEAM_UNEQUAL, 2.5e-9, [-0.8] * 5, 5e-6, 10e-9, 20e-9),
    "team-unequal-reset-a": (TEAM_UNEQUAL, 0.3e-9, [0.3] * 5, 1e-6, 10e-9, 10e-9),
    "team-unequal-reset-b": (TEAM_UNEQUAL, 0.3e-9, [0.6] * 5, 0.2e-6, 10e-9, 5e-9),
    "team-unequal-both": (TEAM_UNEQUAL, 0.3e-9, [0.6] * 4 + [-0.6] * 4, 5e-6, 10e-9, 20e-9),
    "team-kvatinsky-set": (TEAM_KVATINSKY, 1.5e-9, [-0.3] * 5, 0.2e-6, 10e-9, 1.25e-9),
    "team-kvatinsky-reset": (TEAM_KVATINSKY, 1.5e-9, [0.5] * 5, 50e-9, 5e-9, 0.5e-9),
    "yakopcic-set-a": (YakopcicParams.oblea2010(), 0.11, [-0.5] * 5, 100e-6, 1e-6, 1e-6),
    "yakopcic-set-b": (YakopcicParams.oblea2010(), 0.11, [-0.8] * 5, 20e-6, 1e-6, 0.5e-6),
    "yakopcic-reset-a": (YakopcicParams.oblea2010(), 0.9, [0.5] * 5, 100e-6, 1e-6, 1e-6),
    "yakopcic-reset-b": (YakopcicParams.oblea2010(), 0.9, [0.8] * 5, 20e-6, 1e-6, 0.5e-6),
    "yakopcic-both": (YakopcicParams.oblea2010(), 0.11, [-0.6] * 6 + [0.6] * 6, 100e-6, 1e-6, 1e-6),
}
for _w in ("none", "joglekar", "biolek", "prodromakis"):
    _p = HPParams.biolek2009(window=_w, p=2)
    PULSE_CASES[f"hp-{_w}-set-a"] = (_p, 0.2, [-1.0] * 4, 0.05, 1e-3, 1e-3)
    PULSE_CASES[f"hp-{_w}-set-b"] = (_p, 0.2, [-2.0] * 4, 0.02, 0.4e-3, 0.4e-3)
    PULSE_CASES[f"hp-{_w}-reset-a"] = (_p, 0.8, [1.0] * 4, 0.05, 1e-3, 1e-3)
    PULSE_CASES[f"hp-{_w}-reset-b"] = (_p, 0.8, [2.0] * 4, 0.02, 0.4e-3, 0.4e-3)
    # from w = 0.85 (inside the ON-edge region) to u ~ 0.9 (OFF edge) and back
    PULSE_CASES[f"hp-{_w}-both"] = (_p, 0.85, [1.0] * 8 + [-1.0] * 6, 0.1, 2e-3, 2e-3)


@pytest.mark.parametrize("case", sorted(PULSE_CASES))
def test_pulse_train_matches_ngspice(case):
    p, x0, amps, width, edge, tmax = PULSE_CASES[case]
    t, v, ends = trapezoid_train(amps, width, edge)
    _check(p, x0, t, v, ends, tmax)


SINE_CASES = {
    "vteam": (VTEAMParams.kvatinsky2015(), 1.5e-9, 0.22, 1e6, 1e-9),
    "team-unequal": (TEAM_UNEQUAL, 1.0e-9, 0.6, 1e4, 50e-9),
    "yakopcic": (YakopcicParams.oblea2010(), 0.11, 0.45, 1e3, 1e-6),
    "hp-none": (HPParams.biolek2009(), 0.5, 1.0, 1.0, 1e-3),
    "hp-joglekar": (HPParams.biolek2009(window="joglekar", p=2), 0.5, 1.0, 1.0, 1e-3),
    "hp-biolek": (HPParams.biolek2009(window="biolek", p=2), 0.5, 1.0, 1.0, 1e-3),
    "hp-prodromakis": (HPParams.biolek2009(window="prodromakis", p=2), 0.5, 1.0, 1.0, 1e-3),
}


@pytest.mark.parametrize("case", sorted(SINE_CASES))
def test_sine_matches_ngspice(case):
    p, x0, amp, freq, tmax = SINE_CASES[case]
    t, v = sine_wave(amp, freq, 2, per_cycle=200)
    _check(p, x0, t, v, np.arange(t.size), tmax)
