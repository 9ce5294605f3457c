"""The README's settle-time claim, measured: XOR (scenarios/xor.toml) with t_settle = 3 µs (below
the neurons' ~25 µs settling) against the shipped 60 µs, seeds 1-10.

Run: ``python benchmarks/settle_claim.py``.
"""

from components.training.config import load
from components.training.trainer import TrainingRun


def main() -> None:
    for t in ("60us", "3us"):
        ok = []
        for seed in range(1, 11):
            scn, _ = load("scenarios/xor.toml", [f"seed={seed}", f"timing.t_settle={t}", "training.baselines=[]",
                                                 "output.plots=false"])
            res = TrainingRun(scn).run()
            ok.append(res.metrics["train_accuracy"] == 1.0)
        print(f"t_settle = {t}: 100 % on {sum(ok)} of 10 seeds (seeds {[s for s, o in zip(range(1, 11), ok) if o]})")


if __name__ == "__main__":
    main()
