"""The table device model (components/devices/table.py): a memristor from measured pulse trains.

The data are read here with plain ``csv`` and arithmetic, independently of the module: the mean
curves, the mean step per pulse, the scatter.  The model must reproduce the data's mean step at
the stated amplitude and width, follow its documented width/amplitude rule, keep its bounds,
carry the data's scatter as cycle-to-cycle spread, and refuse bad files with a clear error.
"""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from components.devices import DeviceArray, preset
from components.devices.table import DATA_DIR, TableParams
from mssim.errors import ConfigError
from mssim.rng import SeedTree

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = DATA_DIR / "example_table.csv"


def _read(path):
    """Plain reading of the example: metadata and {direction: (cycles, pulses + 1) array of conductances}."""
    meta, rows = {}, []
    for line in Path(path).read_text().splitlines():
        if line.startswith("#"):
            k, _, v = line.lstrip("# ").partition("=")
            if k.strip() in ("set_amplitude", "set_width", "reset_amplitude", "reset_width"):
                num, unit = v.split()
                meta[k.strip()] = float(num) * (1e-9 if unit == "ns" else 1.0)
            continue
        rows.append(line)
    curves = {"set": {}, "reset": {}}
    for r in csv.DictReader(io.StringIO("\n".join(rows))):
        curves[r["direction"]].setdefault(int(r["cycle"]), {})[int(r["pulse"])] = float(r["conductance_S"])
    out = {d: np.array([[c[n] for n in sorted(c)] for _, c in sorted(cs.items())]) for d, cs in curves.items()}
    return meta, out


META, CURVES = _read(EXAMPLE)
MEAN = {d: c.mean(axis=0) for d, c in CURVES.items()}


def _params(**kw):
    return preset("table", None, data=str(EXAMPLE), **kw)


def _dev(p, g0, **kw):
    return DeviceArray(p, len(np.atleast_1d(g0)), x0=g0, **kw)


def test_example_states_its_source_and_regenerates():
    text = EXAMPLE.read_text()
    assert "SYNTHETIC" in text and "tools/make_example_table.py" in text
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_example_table as mk
    finally:
        sys.path.pop(0)
    assert "\n".join(f"{d},{c},{n},{g:.9e}" for d, c, n, g in mk.rows()) in text


@pytest.mark.parametrize("direction,sign", [("set", -1.0), ("reset", 1.0)])
def test_one_pulse_at_the_measured_conditions_gives_the_mean_step(direction, sign):
    p = _params(c2c_from_data=0)
    mean = MEAN[direction]
    arr = _dev(p, mean[:-1])
    amp, width = META[f"{direction}_amplitude"], META[f"{direction}_width"]
    arr.apply_voltage(sign * amp, sign * amp, width)
    step = np.diff(mean)
    got = arr.conductance() - mean[:-1]
    assert np.all(np.sign(step) == (1 if direction == "set" else -1))
    np.testing.assert_allclose(got, step, rtol=1e-9, atol=0)


def test_range_and_resistance_mapping():
    p = _params(c2c_from_data=0)
    lo = min(MEAN["set"].min(), MEAN["reset"].min())
    hi = max(MEAN["set"].max(), MEAN["reset"].max())
    assert p.r_on == pytest.approx(1 / hi) and p.r_off == pytest.approx(1 / lo)
    arr = _dev(p, [lo, hi, 0.5 * (lo + hi)])
    np.testing.assert_allclose(arr.resistance(), [1 / lo, 1 / hi, 2 / (lo + hi)], rtol=1e-12)
    arr.set_resistance([1 / hi, 1 / lo, 1 / (0.3 * lo + 0.7 * hi)])
    np.testing.assert_allclose(arr.x, [hi, lo, 0.3 * lo + 0.7 * hi], rtol=1e-12)


def _pulse_number(mean, g):
    """Continuous pulse number of conductance g on a mean curve (linear interpolation, ends extended)."""
    x = mean if mean[-1] > mean[0] else -mean
    gg = g if mean[-1] > mean[0] else -g
    j = int(np.clip(np.searchsorted(x, gg, side="right") - 1, 0, x.size - 2))
    return j + (gg - x[j]) / (x[j + 1] - x[j])


