"""The CLI on broken input: one line on stderr, exit status 2, no traceback, no half-written results.

Also the happy paths of ``mssim validate``, ``run``, ``sweep`` and ``plot`` on tiny scenarios.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mssim.cli import main

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "scenarios" / "xor.toml"
FAST = ["--set", "neuron.opamp=ideal", "--set", "training.baselines=[]", "--set", "timing.t_settle=2us",
        "--set", "training.epochs=3", "--no-progress"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def scenario(tmp_path: Path, body: str | bytes, name: str = "s.toml") -> Path:
    p = tmp_path / name
    if isinstance(body, bytes):
        p.write_bytes(body)
    else:
        p.write_text(body)
    return p


BASE = f'base = "{XOR}"\n'

BROKEN = {
    "missing file": (None, "no such file"),
    "folder": ("<dir>", "is a folder"),
    "empty file": ("", "the file is empty"),
    "whitespace only": ("  \n\n", "the file is empty"),
    "binary garbage": (b"\x00\x01\x02\xff\xfe" * 20, "binary file"),
    "not utf-8": (b"name = \"\xff\xfe\"\n", "not UTF-8"),
    "toml syntax": ("[training\nepochs = 3\n", "TOML error"),
    "duplicate key": (BASE + "[training]\nepochs = 3\nepochs = 4\n", "defined twice"),
    "duplicate table": (BASE + "[training]\nepochs = 3\n[training]\nalpha = 0.1\n", "twice"),
    "wrong type": (BASE + "[training]\nepochs = \"many\"\n", "training.epochs"),
    "wrong type section": (BASE + "training = 3\n", "training"),
    "out of range": (BASE + "[training]\nepochs = 0\n", "training.epochs: Input should be greater than or equal to 1"),
    "fraction out of range": (BASE + "[data]\ntest_fraction = 1.5\n", "data.test_fraction"),
    "negative duration": (BASE + "[timing]\nt_settle = \"-1us\"\n", "timing.t_settle"),
    "not whole picoseconds": (BASE + "[timing]\nt_settle = \"1.5ps\"\n", "timing.t_settle"),
    "bad unit": (BASE + "[timing]\nt_settle = \"10 parsec\"\n", "timing.t_settle"),
    "wrong unit": (BASE + "[timing]\nv_write = \"1 s\"\n", "timing.v_write"),
    "misspelt key": (BASE + "[training]\nepocs = 3\n", "training.epocs: unknown key; did you mean 'epochs'?"),
    "unknown section": (BASE + "[trainig]\nepochs = 3\n", "trainig: unknown key; did you mean 'training'?"),
    "unknown task": (BASE + "[data]\ntask = \"mnist\"\n", "data.task"),
    "t_min above t_max": (BASE + "[timing]\nt_min = \"5us\"\nt_max = \"1us\"\n", "t_min"),
    "missing base": ('base = "nope.toml"\n', "no such file"),
    "base not a string": ("base = 3\n", "base: must be a file name"),
    "non-physical device": (BASE + "[device.params]\nr_on = 20000.0\n", "r_on"),
    "unknown device parameter": (BASE + "[device.params]\nr_onn = 100.0\n", "device"),
    "unknown op-amp": (BASE + "[neuron]\nopamp = \"lm741\"\n", "neuron.opamp"),
    "bad fault": (BASE + "[[faults.events]]\nkind = \"stuck_on\"\nat_epoch = 1\nat_time = \"1us\"\nfraction = 0.1\n",
                  "faults.events.0"),
    "fault off the chip": (BASE + "[[faults.events]]\nkind = \"open\"\nlayer = 7\nfraction = 0.1\n", "faults.events.0.layer"),
}


def _path(tmp_path: Path, body) -> Path:
    if body is None:
        return tmp_path / "does_not_exist.toml"
    if body == "<dir>":
        d = tmp_path / "adir"
        d.mkdir()
        return d
    return scenario(tmp_path, body)


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_input_exits_2_with_one_line(tmp_path, capsys, case):
    body, message = BROKEN[case]
    path = _path(tmp_path, body)
    out_dir = tmp_path / "results"
    code, out, err = run_cli(capsys, "run", path, "--out", out_dir, "--no-progress")
    assert code == 2, (case, out, err)
    assert err.count("\n") == 1 and err.startswith("mssim run: error: "), err
    assert "Traceback" not in err
    assert message in err, err
    assert not out_dir.exists()                                    # nothing half-written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".results")]


@pytest.mark.parametrize("case", [c for c in BROKEN if c not in ("non-physical device", "unknown device parameter",
                                                                  "unknown op-amp", "fault off the chip")])
def test_validate_reports_the_same_without_running(tmp_path, capsys, case):
    body, message = BROKEN[case]
    code, _, err = run_cli(capsys, "validate", _path(tmp_path, body))
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("case", ["binary garbage", "misspelt key", "duplicate key", "missing file"])
def test_sweep_exits_2_on_broken_input(tmp_path, capsys, case):
    body, message = BROKEN[case]
    code, _, err = run_cli(capsys, "sweep", _path(tmp_path, body), "--out", tmp_path / "sw", "--workers", "0")
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "sw").exists()


@pytest.mark.parametrize("setting, message", [
    ("training.epochs", "write it as dotted.key=VALUE"),
    ("training..alpha=1", "not a dotted path"),
    ("training.alpha.x=1", "is a value, not a section"),
    ("training.alpha=-1", "training.alpha"),
    ("faults.events.0.fraction=0.1", "faults.events does not exist, so it cannot be indexed"),
])
def test_bad_set_overrides(tmp_path, capsys, setting, message):
    code, _, err = run_cli(capsys, "run", XOR, "--set", setting, "--out", tmp_path / "r")
    assert code == 2 and message in err and err.count("\n") == 1


def test_run_output_is_a_file(tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("x")
    code, _, err = run_cli(capsys, "run", XOR, "--out", f, *FAST)
    assert code == 2 and "not a folder" in err


def test_plot_on_missing_or_foreign_folder(tmp_path, capsys):
    code, _, err = run_cli(capsys, "plot", tmp_path / "nope")
    assert code == 2 and "no such folder" in err
    code, _, err = run_cli(capsys, "plot", tmp_path)
    assert code == 2 and "neither a run folder" in err


def test_validate_run_and_plot_a_run_folder(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "validate", XOR)
    assert code == 0 and "ok" in out
    r = tmp_path / "run"
    code, out, _ = run_cli(capsys, "run", XOR, "--out", r, *FAST, "--vcd", tmp_path / "step.vcd")
    assert code == 0
    names = {p.name for p in r.iterdir()}
    assert {"metrics.json", "history.csv", "events.jsonl", "config.toml", "weights.npz", "learning_curve.png",
            "weights.png", "weight_hist.png", "step_waveforms.png", "step.vcd"} <= names
    for png in ("learning_curve.png", "weights.png", "weight_hist.png", "step_waveforms.png"):
        (r / png).unlink()
    code, out, _ = run_cli(capsys, "plot", r)
    assert code == 0
    assert {"learning_curve.png", "weights.png", "weight_hist.png", "step_waveforms.png"} <= {p.name for p in r.iterdir()}


def test_vcd_reader_round_trips_the_probes(tmp_path):
    import numpy as np

    from mssim.probe import Probe, write_vcd
    from components.training.plotcmd import read_vcd

    p = Probe("neuron0.out", 2)
    p.record(0, np.array([0.0, 1.0]))
    p.record(5000, np.array([0.5, -1.25]))
    p.stop()
    write_vcd([p], tmp_path / "a.vcd")
    sig = read_vcd(tmp_path / "a.vcd")
    t, v = sig["neuron0.out"]
    assert np.allclose(t, [0.0, 5e-9]) and np.allclose(v, [[0.0, 1.0], [0.5, -1.25]])


def test_sweep_cli_writes_table_plots_and_resumes(tmp_path, capsys):
    s = scenario(tmp_path, BASE + """
