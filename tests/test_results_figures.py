"""A results folder holds what every figure needs; `mssim plot` redraws them all from it alone;
the end-of-run lines print the baselines (run for the chip's epochs) and one warning per kind."""

from __future__ import annotations

import json

from mssim.cli import main

FIGS = {"learning_curve.png", "weights.png", "weight_hist.png", "energy.png", "widths.png", "step_waveforms.png"}


def test_plot_redraws_every_figure_from_the_folder(tmp_path, capsys):
    out = tmp_path / "xor"
    code = main(["run", "scenarios/xor.toml", "--out", str(out), "--no-progress", "--set", "training.epochs=4",
                 "--set", "timing.clock=2us", "--set", "timing.v_write=1V"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "baseline ideal_wsp (4 epochs)" in printed and "baseline backprop (4 epochs)" in printed
    assert printed.count("warning:") == 1 and "rounded to zero" in printed
    assert "real-time factor" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["energy_breakdown_j"]) == {"crossbar_read", "crossbar_write", "neurons", "error_circuit",
                                           "sample_hold", "comparator", "pwm", "drivers"}
    assert m["energy_per_update_j"] > 0 and m["write_energy_per_pulse_j"] > 0
    assert FIGS <= {p.name for p in out.iterdir()}
    for f in FIGS:
        (out / f).unlink()
    assert main(["plot", str(out)]) == 0
    assert FIGS <= {p.name for p in out.iterdir()}


def test_baselines_stop_where_the_chip_stopped(tmp_path, capsys):
    out = tmp_path / "stop"
    code = main(["run", "scenarios/ideal_xor.toml", "--out", str(out), "--no-progress",
                 "--set", "training.stop_at_accuracy=0.75", "--set", "training.epochs=200",
                 "--set", 'training.baselines=["ideal_wsp"]'])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["epochs"] < 200
    assert m["baselines"]["ideal_wsp"]["epochs"] == m["epochs"]


def test_device_command_prints_a_summary_and_shows_spread(tmp_path, capsys):
    csv_path, png = tmp_path / "d.csv", tmp_path / "d.png"
    code = main(["device", "team", "--preset", "symmetric", "--set", "r_on_d2d=0.1", "--set", "dx_c2c=0.1",
                 "--n", "50", "--seed", "3", "--pulse", "1", "100ns", "5", "--csv", str(csv_path), "--plot", str(png)])
    assert code == 0
    out = capsys.readouterr().out
    assert "50 devices: median" in out and str(csv_path) in out
    rows = [r.split(",") for r in csv_path.read_text().splitlines()]
    assert rows[0][-3:] == ["resistance_p5_ohm", "resistance_median_ohm", "resistance_p95_ohm"]
    last = [float(x) for x in rows[-1]]
    assert last[4] < last[5] < last[6]  # the devices differ
    assert png.stat().st_size > 0
    # one device, CSV to stdout: the summary goes to stderr
    assert main(["device", "team", "--pulse", "1", "100ns", "2", "--csv", "-"]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith("pulse,") and "final resistance" in cap.err
