"""Checkpoint and resume (``--checkpoint-every N``, ``mssim resume DIR``) and warm starts (``--init-weights``).

The bit-exactness tests kill a run right after one of its checkpoints (KeyboardInterrupt, as
Ctrl-C or SIGTERM would), resume it, and compare every file with an uninterrupted run of the
same scenario; a negative control shows the comparison catches a checkpoint that lost state.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from mssim.cli import main

from components.training import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "scenarios" / "xor.toml"
QUIET = ["--set", "training.baselines=[]", "--no-progress"]


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def kill_after(monkeypatch, epochs_done: int) -> None:
    """Make the run die (as on Ctrl-C/SIGTERM) right after writing the checkpoint of ``epochs_done``."""
    save = ckpt.Checkpointer.save

    def save_then_die(self, n):
        ok = save(self, n)
        if n == epochs_done:
            raise KeyboardInterrupt
        return ok

    monkeypatch.setattr(ckpt.Checkpointer, "save", save_then_die)


def same_results(a: Path, b: Path) -> None:
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for name in ("history.csv", "events.jsonl", "config.toml", "step.vcd"):
        if (a / name).exists():
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    for k in ("wall_time_s", "real_time_factor"):  # wall-clock figures
        ma.pop(k), mb.pop(k)
    assert ma == mb
    with np.load(a / "weights.npz") as za, np.load(b / "weights.npz") as zb:
        assert za.files == zb.files
        for k in za.files:
            assert np.array_equal(za[k], zb[k]), k


FAULTS = """
[[faults.events]]
kind = "stuck_on"
at_epoch = 4
fraction = 0.1
[[faults.events]]
kind = "open"
at_time = "1.6ms"
layer = 0
devices = [1, 2]
[[faults.events]]
kind = "stuck_off"
rate = 1e-3
pulses = "update"
[[faults.events]]
kind = "opamp_offset"
at_epoch = 1
value = 0.01
[[faults.events]]
kind = "amplitude"
value = -0.05
std = 0.01
[[faults.events]]
kind = "drop_pulse"
rate = 0.01
[[faults.events]]
kind = "jitter"
at_epoch = 1
value = 1e-9
"""

PROCESS_FAULTS = """
[[faults.events]]
kind = "drift"
at_epoch = 1
value = 2.0
std = 100.0
period = "37us"
[[faults.events]]
kind = "stuck_off"
rate = 300.0
per = "s"
at_epoch = 2
[[faults.events]]
kind = "drift"
value = -1.0
layer = 1
period = "50us"
[[faults.events]]
kind = "drop_pulse"
rate = 3000.0
per = "s"
"""

CASES = {
    # the shipped XOR chip: typical op-amps, plots on (pattern 0 recorded eagerly), device noise
    "xor": ("", ["--set", "output.vcd=true"]),
    "xor, written perturbation, LFSR signs": ("", ["--set", "training.perturbation=written",
                                                    "--set", "training.signs=lfsr"]),
    "xor, random weight change": ("", ["--set", "training.algorithm=rwc"]),
    "xor with faults, recorded step after the checkpoint": (FAULTS, ["--set", "output.vcd_pattern=19"]),
    # fault processes: drift (from the start and from epoch 1), per-second failures and drops
    "xor with drift and per-second fault processes": (PROCESS_FAULTS, []),
    # a device from data (c2c from its scatter) and weights written by program-and-verify
    "xor, table device, program-and-verify": ("", ["--set", "device.model=table", "--set", "device.preset=measured",
                                                   "--set", "device.params.data=example_table.csv",
                                                   "--set", "timing.v_write=2V", "--set", "timing.clock=100ps",
                                                   "--set", "program.method=verify"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_resume_is_bit_identical(tmp_path, capsys, monkeypatch, case):
    body, sets = CASES[case]
    s = tmp_path / "s.toml"
    s.write_text(f'base = "{XOR}"\n[training]\nepochs = 6\n' + body)
    a, b = tmp_path / "a", tmp_path / "b"
    code, _, err = cli(capsys, "run", s, "--out", a, *QUIET, *sets)
    assert code == 0, err
    kill_after(monkeypatch, 4)
    code, _, err = cli(capsys, "run", s, "--out", b, "--checkpoint-every", "2", *QUIET, *sets)
    assert code == 130 and not b.exists()
    assert ckpt.checkpoint_path(b).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b.checkpoint", "s.toml"]   # no temp, no lock
    assert pickle.loads(ckpt.checkpoint_path(b).read_bytes())["epochs_done"] == 4
    monkeypatch.undo()
    code, out, err = cli(capsys, "resume", b, "--no-progress")
    assert code == 0, err
    assert f"results: {b}" in out
    same_results(a, b)
    assert not ckpt.checkpoint_path(b).exists()                     # done: the checkpoint is gone


def test_a_checkpoint_that_loses_state_is_caught(tmp_path, capsys, monkeypatch):
    """Negative control: resuming with the device states of the checkpoint scrambled changes the result."""
    s = tmp_path / "s.toml"
    s.write_text(f'base = "{XOR}"\n[training]\nepochs = 4\n')
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli(capsys, "run", s, "--out", a, *QUIET)[0] == 0
    kill_after(monkeypatch, 2)
    assert cli(capsys, "run", s, "--out", b, "--checkpoint-every", "2", *QUIET)[0] == 130
    monkeypatch.undo()
    path = ckpt.checkpoint_path(b)
    payload = pickle.loads(path.read_bytes())
    kind, U = payload["engine"]["blocks"]["block:xbar0"]["device_array.U"]
    payload["engine"]["blocks"]["block:xbar0"]["device_array.U"] = (kind, U[::-1].copy())
    path.write_bytes(pickle.dumps(payload))
    assert cli(capsys, "resume", b, "--no-progress")[0] == 0
    with pytest.raises(AssertionError):
        same_results(a, b)


def test_checkpoint_holds_what_the_docs_say(tmp_path, capsys, monkeypatch):
    s = tmp_path / "s.toml"
    s.write_text(f'base = "{XOR}"\n[training]\nepochs = 3\n')
    kill_after(monkeypatch, 1)
    assert cli(capsys, "run", s, "--out", tmp_path / "b", "--checkpoint-every", "1", *QUIET)[0] == 130
    p = pickle.loads(ckpt.checkpoint_path(tmp_path / "b").read_bytes())
    eng = p["engine"]
    assert p["epochs_done"] == 1 and len(p["history"]) == 1 and p["events"][0]["kind"] == "calibration"
    assert eng["now"] > 0
    ctl = eng["blocks"]["block:controller"]
    assert ctl["order_rng"][0] == "rng" and ctl["signs.rng"][0] == "rng" and ctl["patterns_done"][1] == 4
    xb = eng["blocks"]["block:xbar0"]
    assert {"device_array.U", "device_array.flags", "device_array.run_rng"} <= set(xb)
    assert "neuron0.out" in eng["nets"]


def test_resume_errors(tmp_path, capsys):
    code, _, err = cli(capsys, "resume", tmp_path / "nothing")
    assert code == 2 and err.count("\n") == 1 and "no checkpoint" in err and "--checkpoint-every" in err
    fin = tmp_path / "fin"
    assert cli(capsys, "run", XOR, "--out", fin, "--set", "training.epochs=1", "--set", "output.plots=false",
               *QUIET)[0] == 0
    code, _, err = cli(capsys, "resume", fin)
    assert code == 2 and "has finished" in err
    ckpt.checkpoint_path(tmp_path / "bad").write_bytes(b"not a pickle")
    code, _, err = cli(capsys, "resume", tmp_path / "bad")
    assert code == 2 and err.count("\n") == 1 and "not a readable mssim checkpoint" in err
    code, _, err = cli(capsys, "resume", "")
    assert code == 2 and "empty" in err


def test_run_refuses_to_bury_an_unfinished_checkpoint(tmp_path, capsys):
    ckpt.checkpoint_path(tmp_path / "r").write_bytes(b"x")
    code, _, err = cli(capsys, "run", XOR, "--out", tmp_path / "r", *QUIET)
    assert code == 2 and f"mssim resume {tmp_path / 'r'}" in err
    assert ckpt.checkpoint_path(tmp_path / "r").read_bytes() == b"x"


@pytest.mark.parametrize("extra, message", [
    (["--checkpoint-every", "0"], "--checkpoint-every: must be a positive number"),
])
def test_checkpoint_option_errors(tmp_path, capsys, extra, message):
    code, _, err = cli(capsys, "run", XOR, "--out", tmp_path / "r", *QUIET, *extra)
    assert code == 2 and err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- warm start
def test_init_weights_programs_the_chip(tmp_path, capsys, monkeypatch):
    import components.training.runner as runner

    a = tmp_path / "a"
    assert cli(capsys, "run", XOR, "--out", a, "--set", "training.epochs=20", "--set", "output.plots=false",
               *QUIET)[0] == 0
    with np.load(a / "weights.npz") as z:
        trained = np.concatenate([z["layer0"].ravel(), z["layer1"].ravel()])
    seen = {}
    real = runner._simulate

    def spy(run):
        seen["w0"] = run.chip.weights_flat()
        return real(run)

    monkeypatch.setattr(runner, "_simulate", spy)
    code, _, err = cli(capsys, "run", XOR, "--out", tmp_path / "b", "--init-weights", a / "weights.npz",
                       "--set", "training.epochs=1", "--set", "output.plots=false", *QUIET)
    assert code == 0, err
    assert np.allclose(seen["w0"], trained, atol=1e-6)
    assert not np.allclose(seen["w0"], real.__globals__["np"].zeros_like(trained), atol=1e-3)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b"garbage"), "not a readable .npz"),
    (lambda p: np.savez(p, layer0=np.zeros((3, 4))), "no array 'layer1'"),
    (lambda p: np.savez(p, layer0=np.zeros((4, 4)), layer1=np.zeros((5, 1))), "layer0 has shape (4, 4)"),
    (lambda p: np.savez(p, layer0=np.full((3, 4), np.nan), layer1=np.zeros((5, 1))), "non-finite"),
])
def test_init_weights_errors(tmp_path, capsys, make, message):
    f = tmp_path / "w.npz"
    make(f)
    code, _, err = cli(capsys, "run", XOR, "--out", tmp_path / "r", "--init-weights", f, *QUIET)
    assert code == 2 and err.count("\n") == 1 and "--init-weights" in err and message in err
    assert not (tmp_path / "r").exists()


def test_leftover_checkpoint_of_a_finished_run(tmp_path, capsys):
    fin = tmp_path / "fin"
    assert cli(capsys, "run", XOR, "--out", fin, "--set", "training.epochs=1", "--set", "output.plots=false",
               *QUIET)[0] == 0
    payload = {"format": ckpt.FORMAT, "mssim_version": __import__("mssim").__version__, "overwrite": False}
    ckpt.checkpoint_path(fin).write_bytes(pickle.dumps(payload))
    code, _, err = cli(capsys, "resume", fin)
    assert code == 2 and err.count("\n") == 1 and "has finished" in err and "left over" in err


def test_sigkill_then_resume(tmp_path, capsys):
    """A real kill: SIGKILL leaves a stale lock and maybe a temporary folder; resume cleans up and
    finishes with the bits of an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    s = tmp_path / "s.toml"
    s.write_text(f'base = "{XOR}"\n[training]\nepochs = 40\n[output]\nplots = false\n')
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli(capsys, "run", s, "--out", a, *QUIET)[0] == 0
    cmd = [sys.executable, "-c", "import sys; from mssim.cli import main; sys.exit(main())", "run", str(s),
           "--out", str(b), "--checkpoint-every", "1", *QUIET]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = ckpt.checkpoint_path(b)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if path.exists():
            try:
                if pickle.loads(path.read_bytes())["epochs_done"] >= 3:
                    break
            except Exception:  # caught mid-rename: try again
                pass
        time.sleep(0.05)
    if p.poll() is not None:
        pytest.skip("the run finished before it could be killed (machine too fast for this test)")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert (tmp_path / ".b.mssim-lock").exists() and not b.exists()
    code, _, err = cli(capsys, "resume", b, "--no-progress")
    assert code == 0, err
    same_results(a, b)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a", "b", "s.toml"]
