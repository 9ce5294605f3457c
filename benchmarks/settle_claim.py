"""The README's claims about XOR (scenarios/xor.toml), measured on seeds 1-10: t_settle = 3 µs
(below the neurons' ~25 µs settling) against the designed 100 µs, and the TEAM fit of the HP TiO2
device (device.preset = hp_tio2) against the shipped symmetric preset.

Run: ``python benchmarks/settle_claim.py``.
"""

from components.training.config import load
from components.training.trainer import TrainingRun


def main() -> None:
    for label, sets in (("shipped (designed: t_settle = 100us; symmetric)", []), ("t_settle = 3us", ["timing.t_settle=3us"]),
                        ("device.preset = hp_tio2", ["device.preset=hp_tio2"])):
        ok = []
        for seed in range(1, 11):
            scn, _ = load("scenarios/xor.toml", [f"seed={seed}", "training.baselines=[]", "output.plots=false", *sets])
            res = TrainingRun(scn).run()
            ok.append(res.metrics["train_accuracy"] == 1.0)
        print(f"{label}: 100 % on {sum(ok)} of 10 seeds (seeds {[s for s, o in zip(range(1, 11), ok) if o]})")


if __name__ == "__main__":
    main()
