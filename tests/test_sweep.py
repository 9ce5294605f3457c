"""Sweeps: expansion, resume, and identical tables on a local cluster, a loopback scheduler and after a worker dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mssim.errors import ConfigError
from mssim.scenario import load_scenario

from components.training.config import validate_scenario
from components.training.sweep import Sweep, expand, load_sweep

ROOT = Path(__file__).resolve().parents[1]
TINY = f"""
base = "{ROOT / 'scenarios' / 'xor.toml'}"
name = "tiny"
[neuron]
opamp = "ideal"
[timing]
t_settle = "2us"
[training]
epochs = {{epochs}}
baselines = []
stop_at_accuracy = 1.0
[output]
plots = false
[sweep]
design = "grid"
params = {{{{ "training.alpha" = [0.003, 0.03], "timing.t_max" = ["2us", "10us"] }}}}
repeats = 2
"""


def tiny(tmp_path: Path, epochs: int = 12) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY.format(epochs=epochs))
    return p


def sweep_of(text_overrides: dict, tmp_path: Path) -> Sweep:
    raw = load_scenario(tiny(tmp_path))
    raw["sweep"] = text_overrides
    return Sweep(validate_scenario(raw, "s"), raw, "s", tmp_path / "out")


def test_grid_zip_random_and_seeds(tmp_path):
    g = sweep_of({"params": {"training.alpha": [0.1, 0.2], "training.c": [0.01, 0.02, 0.03]}, "repeats": 2}, tmp_path)
    assert len(g.points) == 12
    assert [p.values for p in g.points[:4:2]] == [{"training.alpha": 0.1, "training.c": 0.01},
                                                  {"training.alpha": 0.1, "training.c": 0.02}]
    assert [p.seed for p in g.points[:4]] == [1, 2, 1, 2]          # seeds innermost, from the base seed
    z = sweep_of({"design": "zip", "params": {"training.alpha": [0.1, 0.2], "training.c": [0.01, 0.02]},
                  "seeds": [5, 9]}, tmp_path)
    assert [(p.values["training.c"], p.seed) for p in z.points] == [(0.01, 5), (0.01, 9), (0.02, 5), (0.02, 9)]
    r1 = sweep_of({"design": "random", "samples": 5, "params": {"training.alpha": {"low": 1e-3, "high": 1e-1, "log": True},
                                                                 "network.hidden": [[2], [4]]}}, tmp_path)
    r2 = sweep_of({"design": "random", "samples": 5, "params": {"training.alpha": {"low": 1e-3, "high": 1e-1, "log": True},
                                                                 "network.hidden": [[2], [4]]}}, tmp_path)
    assert [p.values for p in r1.points] == [p.values for p in r2.points]
    assert all(1e-3 <= p.values["training.alpha"] <= 1e-1 for p in r1.points)
    assert r1.resolved[0]["network.hidden"] in ([2], [4])


def test_units_resolve_and_list_indices(tmp_path):
    raw = load_scenario(tiny(tmp_path))
    raw["faults"] = {"events": [{"kind": "stuck_on", "fraction": 0.0}]}
    raw["sweep"] = {"params": {"timing.t_settle": ["1us", "3 us"], "faults.events.0.fraction": [0.1]}}
    sw = Sweep(validate_scenario(raw, "s"), raw, "s", tmp_path / "o")
    assert [r["timing.t_settle"] for r in sw.resolved] == [1e-6, 3e-6]
    assert sw.raws[0]["faults"]["events"][0]["fraction"] == 0.1 and "sweep" not in sw.raws[0]


@pytest.mark.parametrize("sweep, match", [
    ({"params": {"training.alpah": [0.1]}}, r"sweep point 0.*training\.alpah: unknown key; did you mean 'alpha'"),
    ({"params": {"training.alpha": [0.1, -1.0]}}, r"sweep point 1.*training\.alpha"),
    ({"params": {"training.alpha": []}}, "give at least one value"),
    ({"design": "zip", "params": {"training.alpha": [0.1], "training.c": [0.1, 0.2]}}, "equal length"),
    ({"params": {"training.alpha": {"low": 0.1, "high": 0.2}}}, "needs design = 'random'"),
    ({"params": {"faults.events.3.fraction": [0.1]}}, r"faults\.events\.3"),
    ({"params": {"seed..x": [1]}}, "not a dotted key"),
    ({"seeds": [1, 1]}, "must not repeat"),
])
def test_broken_sweeps_are_refused_before_running(tmp_path, sweep, match):
    with pytest.raises(ConfigError, match=match):
        sweep_of(sweep, tmp_path)
    assert not (tmp_path / "out").exists()


def test_serial_resume_skips_done_points_and_refuses_another_sweep(tmp_path):
    sw = load_sweep(tiny(tmp_path), out=tmp_path / "s")
    sw.run(workers=0)
    table = (tmp_path / "s" / "sweep.csv").read_bytes()
    lines = table.decode().splitlines()
    assert lines[0].startswith("point,training.alpha,timing.t_max,seed,train_accuracy,test_accuracy")
    assert len(lines) == 9 and "wall" not in lines[0]
    kept = (tmp_path / "s" / "p0001" / "metrics.json").stat().st_mtime_ns
    import shutil

    shutil.rmtree(tmp_path / "s" / "p0005")
    (tmp_path / "s" / "sweep.csv").unlink()
    ran = []
    load_sweep(tiny(tmp_path), out=tmp_path / "s").run(workers=0, on_point=ran.append)
    assert ran == [5]
    assert (tmp_path / "s" / "sweep.csv").read_bytes() == table
    assert (tmp_path / "s" / "p0001" / "metrics.json").stat().st_mtime_ns == kept
    with pytest.raises(ConfigError, match="holds a different sweep"):
        load_sweep(tiny(tmp_path), ["training.epochs=3"], out=tmp_path / "s")._prepare_folder()


def _serial_table(tmp_path: Path, epochs: int) -> bytes:
    load_sweep(tiny(tmp_path, epochs), out=tmp_path / "serial").run(workers=0)
    return (tmp_path / "serial" / "sweep.csv").read_bytes()


@pytest.mark.slow
def test_local_cluster_and_loopback_scheduler_give_the_serial_table(tmp_path):
    ref = _serial_table(tmp_path, 12)
    load_sweep(tiny(tmp_path), out=tmp_path / "local").run(workers=2)
    assert (tmp_path / "local" / "sweep.csv").read_bytes() == ref
    with loopback_cluster(tmp_path, n_workers=2) as (address, _workers):
        load_sweep(tiny(tmp_path), out=tmp_path / "remote").run(scheduler=address)
    assert (tmp_path / "remote" / "sweep.csv").read_bytes() == ref


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(tmp_path):
    epochs = 150  # a few tenths of a second per point, so the kill lands on a running task
    ref = _serial_table(tmp_path, epochs)
    with loopback_cluster(tmp_path, n_workers=2) as (address, workers):
        from distributed import Client

        killed = []

        def killer():
            with Client(address, timeout="20s") as c:
                deadline = time.time() + 60
                while time.time() < deadline:
                    busy = [w for w, tasks in c.processing().items() if tasks]
                    if busy:
                        pids = c.run(os.getpid, workers=[busy[0]])
                        pid = pids[busy[0]]
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        return
                    time.sleep(0.02)

        t = threading.Thread(target=killer)
        t.start()
        load_sweep(tiny(tmp_path, epochs), out=tmp_path / "remote").run(scheduler=address)
        t.join()
    assert killed and killed[0] in [w.pid for w in workers]
    table = (tmp_path / "remote" / "sweep.csv").read_bytes()
    assert table == ref
    rows = table.decode().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == [str(i) for i in range(8)]


class loopback_cluster:
    """A real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (no nanny: a killed worker stays dead)."""

    def __init__(self, tmp_path: Path, n_workers: int) -> None:
        self.file = tmp_path / "scheduler.json"
        self.n = n_workers
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
        self.procs.append(subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                            "--scheduler-file", str(self.file)], env=env, cwd=ROOT,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 60
        while not self.file.exists() and time.time() < deadline:
            time.sleep(0.1)
        import json

        address = json.loads(self.file.read_text())["address"]
        workers = []
        for _ in range(self.n):
            w = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                  "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(w)
            workers.append(w)
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(self.n, timeout=60)
        return address, workers

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        return False