def _at(mean, n):
    j = int(np.clip(math.floor(n), 0, mean.size - 2))
    return mean[j] + (n - j) * (mean[j + 1] - mean[j])


@pytest.mark.parametrize("th,alpha,v,t", [(0.5, 1.0, 0.8, 250e-9), (0.3, 2.0, 1.3, 70e-9), (0.4, 3.0, 0.9, 1e-6),
                                          (0.5, 1.0, 1.0, 333e-9)])
@pytest.mark.parametrize("direction,sign", [("set", -1.0), ("reset", 1.0)])
def test_width_amplitude_rule_against_its_closed_form(th, alpha, v, t, direction, sign):
    """A pulse of amplitude V and width t moves the pulse number by (t/w)·((V − th·A)/(A − th·A))^alpha."""
    p = _params(c2c_from_data=0, th_set=th, th_reset=th, alpha_set=alpha, alpha_reset=alpha)
    mean = MEAN[direction]
    A, w = META[f"{direction}_amplitude"], META[f"{direction}_width"]
    g0 = np.array([mean[3], _at(mean, 7.4), mean[-6]])
    arr = _dev(p, g0)
    arr.apply_voltage(sign * v, sign * v, t)
    dn = t / w * ((v - th * A) / (A - th * A)) ** alpha
    lo, hi = min(MEAN["set"].min(), MEAN["reset"].min()), max(MEAN["set"].max(), MEAN["reset"].max())
    want = [min(max(_at(mean, _pulse_number(mean, g) + dn), lo), hi) for g in g0]
    np.testing.assert_allclose(arr.conductance(), want, rtol=1e-9)


def test_below_threshold_nothing_moves_and_ramps_count_their_share():
    p = _params(c2c_from_data=0)
    mean = MEAN["set"]
    arr = _dev(p, mean[[5, 10]])
    u0 = arr.u.copy()
    arr.apply_voltage(-0.5, -0.5, 1e-3)     # exactly at the SET threshold (0.5 of 1 V)
    arr.apply_voltage(0.49, 0.49, 1e-3)     # below the RESET threshold
    np.testing.assert_array_equal(arr.u, u0)
    # a ramp 0 -> -1 V over T: s = (|v| - 0.5)/0.5 rises from 0 to 1 over the second half, ∫ s dt = T/4
    T = 400e-9
    arr.apply_voltage(0.0, -1.0, T)
    dn = T / 4 / META["set_width"]
    np.testing.assert_allclose(arr.conductance(), [_at(mean, 5 + dn), _at(mean, 10 + dn)], rtol=1e-9)


def test_bounds_hold_under_long_drive():
    p = _params()
    lo, hi = 1 / p.r_off, 1 / p.r_on
    arr = DeviceArray(p, 50, run_rng=SeedTree(3).run_stream("t", "c2c"))
    for _ in range(80):
        arr.apply_voltage(-2.0, -2.0, 200e-9)
    g = arr.conductance()
    assert np.all(g <= hi * (1 + 1e-12)) and g.max() == pytest.approx(hi)
    for _ in range(80):
        arr.apply_voltage(2.0, 2.0, 200e-9)
    g = arr.conductance()
    assert np.all(g >= lo * (1 - 1e-12)) and g.min() == pytest.approx(lo)


def _robust_scatter(curves, mean):
    eps = []
    for cyc in curves:
        for n in range(cyc.size - 1):
            m = _at(mean, _pulse_number(mean, cyc[n]) + 1) - cyc[n]
            eps.append((cyc[n + 1] - cyc[n]) / m - 1)
    eps = np.array(eps)
    return 1.4826 * np.median(np.abs(eps - np.median(eps)))


def test_scatter_is_the_data_spread():
    p = _params()
    for d in ("set", "reset"):
        want = _robust_scatter(CURVES[d], MEAN[d])
        assert getattr(p, f"c2c_{d}") == pytest.approx(want, rel=1e-9)
        assert want == pytest.approx(0.15, abs=0.02)  # the generator's 15 %
    assert p.dx_c2c == max(p.c2c_set, p.c2c_reset)
    half = _params(c2c_from_data=0.5)
    assert half.c2c_set == pytest.approx(0.5 * p.c2c_set)
    own = _params(c2c_from_data=0, dx_c2c=0.07)
    assert own.c2c_set == own.c2c_reset == 0.07


