"""Benchmark: WSP against backprop on the reference network, with the task presets.

Run: ``python benchmarks/bench_reference.py [--tasks xor,parity3,iris,digits] [--seeds N]``.
Prints, per task and algorithm, the final train/test accuracy (mean over
seeds), how many seeds reach 100 % training accuracy, and the wall time.  XOR
and parity3 stop a seed early once it is solved (all patterns right, mean
J < 0.02).  Digits takes about a minute per seed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from components.learning.datasets import load_task
from components.learning.presets import PRESETS
from components.learning.reference import backprop_train, wsp_train

DEFAULT_SEEDS = {"xor": 10, "parity3": 10, "iris": 3, "digits": 1}


def solved(epoch, hist):
    return hist.train_accuracy[-1] == 1.0 and hist.train_loss[-1] < 0.02


def run(task_name: str, n_seeds: int) -> None:
    task = load_task(task_name, seed=0)
    p = PRESETS[task_name]
    stop = solved if not task.has_test_split else None
    for algo, train, kwargs in (("wsp", wsp_train, p.wsp_kwargs()), ("backprop", backprop_train, p.backprop_kwargs())):
        t0 = time.perf_counter()
        tr, te, full, epochs = [], [], 0, []
        for seed in range(n_seeds):
            h = train(task, p.shape, seed=seed, callback=stop, **kwargs)
            tr.append(h.train_accuracy[-1])
            te.append(h.test_accuracy[-1])
            full += h.train_accuracy[-1] == 1.0
            epochs.append(h.epochs_run)
        split = "" if task.has_test_split else " (no split: test = train)"
        print(f"{task_name:8s} {algo:9s} shape={p.shape} train={np.mean(tr):.3f} test={np.mean(te):.3f}{split} "
              f"100%-train seeds={full}/{n_seeds} median epochs={int(np.median(epochs))} "
              f"time={time.perf_counter() - t0:.1f}s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="xor,parity3,iris,digits")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per task (default: 10/10/3/1)")
    args = ap.parse_args()
    for name in args.tasks.split(","):
        run(name, args.seeds or DEFAULT_SEEDS[name])


if __name__ == "__main__":
    main()
