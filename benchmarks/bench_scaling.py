"""Scaling table: pattern updates/s and peak resident memory of chips of growing size on the synthetic
task, plus the device-write cost per pattern of the largest.

    python benchmarks/bench_scaling.py [--patterns N] [--sizes 4-8-3,64-16-10,...]
    python benchmarks/bench_scaling.py --split 784-100-10 --patterns 60   # where a pattern's time goes

Each size runs in its own process (``benchmarks/bench_training.py:chip_synthetic``) so that the peak
RSS (ru_maxrss) is that chip's alone.  Default physics of scenarios/digits.toml (TEAM symmetric pairs,
typical op-amps, 1 V writes); data.task = "synthetic" (inputs in [-1, 1], labels from a seeded teacher).
The write part: one +1 V trapezoid (10 ns edges) of each PWM width class through the 784-100-10
array (159,020 devices), the cost every pattern pays for its update pulse.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZES = ("4-8-3", "64-16-10", "64-100-10", "784-100-10", "784-300-10")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _child(size: str, patterns: int) -> None:
    sys.path.insert(0, HERE)
    from bench_training import chip_synthetic
    n_in, hid, n_out = (int(x) for x in size.split("-"))
    out = chip_synthetic(n_in, hid, n_out, patterns)
    print("RESULT " + json.dumps(out), flush=True)


def write_cost(n_devices: int = 159020, width: float = 1e-6) -> None:
    """Wall time of one +-1 V write trapezoid through a symmetric-TEAM pair array of the 784-100-10 size (the
    crossbar's layout: + devices in one block, - devices in the next): one ``apply_pair_pieces`` call (the
    training path: one kernel pass, each piece one cycle), three ``apply_pair`` calls (bit-identical states)
    and one ``apply_pair_pulse`` call; and the same single-threaded (the pieces kernel picks its twin by cost)."""
    from components.devices import DeviceArray, kernels, preset
    from mssim import SeedTree
    n_pairs = n_devices // 2
    tree = SeedTree(0)
    p = preset("team", "symmetric")
    arr = DeviceArray(p, 2 * n_pairs, build_rng=tree.build_stream("b", "d2d"))
    arr.set_state(np.arange(arr.n), p.from_u(tree.build_stream("b", "init").uniform(0.2, 0.8, arr.n)))
    pos = np.arange(0, n_pairs, dtype=np.int64)
    neg = pos + n_pairs
    v = tree.build_stream("b", "sign").choice([-1.0, 1.0], n_pairs)
    z = np.zeros(n_pairs)
    u0 = arr.u.copy()
    pieces = [(0.0, 1.0, 10e-9), (1.0, 1.0, width), (1.0, 0.0, 10e-9)]
    energy = np.empty(n_pairs)

    def serial():
        kernels.apply_pair_pieces_ser(arr.model, arr.P, arr.U, arr.dU, arr.flags, arr.switch_count, arr._limit,
                                      arr._stuck_u, p.switch_dx, pos, neg, v, np.array([0.0, 1.0, 1.0]),
                                      np.array([1.0, 1.0, 0.0]), np.array([10e-9, width, 10e-9]), arr.rtol, arr.atol,
                                      arr.rate_cap, True, arr._uniform, 0.0, 0.0, np.zeros((1, 1)), energy,
                                      arr.path_counts)

    runs = {"1 apply_pair_pieces call": lambda: arr.apply_pair_pieces(pieces, v, pos, neg),
            "the same, single-threaded kernel": serial,
            "3 apply_pair calls": lambda: [arr.apply_pair(a * v, b * v, T, pos, neg) for a, b, T in pieces],
            "1 apply_pair_pulse call": lambda: arr.apply_pair_pulse(v, width, 10e-9, 10e-9, pos, neg)}
    times = {k: [] for k in runs}
    ref = None
    for rep in range(5):
        for label, fn in runs.items():
            arr.set_state(np.arange(arr.n), p.from_u(u0))
            t0 = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t0)
            if label == "1 apply_pair_pieces call":
                ref = arr.u.copy()
            elif label != "1 apply_pair_pulse call":
                assert np.array_equal(ref, arr.u)
    for label, ts in times.items():
        ts = sorted(ts[1:])  # the first round loads the numba caches
        print(f"write pulse (+-1 V, {width * 1e6:g} us flat, 10 ns edges) through {arr.n} devices (784-100-10), "
              f"{label}: {ts[0] * 1e3:.1f}-{ts[-1] * 1e3:.1f} ms -> {arr.n / ts[0]:.3g} device-pulses/s (best)",
              flush=True)


def split(size: str, patterns: int) -> None:
    """Where a pattern's time goes (cProfile self time of the timed run, per pattern): the device write
    kernels (``apply_pair_pieces``), the analog engine (components/engine.py), the rest of the device layer,
    and everything else (controller, crossbar Python, numpy)."""
    import cProfile
    import pstats

    sys.path.insert(0, HERE)
    import bench_training
    prof = cProfile.Profile()
    orig = bench_training.TrainingRun.run
    calls = []

    def run(self):
        calls.append(self)
        if len(calls) == 2:  # the timed run (the first is the warm-up on a tiny chip)
            prof.enable()
        try:
            return orig(self)
        finally:
            prof.disable()

    bench_training.TrainingRun.run = run
    n_in, hid, n_out = (int(x) for x in size.split("-"))
    out = bench_training.chip_synthetic(n_in, hid, n_out, patterns)
    parts: dict[str, float] = {}
    for (fn, _, name), (_, _, tt, _, _) in pstats.Stats(prof).stats.items():
        key = ("device write kernels (apply_pair_pieces)" if "apply_pair_pieces" in name else
               "analog engine (components/engine.py)" if fn.endswith(os.path.join("components", "engine.py")) else
               "rest of the device layer" if os.path.join("components", "devices") in fn else
               "everything else (controller, crossbars, numpy, SimPy)")
        parts[key] = parts.get(key, 0.0) + tt
    for key, t in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {key:55s} {t / out['patterns'] * 1e3:6.2f} ms per pattern (profiled)")


def run_size(size: str, patterns: int) -> dict | None:
    """One chip size in a process of its own (:func:`_child`): prints its line and returns its figures, or
    prints why it failed and returns None."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", size, "--patterns", str(patterns)],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    res = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not res:
        print(f"{size}: failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
        return None
    print(proc.stdout.replace(res[-1], "").strip(), flush=True)
    return json.loads(res[-1][7:])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patterns", type=int, default=20)
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--split", metavar="SIZE", help="only profile where one chip's pattern time goes, e.g. 784-100-10")
    args = ap.parse_args(argv)
    if args.split:
        split(args.split, args.patterns)
        return
    if args.child:
        _child(args.child, args.patterns)
        return
    rows = [r for r in (run_size(size, args.patterns) for size in args.sizes.split(",")) if r is not None]
    print("\n| chip | devices | pattern updates/s | peak RSS (MiB) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['devices']:,} | {r['updates_per_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    write_cost()


if __name__ == "__main__":
    main()