@pytest.mark.parametrize("direction,sign", [("set", -1.0), ("reset", 1.0)])
def test_simulated_steps_have_the_data_scatter(direction, sign):
    p = _params()
    mean = MEAN[direction]
    n = 4000
    g0 = np.full(n, mean[12])
    arr = DeviceArray(p, n, x0=g0, run_rng=SeedTree(5).run_stream("t", "c2c"))
    arr.apply_voltage(sign, sign, META[f"{direction}_width"])
    rel = (arr.conductance() - g0) / (mean[13] - mean[12]) - 1
    assert abs(rel.mean()) < 0.02
    assert rel.std() == pytest.approx(getattr(p, f"c2c_{direction}"), rel=0.06)


def test_pair_integrator_against_frozen_substeps():
    """Series pair (the chip's write path, Dormand-Prince on the staircase rate) against 4000 sub-steps
    in which each device sees the divider voltage of the sub-step start (closed form per sub-step)."""
    p = _params(c2c_from_data=0)
    g0 = [MEAN["set"][8], MEAN["reset"][5]]
    arr = _dev(p, g0)
    arr.apply_pair(2.0, 2.0, 300e-9, [1], [0])
    ref = _dev(p, g0)
    N = 4000
    for _ in range(N):
        r = ref.resistance()
        i = 2.0 / r.sum()
        ref.apply_voltage(np.array([-i * r[0], i * r[1]]), np.array([-i * r[0], i * r[1]]), 300e-9 / N)
    change = np.abs(ref.conductance() - np.array(g0))
    assert change.min() > 0
    np.testing.assert_allclose(arr.conductance(), ref.conductance(), atol=5e-3 * change.max())


def test_resistance_column_is_equivalent(tmp_path):
    text = EXAMPLE.read_text().splitlines()
    out = []
    for line in text:
        if line.startswith("#"):
            out.append(line)
        elif line.startswith("direction"):
            out.append("direction,cycle,pulse,resistance_ohm")
        else:
            d, c, n, g = line.split(",")
            out.append(f"{d},{c},{n},{1 / float(g):.17g}")
    f = tmp_path / "r.csv"
    f.write_text("\n".join(out) + "\n")
    a, b = TableParams(data=str(f)), _params()
    np.testing.assert_allclose(a.row({}, 1), b.row({}, 1), rtol=1e-12)


# ------------------------------------------------------------------------------------------ bad files
HEAD = "# set_amplitude = 1 V\n# set_width = 100 ns\n# reset_amplitude = 1 V\n# reset_width = 100 ns\n"


def _trains(n=6, cols="direction,cycle,pulse,conductance_S", set_fn=lambda k: 1e-4 + 1e-5 * k,
            reset_fn=lambda k: 1.6e-4 - 1e-5 * k):
    lines = [cols]
    lines += [f"set,0,{k},{set_fn(k)}" for k in range(n + 1)]
    lines += [f"reset,0,{k},{reset_fn(k)}" for k in range(n + 1)]
    return "\n".join(lines) + "\n"


BAD = [
    ("missing", None, "no such file"),
    ("nometa", _trains(), "missing set_amplitude"),
    ("cols", HEAD + _trains(cols="direction,cycle,pulse,current_A"), "wrong columns"),
    ("mono", HEAD + _trains(set_fn=lambda k: 1e-4 + 1e-5 * k - (3e-5 if k == 4 else 0)), "not monotone"),
    ("few", HEAD + _trains(n=2), "too few points"),
    ("dir", HEAD + _trains().replace("reset,", "depress,"), "direction 'depress'"),
    ("neg", HEAD + _trains(set_fn=lambda k: -1.0 if k == 3 else 1e-4 + 1e-5 * k), "must be positive"),
    ("gap", HEAD + _trains().replace("set,0,3,", "set,0,13,"), "without gaps"),
    ("onlyset", HEAD + "\n".join(_trains().splitlines()[:8]) + "\n", "no reset train"),
    ("badmeta", HEAD.replace("100 ns", "fast", 1) + _trains(), "set_width"),
    ("unequal", HEAD + _trains() + "set,1,0,1e-4\nset,1,1,1.1e-4\n", "different lengths"),
]


