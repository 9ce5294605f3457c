"""Whole-chip SPICE export: one training step of mssim against the same step in ngspice.

The netlist (components/spicechip) is written from the built chip's parameters and
the step's stimulus; ngspice integrates it on its own (behavioural devices, op-amp
macromodels, error circuit, S&H), and J0, J1, every neuron output at both sampling
instants and every device resistance after the update must agree within 1 %.
Near-zero quantities are compared against a floor: rel_err = |a - b| / max(|a|, floor)
with floor = 1 mV for neuron outputs and J (1e-3 of v_sat and of the J scale).
A negative control changes one device state in the netlist only and must fail.
"""

from __future__ import annotations

import copy
import subprocess
from importlib.metadata import EntryPoint

import numpy as np
import pytest

from components.spice import find_ngspice
from components.spicechip import chip_netlist, compare, mssim_step_trace, run_ngspice
from components.training.config import load
from mssim.errors import ConfigError

TOL = 0.01

CASES = {
    "xor-electrical": ("scenarios/xor.toml", 1, []),
    "xor-written": ("scenarios/xor.toml", 2, ["training.perturbation=written"]),
    "iris-electrical": ("scenarios/iris.toml", 1, []),
    "iris-written": ("scenarios/iris.toml", 3, ["training.perturbation=written"]),
}

_cache: dict = {}


def _trace(case):
    if case not in _cache:
        path, k, sets = CASES[case]
        scn, _ = load(path, sets)
        _cache[case] = mssim_step_trace(scn, k)
    return _cache[case]


def _check(run, trace, tmp_path, name="chip"):
    text, info = chip_netlist(run.chip, trace)
    cir = tmp_path / f"{name}.cir"
    cir.write_text(text)
    vecs, wall, _ = run_ngspice(cir, tmp_path / f"{name}.raw")
    return compare(run.chip, trace, info, vecs, wall)


@pytest.mark.ngspice
@pytest.mark.parametrize("case", list(CASES))
def test_training_step_matches_ngspice(case, tmp_path):
    trace, run = _trace(case)
    c = _check(run, trace, tmp_path)
    n_dev = sum(2 * xb.n_in * xb.n_out for xb in run.chip.crossbars)
    n_out = sum(nl.n for nl in run.chip.neurons)
    assert len(c.rows) == 2 + 2 * n_out + n_dev
    assert [p.kind for p in trace.pulses][-1] == "update"
    if "written" in case:
        assert [p.kind for p in trace.pulses] == ["pert", "update"]
    else:
        assert trace.inject and trace.inject[-1][1] is None
    q, a, b, e = c.worst
    assert e <= TOL, f"{case}: worst {q}: mssim {a}, ngspice {b}"


@pytest.mark.ngspice
def test_update_pulse_changes_the_resistances(tmp_path):
    """The step's update pulse moves devices in both simulators by the same amount."""
    from components.spicechip.check import resistances_from_u

    trace, run = _trace("xor-electrical")
    xb = run.chip.crossbars[0]
    r_start = resistances_from_u(xb.device_array, np.concatenate([trace.u0[0][s].ravel() for s in range(2)]))
    r_end = np.concatenate([trace.r_end[0][s].ravel() for s in range(2)])
    assert np.max(np.abs(r_end / r_start - 1)) > 1e-3  # a visible write, far above the 1e-4 agreement


@pytest.mark.ngspice
def test_negative_control_one_weight_changed_in_netlist_fails(tmp_path):
    trace, run = _trace("xor-electrical")
    bad = copy.deepcopy(trace)
    u = bad.u0[0]
    u[0, 1, 2] = 0.5 * u[0, 1, 2] if u[0, 1, 2] > 0.2 else u[0, 1, 2] + 0.3  # M1 of one unit: another weight
    c = _check(run, bad, tmp_path, "bad")
    q, a, b, e = c.worst
    assert e > TOL, f"a changed weight went unnoticed (worst {q}: {e})"


