"""The engine's sub-step control on Iris: sub-steps per pattern and how far the sampled J moves
against a run at a tight tolerance (the figures of docs/training.md, "Numerics").

Run: ``python benchmarks/substep_accuracy.py [EPOCHS]`` (default 2).  Trains scenarios/iris.toml
once per tolerance with the same seed and records every WSP measurement's (J1, J0 as held); prints,
per tolerance, the sub-steps per pattern and the largest change of J1, J0 and J1 - J0 against the
``tol = 1e-10`` run (same patterns, same perturbation signs), with the typical |J1 - J0|.
"""

from __future__ import annotations

import sys

import numpy as np

from components import engine as E
from components.training.config import load
from components.training.trainer import TrainingRun


def measure(tol_rel: float, epochs: int) -> tuple[np.ndarray, float]:
    rec: list = []
    orig = E.AnalogEngine.sample_two

    def sample_two(self, *a, **k):
        r = orig(self, *a, **k)
        rec.append(r)
        return r

    E.AnalogEngine.sample_two = sample_two
    try:
        run = TrainingRun(load("scenarios/iris.toml", ["training.eval_every=1000000", "training.baselines=[]",
                                                         f"training.epochs={epochs}"])[0])
        run.engine.tol = tol_rel * float(run.engine.vsat.max())
        res = run.run()
    finally:
        E.AnalogEngine.sample_two = orig
    return np.array(rec, dtype=float), run.engine.steps / res.metrics["patterns"]


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    ref, steps_ref = measure(1e-10, epochs)
    print(f"tol 1e-10 (reference): {steps_ref:.1f} sub-steps per pattern; typical |J1 - J0| "
          f"{np.median(np.abs(ref[:, 0] - ref[:, 1])):.3g} V")
    for tol in (3e-5, 1e-4, 3e-4):
        r, steps = measure(tol, epochs)
        m = min(len(r), len(ref))
        d1 = np.abs(r[:m, 0] - ref[:m, 0]).max()
        d0 = np.abs(r[:m, 1] - ref[:m, 1]).max()
        dd = np.abs((r[:m, 0] - r[:m, 1]) - (ref[:m, 0] - ref[:m, 1])).max()
        default = "  (the default)" if tol == E.AnalogEngine().tol_rel else ""
        print(f"tol {tol:g}: {steps:.1f} sub-steps per pattern; max |dJ1| {d1:.2e} V, max |dJ0| {d0:.2e} V, "
              f"max |d(J1 - J0)| {dd:.2e} V{default}")


if __name__ == "__main__":
    main()