@pytest.mark.parametrize("name,text,msg", BAD, ids=[b[0] for b in BAD])
def test_bad_files_give_clear_errors(tmp_path, name, text, msg):
    f = tmp_path / f"{name}.csv"
    if text is not None:
        f.write_text(text)
    with pytest.raises(ConfigError, match="TableParams.data") as exc:
        TableParams(data=str(f))
    assert msg in str(exc.value)
    assert ";" in str(exc.value)  # every message carries its fix


def test_good_minimal_file_and_bad_parameters(tmp_path):
    f = tmp_path / "ok.csv"
    f.write_text(HEAD + _trains())
    TableParams(data=str(f))
    for kw, field in (({"th_set": 1.0}, "th_set"), ({"alpha_reset": 0}, "alpha_reset"),
                      ({"c2c_from_data": -1}, "c2c_from_data"), ({"dx_c2c": 0.3}, "dx_c2c")):
        with pytest.raises(ConfigError, match=f"TableParams.{field}"):
            TableParams(data=str(f), **kw)
    with pytest.raises(ConfigError, match="TableParams.data"):
        TableParams()


# ------------------------------------------------------------------------------------------ chip and CLI
def _cli(*args, cwd=None):
    code = "import sys; from mssim.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})


def test_cli_characterises_a_table(tmp_path):
    out = tmp_path / "replay.csv"
    r = _cli("device", "table", "--data", str(EXAMPLE), "--set", "c2c_from_data=0", "--csv", str(out))
    assert r.returncode == 0, r.stderr
    assert "rms deviation" in r.stdout and "0.00 %" in r.stdout and "c2c 0.0 %" in r.stdout
    g = 1 / np.loadtxt(out, delimiter=",", skiprows=1)[:, 3]
    np.testing.assert_allclose(g, np.concatenate([MEAN["set"], MEAN["reset"][1:]]), rtol=2e-3)
    r = _cli("device", "team", "--data", str(EXAMPLE), "--pulse", "1", "1us", "1")
    assert r.returncode == 2 and "--data" in r.stderr
    r = _cli("device", "table", "--data", str(tmp_path / "none.csv"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_table_scenario_trains_and_reports_its_device():
    from components.training.config import load
    from components.training.trainer import TrainingRun

    scn, _ = load(ROOT / "scenarios" / "table_device.toml", ["output.plots=false", "output.progress=false"])
    res = TrainingRun(scn).run()
    assert res.metrics["train_accuracy"] == 1.0
    dt = res.metrics["device_table"]
    assert dt["data"] == str(EXAMPLE) and len(dt["sha256"]) == 64
    assert any(e["kind"] == "device_table" for e in res.events)


def test_validate_refuses_a_bad_table_and_spice_refuses_the_model(tmp_path):
    from components.spicechip.netlist import check_exportable
    from components.training.config import load
    from components.training.trainer import TrainingRun

    scn = ROOT / "scenarios" / "table_device.toml"
    r = _cli("validate", str(scn), "--set", f"device.params.data={tmp_path / 'x.csv'}")
    assert r.returncode == 2 and "TableParams.data" in r.stderr and "no such file" in r.stderr
    s, _ = load(scn, ["training.epochs=1"])
    with pytest.raises(ConfigError, match="table model .* not exported"):
        check_exportable(TrainingRun(s).chip)


def test_scenario_finds_a_table_next_to_it(tmp_path, monkeypatch):
    from components.training.config import load

    d = tmp_path / "proj"
    d.mkdir()
    (d / "mine.csv").write_text(EXAMPLE.read_text())
    (d / "s.toml").write_text('[device]\nmodel = "table"\nparams = { data = "mine.csv" }\n')
    monkeypatch.chdir(tmp_path)
    scn, raw = load(d / "s.toml")
    assert raw["device"]["params"]["data"] == str((d / "mine.csv").resolve())
    assert TableParams(data=scn.device.params["data"]).table.sha256 == _params().table.sha256