# The other units on XOR: the bridge as shipped; the differential and reference units put the
# whole read voltage across one device, so they read at 0.5 mV; neuron.gain 0.05 keeps R_f at
# ~10 kOhm (R_f = gain·R_w·v_sat/v_read with R_w = 1/(G_on − G_off) ≈ 100 Ohm for these units).
SMALL_READ = ["synapse.params.v_read=0.5mV", "neuron.gain=0.05", "device.model=hp", "device.preset=biolek2009",
              "timing.v_write=0.3V", "timing.clock=1ps"]
# The reference unit at its mid conductance (g_ref = (G_on + G_off)/2 for HP's 100 Ohm / 16 kOhm):
# the design step's own g_ref (1.4 of the way up) is the known disagreement below.
UNITS = {
    "bridge": ["synapse.unit=bridge"],
    "differential": ["synapse.unit=differential", *SMALL_READ],
    "reference": ["synapse.unit=reference", *SMALL_READ, "synapse.params.g_ref=0.00503125"],
}


@pytest.mark.ngspice
@pytest.mark.parametrize("unit", list(UNITS))
def test_other_units_match_ngspice(unit, tmp_path):
    scn, _ = load("scenarios/xor.toml", UNITS[unit])
    trace, run = mssim_step_trace(scn, 1)
    assert trace.update_width_s > 0
    c = _check(run, trace, tmp_path)
    assert len(c.rows) == 2 + 2 * 5 + {"bridge": 4, "differential": 2, "reference": 1}[unit] * 17
    q, a, b, e = c.worst
    assert e <= TOL, f"{unit}: worst {q}: mssim {a}, ngspice {b}"


def test_line_resistance_is_refused_with_the_key():
    scn, _ = load("scenarios/xor.toml", ["synapse.params.r_line=1"])
    trace, run = mssim_step_trace(scn, 0)
    with pytest.raises(ConfigError, match=r"synapse\.params\.r_line"):
        chip_netlist(run.chip, trace)


def test_trace_rejects_negative_pattern():
    scn, _ = load("scenarios/xor.toml", [])
    with pytest.raises(ConfigError, match="--pattern"):
        mssim_step_trace(scn, -1)


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def spice_main(monkeypatch):
    """mssim's main with the ``spice`` entry point (also before the package is reinstalled)."""
    import mssim.cli as cli

    orig = cli.entry_points

    def eps(group):
        have = list(orig(group=group))
        if not any(e.name == "spice" for e in have):
            have.append(EntryPoint("spice", "components.spicechip.cli:register", "mssim.commands"))
        return have

    monkeypatch.setattr(cli, "entry_points", eps)
    return cli.main