[neuron]
opamp = "ideal"
[timing]
t_settle = "2us"
[training]
epochs = 4
baselines = []
[output]
plots = true
[sweep]
params = { "training.alpha" = [0.003, 0.03] }
seeds = [3, 4]
""")
    out = tmp_path / "sw"
    code, text, err = run_cli(capsys, "sweep", s, "--out", out, "--workers", "0", "--no-progress")
    assert code == 0, err
    lines = (out / "sweep.csv").read_text().splitlines()
    assert lines[0].split(",")[:4] == ["point", "training.alpha", "seed", "train_accuracy"]
    assert [l.split(",")[2] for l in lines[1:]] == ["3", "4", "3", "4"]
    assert (out / "sweep_test_accuracy.png").exists() and (out / "p0003" / "learning_curve.png").exists()
    assert json.loads((out / "sweep.json").read_text())["n_points"] == 4
    code, text, err = run_cli(capsys, "sweep", s, "--out", out, "--workers", "0", "--no-progress")
    assert code == 0 and "4 of 4 points already done" in err
    (out / "sweep_test_accuracy.png").unlink()
    code, text, _ = run_cli(capsys, "plot", out)
    assert code == 0 and (out / "sweep_test_accuracy.png").exists()
    code, text, _ = run_cli(capsys, "sweep", s, "--dry-run")
    assert code == 0 and "4 points" in text


SHIPPED = ["pulse_width_sweep.toml", "settle_sweep.toml", "stuck_at_campaign.toml", "drift_midrun.toml"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_validate_and_expand(capsys, name):
    code, out, err = run_cli(capsys, "validate", ROOT / "scenarios" / name)
    assert code == 0, err
    code, out, err = run_cli(capsys, "sweep", ROOT / "scenarios" / name, "--dry-run")
    assert code == 0 and "points over" in out
