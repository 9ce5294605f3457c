"""The README's "What to expect" table and the main job's wall time, regenerated.

Run: ``python benchmarks/expectations.py [--quick]`` (a few minutes on 2 cores; ``--quick`` runs
fewer seeds and epochs for a smoke check).  Prints a markdown table to paste into the README:
the chip (mssim, the shipped scenario as it is) next to the plain-numpy baselines the run itself
records (ideal WSP and backprop, same network, data, seeds and epochs), and how long
``mssim run scenarios/iris.toml`` takes here.
"""

from __future__ import annotations

import sys
import time

from components.training.config import load
from components.training.trainer import TrainingRun


def _runs(path: str, seeds, extra=()):
    out = []
    for s in seeds:
        scn, _ = load(path, [f"seed={s}", "output.plots=false", *extra])
        t = time.perf_counter()
        res = TrainingRun(scn).run()
        out.append((s, res, time.perf_counter() - t))
    return out


def main(quick: bool = False) -> None:
    rows = []
    n_xor = 3 if quick else 10
    xor = _runs("scenarios/xor.toml", range(1, n_xor + 1), ["training.baselines=[]"])
    ok = sum(r.metrics["train_accuracy"] == 1.0 for _, r, _ in xor)
    rows.append(("XOR 2-4-1", f"100 % on {ok} of {n_xor} seeds"))
    par = _runs("scenarios/parity3.toml", range(1, 4), ["training.baselines=[]"] + (["training.epochs=50"] if quick else []))
    ok = sum(r.metrics["train_accuracy"] == 1.0 for _, r, _ in par)
    rows.append(("parity-3 3-4-1", f"100 % on {ok} of 3 seeds"))
    ep = ["training.epochs=30"] if quick else []
    iris = _runs("scenarios/iris.toml", range(0, 3), ["training.baselines=[]"] + ep)
    rows.append((f"Iris 4-8-3, {iris[0][1].metrics['epochs']} epochs",
                 "test " + " / ".join(f"{100 * r.metrics['test_accuracy']:.1f}" for _, r, _ in iris) + " % (seeds 0–2)"))
    dg = _runs("scenarios/digits.toml", [1], ["training.baselines=[]"] + (["training.epochs=2"] if quick else []))
    rows.append((f"digits 64-16-10, {dg[0][1].metrics['epochs']} epochs", f"test {100 * dg[0][1].metrics['test_accuracy']:.1f} %"))
    print("| task | chip (mssim) |")
    print("|---|---|")
    for a, b in rows:
        print(f"| {a} | {b} |")
    # the README's main job exactly as a user runs it (baselines and plots included)
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from mssim.cli import main; sys.exit(main())", "run",
                        "scenarios/iris.toml", "--out", f"{d}/iris", "--no-progress"], check=True,
                       stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t
        import json

        m = json.loads(open(f"{d}/iris/metrics.json").read())
    print(f"\nmain job (mssim run scenarios/iris.toml, baselines and plots included): {dt:.0f} s wall, "
          f"train {100 * m['train_accuracy']:.1f} %, test {100 * m['test_accuracy']:.1f} %")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
