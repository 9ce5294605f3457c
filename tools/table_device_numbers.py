"""The numbers quoted in docs/devices.md, "Bring your own device" (run from the repository root).

    PYTHONPATH=. python tools/table_device_numbers.py

Prints: what the table model takes from the shipped example (range, thresholds, scatter), how well
one device replays the measured trains, scenarios/table_device.toml trained on seeds 1-5, and
program-and-verify (width and amplitude stepping) on that scenario: pulses, time, energy, errors.
About 10 s once the kernels are compiled.
"""

from __future__ import annotations

import numpy as np

from components.devices import DeviceArray, preset
from components.training.config import load
from components.training.trainer import TrainingRun
from mssim.rng import SeedTree

SCENARIO = "scenarios/table_device.toml"
QUIET = ["output.plots=false", "output.progress=false"]


def replay(p, n=1, seed=0):
    """Conductance after every pulse of the measured protocol (median over n devices)."""
    t = p.table
    arr = DeviceArray(p, n, x0=float(t.set_mean[0]), run_rng=SeedTree(seed).run_stream("device", "c2c"))
    g = [np.median(arr.conductance())]
    for v, w, k in ((-t.set_amplitude, t.set_width, t.set_curves.shape[1] - 1),
                    (t.reset_amplitude, t.reset_width, t.reset_curves.shape[1] - 1)):
        for _ in range(k):
            arr.apply_voltage(v, v, w)
            g.append(np.median(arr.conductance()))
    data = np.concatenate([t.set_mean, t.reset_mean[1:]])
    return float(np.sqrt(np.mean((np.array(g) / data - 1) ** 2)))


def main() -> None:
    p = preset("table", None, data="example_table.csv")
    s = p.summary()
    print(f"example: G {s['g_min_S']:.4g}..{s['g_max_S']:.4g} S, R {s['r_on_ohm']:.4g}..{s['r_off_ohm']:.4g} ohm; "
          f"{s['set_pulses']} SET + {s['reset_pulses']} RESET pulses x {s['set_cycles']} cycles; "
          f"scatter SET {100 * s['c2c_set']:.1f} %, RESET {100 * s['c2c_reset']:.1f} % (generator: 15 %)")
    quiet = preset("table", None, data="example_table.csv", c2c_from_data=0)
    print(f"replay, no c2c: rms deviation from the mean curve {100 * replay(quiet):.2g} %")
    print(f"replay, data c2c, median of 200 devices: {100 * replay(p, 200):.2f} %; one device: {100 * replay(p):.2f} %")
    for seed in range(1, 6):
        scn, _ = load(SCENARIO, QUIET + [f"seed={seed}"])
        m = TrainingRun(scn).run().metrics
        print(f"table_device.toml seed {seed}: {m['epochs']} epochs, train {100 * m['train_accuracy']:.0f} %, "
              f"{m['write_pulses']} write pulses, {m['warnings']} warnings")
    for extra in ([], ["program.stepping=amplitude"], ["program.tol=0.005"]):
        scn, _ = load(SCENARIO, QUIET + ["program.method=verify"] + extra)
        run = TrainingRun(scn)
        r = run.program
        m = run.run().metrics
        print(f"verify {' '.join(extra) or '(defaults)'}: {r['weights']} weights, {r['within_tol']} within tol "
              f"{r['tol']:g}, max error {r['max_error']:.4f}, {r['pulses']} pulses ({r['pulses_max_per_weight']} at "
              f"most per weight) in {r['write_pulses']} global pulses and {r['verify_reads']} verify reads, "
              f"{1e6 * r['time_s']:.1f} us ({1e6 * r['write_time_s']:.1f} us writing), "
              f"{1e9 * r['energy_j']:.3g} nJ ({1e9 * r['energy_write_j']:.3g} nJ writing); then trained to "
              f"{100 * m['train_accuracy']:.0f} % in {m['epochs']} epochs")


if __name__ == "__main__":
    main()
