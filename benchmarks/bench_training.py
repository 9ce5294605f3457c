"""Benchmark: event-level WSP training on the chip vs the plain-numpy WSP reference.

Run: ``python benchmarks/bench_training.py [EPOCHS]``.

1. Iris (scenarios/iris.toml), the same patterns, seeds and epochs: ``components.learning.wsp_train``
   (plain numpy, ideal weights) against mssim's run of scenarios/iris.toml (TEAM-class devices,
   op-amp neurons with finite settling integrated by the one analog engine, S&H, comparator,
   PWM, write pulses with edges, every duration timed), three times each, interleaved.  Prints the
   best CPU time of each (and the best wall times), the ratio, the integrator's sub-steps per pattern
   and the real-time factor.
2. A 784-100-10 chip on the synthetic task: pattern updates per second and peak resident memory
   (:func:`chip_synthetic`, in its own process with the kernels already compiled by part 1, so the
   peak is the chip's; ``benchmarks/bench_scaling.py`` runs every size in its own process).
"""

from __future__ import annotations

import sys
import time


from components.learning import wsp_train
from components.training.config import load
from components.training.trainer import TrainingRun


def iris(epochs: int, repeats: int = 3) -> dict:
    """mssim's run of scenarios/iris.toml against the numpy WSP loop on the same patterns, seeds and
    epochs, ``repeats`` times each, interleaved.  Each figure is the best of the repeats in CPU time
    of this process (``time.process_time``): on a shared machine the other processes' load moves
    wall time far more than CPU time (wall times are printed too)."""
    sets = ["training.eval_every=1000000", "training.baselines=[]"]
    # load the compiled kernels from numba's cache first (a fixed cost per process, not per pattern)
    t = time.perf_counter()
    TrainingRun(load("scenarios/iris.toml", ["training.epochs=1", *sets])[0]).run()
    t_warm = time.perf_counter() - t
    chip_cpu, chip_wall, ref_cpu, ref_wall = [], [], [], []
    for _ in range(repeats):
        scn, _ = load("scenarios/iris.toml", [f"training.epochs={epochs}", *sets])
        run = TrainingRun(scn)  # build + calibration (not timed)
        w, c = time.perf_counter(), time.process_time()
        res = run.run()
        chip_cpu.append(time.process_time() - c)
        chip_wall.append(time.perf_counter() - w)
        w, c = time.perf_counter(), time.process_time()
        ref = wsp_train(run.task, run.sizes, seed=scn.seed, epochs=epochs, alpha=scn.training.alpha, c=scn.training.c,
                        gain=scn.neuron.gain, act="tanh", init_scale=scn.synapse.w_init,
                        w_max=run.chip.crossbars[0].w_max, clip_perturbed=False)
        ref_cpu.append(time.process_time() - c)
        ref_wall.append(time.perf_counter() - w)
    n = res.metrics["patterns"]
    t_chip, t_ref = min(chip_cpu), min(ref_cpu)
    print(f"Iris {'-'.join(map(str, run.sizes))}, {epochs} epochs, {n} pattern updates, best of {repeats} "
          f"(a 1-epoch warm-up run first loaded the compiled kernels: {t_warm:.2f} s)")
    print(f"  numpy WSP reference : {t_ref:8.3f} s CPU ({t_ref / n * 1e6:6.1f} us per pattern; wall {min(ref_wall):.3f} s), "
          f"train acc {ref.train_accuracy[-1]:.3f}")
    print(f"  mssim chip          : {t_chip:8.3f} s CPU ({t_chip / n * 1e6:6.1f} us per pattern; wall {min(chip_wall):.3f} s), "
          f"train acc {res.metrics['train_accuracy']:.3f}")
    print(f"  ratio mssim / numpy : {t_chip / t_ref:8.2f}x   (wall {min(chip_wall) / min(ref_wall):.2f}x; simulated hardware "
          f"time {res.metrics['sim_time_s'] * 1e3:.2f} ms, real-time factor {res.metrics['real_time_factor']:.3g}, "
          f"{run.engine.steps / n:.1f} engine sub-steps per pattern)", flush=True)
    return {"chip_us": t_chip / n * 1e6, "numpy_us": t_ref / n * 1e6, "ratio": t_chip / t_ref}


def chip_synthetic(n_in: int = 784, hidden: int = 100, n_out: int = 10, n_patterns: int = 20,
                   extra: tuple = (), warmup: bool = True) -> dict:
    """An n_in-hidden-n_out chip on the synthetic task (data.task = "synthetic") with the default physics of
    scenarios/digits.toml: pattern updates per second of the event-level run (build and calibration not
    timed) and the process's peak resident memory (ru_maxrss, not tracemalloc).  Run one size per process
    (benchmarks/bench_scaling.py does) for a clean peak."""
    import resource

    from components.learning.datasets import task_from_config

    sets = [f"network.hidden=[{hidden}]", "data.task=synthetic", f"data.n_inputs={n_in}", f"data.n_outputs={n_out}",
            f"data.n_patterns={n_patterns}", "training.epochs=1", "training.eval_every=1000000",
            "training.baselines=[]", *extra]
    scn, _ = load("scenarios/digits.toml", sets)
    task = task_from_config(scn.data, scn.seed)
    if warmup:  # compile / load the numba caches on a small chip first (not timed, small RSS); 65x40 units
        # take the large-array write paths too
        wsc, _ = load("scenarios/digits.toml", [s for s in sets if not s.startswith(("network.", "data.n_"))]
                      + ["network.hidden=[40]", "data.n_inputs=64", "data.n_outputs=2", "data.n_patterns=3"])
        TrainingRun(wsc, task=task_from_config(wsc.data, wsc.seed)).run()
    run = TrainingRun(scn, task=task)
    t = time.perf_counter()
    run.run()
    dt = time.perf_counter() - t
    n = run.controller.patterns_done
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    out = dict(size=f"{n_in}-{hidden}-{n_out}", synapses=run.chip.n_weights, devices=2 * run.chip.n_weights,
               patterns=n, seconds=dt, updates_per_s=n / dt, peak_rss_mib=rss)
    print(f"{out['size']} chip ({out['synapses']} synapses, {out['devices']} devices), {n} patterns: "
          f"{out['updates_per_s']:8.2f} pattern updates/s ({dt / n * 1e3:.1f} ms each), peak RSS {rss:.0f} MiB",
          flush=True)
    return out


if __name__ == "__main__":
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    iris(epochs)
    # the chip in a process of its own (benchmarks/bench_scaling.py), so that its peak RSS is the chip's, not
    # the Iris run's or the kernel compilation's (once per installed source version; the Iris run has filled
    # the cache: a first run with an empty cache peaks at ~860 MiB, nearly all of it LLVM)
    from bench_scaling import run_size
    run_size("784-100-10", 20)
