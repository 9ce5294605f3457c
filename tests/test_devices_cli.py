"""``mssim device`` subcommand (driven through its own argparse registration)."""

import argparse
import csv

import pytest

from components.devices.cli import register
from mssim.errors import ConfigError


def _run(argv):
    ap = argparse.ArgumentParser(prog="mssim")
    register(ap.add_subparsers(dest="cmd", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


def test_pulse_train_csv_and_plot(tmp_path):
    out, png = tmp_path / "r.csv", tmp_path / "r.png"
    assert _run(["device", "team", "--preset", "hp_tio2", "--initial-resistance", "16k", "--pulse", "-1.0", "1us", "10",
                 "--pulse", "1.0", "1us", "5", "--rise", "10ns", "--fall", "10ns", "--csv", str(out),
                 "--plot", str(png)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["pulse", "t_end_s", "state", "resistance_ohm"]
    assert len(rows) == 16 and rows[-1]["pulse"] == "15"
    r = [float(x["resistance_ohm"]) for x in rows]
    assert r[10] == pytest.approx(100.0) and r[15] > r[10]   # SET runaway, then RESET
    assert png.stat().st_size > 1000


def test_sine_csv(tmp_path):
    out = tmp_path / "s.csv"
    assert _run(["device", "yakopcic", "--initial-state", "0.11", "--sine", "0.5", "100", "2",
                 "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["t_s", "v_V", "i_A", "resistance_ohm"]
    assert len(rows) == 801


@pytest.mark.parametrize("argv,match", [
    (["--set", "r_on=20k"], "TEAMParams.r_on"),
    (["--set", "bogus=1"], "TEAMParams.bogus: unknown parameter"),
    (["--set", "i_on=8.9u"], "TEAMParams.i_on"),
    (["--set", "window=hann"], "TEAMParams.window"),
    (["--set", "r_on"], "PARAM=VALUE"),
    (["--gap", "-1"], "--gap"),
    (["--initial-resistance", "1M"], "DeviceArray.r0"),
])
def test_bad_input_is_config_error(argv, match):
    with pytest.raises(ConfigError, match=match):
        _run(["device", "team", "--pulse", "1", "1us", "2"] + argv)


def test_bad_pulse_width_and_count():
    with pytest.raises(ConfigError, match="WIDTH"):
        _run(["device", "team", "--pulse", "1", "0", "2"])
    with pytest.raises(ConfigError, match="COUNT"):
        _run(["device", "team", "--pulse", "1", "1us", "0"])