def test_cli_refuses_a_foreign_folder(spice_main, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert spice_main(["spice", "scenarios/xor.toml", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--out" in err and "not written by 'mssim spice'" in err
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / "chip.cir").exists()


def test_cli_bad_options_exit_2(spice_main, tmp_path, capsys):
    assert spice_main(["spice", "scenarios/xor.toml", "--out", str(tmp_path / "a"), "--pattern", "-1"]) == 2
    assert "--pattern" in capsys.readouterr().err
    assert spice_main(["spice", "scenarios/xor.toml", "--out", str(tmp_path / "b"), "--weights", "nope.npz"]) == 2
    assert "--weights" in capsys.readouterr().err


@pytest.mark.ngspice
def test_cli_writes_a_netlist_that_runs_as_is_and_checks(spice_main, tmp_path, capsys):
    out = tmp_path / "spice"
    assert spice_main(["spice", "scenarios/xor.toml", "--out", str(out), "--check"]) == 0
    printed = capsys.readouterr().out
    assert "worst disagreement" in printed
    rows = (out / "compare.csv").read_text().splitlines()
    assert rows[0] == "quantity,mssim,ngspice,rel_err" and len(rows) == 1 + 2 + 2 * 5 + 34
    worst = max(float(r.split(",")[3]) for r in rows[1:])
    assert worst <= TOL
    proc = subprocess.run([find_ngspice(), "-b", "chip.cir"], cwd=out, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # a folder this command wrote may be written again
    assert spice_main(["spice", "scenarios/xor.toml", "--out", str(out), "--pattern", "1"]) == 0


def test_cli_without_ngspice_says_so_and_exits_2(spice_main, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MSSIM_NGSPICE", str(tmp_path / "no-ngspice"))
    assert spice_main(["spice", "scenarios/xor.toml", "--out", str(tmp_path / "o"), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ngspice not found" in err
    assert (tmp_path / "o" / "chip.cir").exists()


def test_other_algorithms_are_refused_before_training():
    scn, _ = load("scenarios/xor.toml", ["training.algorithm=rwc"])
    with pytest.raises(ConfigError, match=r"training\.algorithm.*wsp"):
        mssim_step_trace(scn, 0)


def test_trace_direction_and_weights_file(tmp_path):
    """--weights programs the chip before the step; the trace reports the update's direction."""
    scn, _ = load("scenarios/xor.toml", [])
    W = [np.full((3, 4), 0.25), np.full((5, 1), -0.25)]
    np.savez(tmp_path / "weights.npz", layer0=W[0], layer1=W[1])
    trace, run = mssim_step_trace(scn, 0, weights=tmp_path / "weights.npz")
    u1, u2 = trace.u0[0]
    assert np.all(u2 > u1)  # TEAM: M2 further OFF than M1, w = (M2 - M1)/(M1 + M2) > 0 in layer 0
    assert trace.direction in (-1.0, 1.0) and trace.update_width_s > 0
    # a results folder's conductances (layer{l}_G{k}) program the devices exactly
    G = {f"layer{l}_G{k + 1}": 1.0 / r for l, rs in enumerate(trace.r_end) for k, r in enumerate(rs)}
    np.savez(tmp_path / "g.npz", **G)
    again, _ = mssim_step_trace(scn, 0, weights=tmp_path / "g.npz")
    from components.spicechip.check import resistances_from_u

    xb = run.chip.crossbars[1]
    r0 = resistances_from_u(xb.device_array, again.u0[1].ravel())
    np.testing.assert_allclose(r0, trace.r_end[1].ravel(), rtol=1e-9)
    with pytest.raises(ConfigError, match="--weights"):
        mssim_step_trace(scn, 0, weights=tmp_path / "nope.npz")


@pytest.mark.ngspice
@pytest.mark.parametrize("kind", ["stuck_off", "open"])
def test_device_faults_in_force_are_exported(kind, tmp_path):
    """Stuck devices keep their state, open devices carry no current, in both simulators."""
    scn, _ = load("scenarios/stuck_at_campaign.toml", [f"faults.events.0.kind={kind}", "faults.events.0.fraction=0.1",
                                                       "neuron.opamp=typical", "timing.t_settle=60us"])
    trace, run = mssim_step_trace(scn, 1)
    masks = trace.open0 if kind == "open" else trace.stuck0
    assert sum(int(m.sum()) for m in masks) > 0
    c = _check(run, trace, tmp_path)
    q, a, b, e = c.worst
    assert e <= TOL, f"{kind}: worst {q}: mssim {a}, ngspice {b}"


@pytest.mark.ngspice
@pytest.mark.xfail(strict=True, reason="known disagreement: at the operating point the design step chooses for the "
                   "reference unit (g_ref 1.4 of the way up the conductance range, devices nearer R_on) the hidden "
                   "neurons' outputs differ from ngspice's by about 0.19 mV (1.2 %) at J0 and J1, against 0.23 % at the "
                   "mid conductance; HP devices drift under every read and mssim's crossbar output shows that drift "
                   "only at the next event (docs/spice.md), more so at higher read currents")
def test_reference_unit_at_its_designed_operating_point_matches_ngspice(tmp_path):
    scn, _ = load("scenarios/xor.toml", ["synapse.unit=reference", *SMALL_READ])
    trace, run = mssim_step_trace(scn, 1)
    assert run.chip.crossbars[0].g_ref > 0.00503125  # the designed operating point, above the mid conductance
    q, a, b, e = _check(run, trace, tmp_path).worst
    assert e <= TOL, f"reference at the designed g_ref: worst {q}: mssim {a}, ngspice {b}"
