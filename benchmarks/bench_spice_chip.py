"""Benchmark: one training step of a whole chip in ngspice against the same step in mssim.

Run: ``python benchmarks/bench_spice_chip.py [REPEATS]``.

For XOR 2-4-1 (scenarios/xor.toml) and Iris 4-8-3 (scenarios/iris.toml), electrical
perturbation, training pattern 1: mssim's wall time for that step (the chip's analog engine,
what training uses), from the start of the pattern to the start of the next;
ngspice's wall time for the exported netlist (``ngspice -b``, the same step, ASCII raw
output); the ratio, and the worst rel_err of the comparison.  Medians of REPEATS runs
(default 3).  Build, calibration and the patterns before the step are not timed.  "mean step":
mssim's mean wall time per step over two whole training epochs, a steadier figure than one step.
"""

from __future__ import annotations

import statistics
import sys
import time
import tempfile
from pathlib import Path

from components.spicechip import chip_netlist, compare, mssim_step_trace, run_ngspice
from components.training.config import load
from components.training.trainer import TrainingRun

CASES = (("XOR 2-4-1", "scenarios/xor.toml"), ("Iris 4-8-3", "scenarios/iris.toml"))


def mean_step(path: str, epochs: int = 2) -> float:
    """mssim's mean wall time per training step over whole epochs (no evaluation but the last)."""
    scn, _ = load(path, [f"training.epochs={epochs}", "training.eval_every=1000000", "training.baselines=[]"])
    run = TrainingRun(scn)
    t = time.perf_counter()
    res = run.run()
    return (time.perf_counter() - t) / res.metrics["patterns"]


def main(repeats: int = 3) -> None:
    print(f"{'chip':12s} {'devices':>7s} {'mssim step':>11s} {'mean step':>10s} {'ngspice':>9s} "
          f"{'ratio (step)':>13s} {'ratio (mean)':>13s} {'worst rel_err':>14s}")
    for name, path in CASES:
        scn, _ = load(path, [])
        steps, spice = [], []
        worst = None
        for _ in range(repeats):
            tr, run = mssim_step_trace(scn, 1)
            steps.append(tr.wall_s)
            text, info = chip_netlist(run.chip, tr)
            with tempfile.TemporaryDirectory() as d:
                cir = Path(d) / "chip.cir"
                cir.write_text(text)
                vecs, wall, _ = run_ngspice(cir, Path(d) / "chip.raw")
            spice.append(wall)
            worst = compare(run.chip, tr, info, vecs, wall).worst
        n_dev = sum(sn.size for sn in info.state_nodes)
        ml, ms = statistics.median(steps), statistics.median(spice)
        mm = mean_step(path)
        print(f"{name:12s} {n_dev:7d} {ml * 1e3:8.2f} ms {mm * 1e3:7.2f} ms {ms:7.2f} s "
              f"{ms / ml:13.0f} {ms / mm:13.0f} {worst[3]:14.2e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
