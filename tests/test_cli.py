import subprocess
import sys

from mssim import __version__
from mssim.cli import main


def test_version_and_help(capsys):
    out = subprocess.run([sys.executable, "-m", "mssim.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"mssim {__version__}"
    out = subprocess.run([sys.executable, "-m", "mssim.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "COMMAND" in out.stdout


def test_no_command_exits_2(capsys):
    assert main([]) == 2


def test_user_error_is_one_line_exit_2(capsys, monkeypatch):
    import argparse

    from mssim.errors import ConfigError

    def failing(args):
        raise ConfigError("TEAMParams.r_on: must be below r_off (got 2e4)")

    def fake_parser():
        p = argparse.ArgumentParser(prog="mssim")
        sub = p.add_subparsers(dest="command")
        s = sub.add_parser("boom")
        s.set_defaults(func=failing)
        return p

    monkeypatch.setattr("mssim.cli.build_parser", fake_parser)
    assert main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "mssim boom: error: TEAMParams.r_on: must be below r_off (got 2e4)"
    assert "Traceback" not in err
