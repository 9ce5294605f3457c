"""Why some models' pair writes stay far below 1e7 device-pulses/s: integrator steps per pair and the cost
of one step, measured on the benchmark's write (benchmarks/bench_devices.py: rise 10 ns, 1 us flat, fall
10 ns, device-to-device spread and dx_c2c = 0.02).

    python benchmarks/device_step_floor.py [--pairs N] [--models vteam,yakopcic,...]

For every model, one thread (the serial kernel, CPU time, best of 3):

* the write through ``N`` pairs as one ``apply_pair_pieces`` pass (what the crossbar does), its
  device-pulses/s and its Dormand-Prince steps per pair (the kernel's step count);
* the same pairs with the exact flows off (``exact_flows=False``): steps per pair and ns per step,
  the integrator's own cost;
* the ceiling the integrator puts on a model: 2 threads / (steps per pair x ns per step) x 2 devices,
  device-pulses/s, if nothing but its steps were paid for.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_devices import CASES, EDGE, WIDTH, make  # noqa: E402

from components.devices import kernels as K  # noqa: E402


def _pass(arr, pos, neg, v):
    """One serial apply_pair_pieces pass of the trapezoid; returns (CPU seconds, integrator steps)."""
    v0 = np.array([0.0, v, v])
    v1 = np.array([v, v, 0.0])
    T = np.array([EDGE, WIDTH, EDGE])
    sign = np.ones(pos.size)
    c2c_dn, c2c_up = (float(x) for x in arr.params.c2c_spreads())
    noise = arr.run_rng.standard_normal((3, 2 * pos.size)) if arr.params.dx_c2c > 0 else np.zeros((1, 1))
    energy = np.empty(pos.size)
    t0 = time.process_time()
    steps = K.apply_pair_pieces_ser(arr.model, arr.P, arr.U, arr.dU, arr.flags, arr.switch_count, arr._limit,
                                    arr._stuck_u, arr.params.switch_dx, pos, neg, sign, v0, v1, T, arr.rtol,
                                    arr.atol, arr.rate_cap, arr.exact_flows, arr._uniform, c2c_dn, c2c_up, noise,
                                    energy, arr.path_counts)
    return time.process_time() - t0, steps


def measure(case: str, n_pairs: int) -> dict:
    pos = np.arange(0, 2 * n_pairs, 2, dtype=np.int64)
    neg = pos + 1
    out = {}
    for label, kw in (("fast", {}), ("integrator", dict(exact_flows=False))):
        best = (np.inf, 0)
        for rep in range(4):  # the first pass loads the kernels
            arr, v = make(case, 2 * n_pairs, **kw)
            t, steps = _pass(arr, pos, neg, v)
            if rep and t < best[0]:
                best = (t, steps)
        out[label] = best
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=4096)
    ap.add_argument("--models", default=",".join(CASES))
    a = ap.parse_args(argv)
    print(f"one thread, CPU time; {a.pairs} pairs; trapezoid rise {EDGE * 1e9:.0f} ns, flat {WIDTH * 1e6:.0f} us, "
          f"fall {EDGE * 1e9:.0f} ns")
    print(f"{'model':18s} {'pieces pass':>22s} {'steps/pair':>11s} | {'integrator only':>16s} {'steps/pair':>11s} "
          f"{'ns/step':>8s} {'ceiling, 2 threads':>19s}")
    for case in a.models.split(","):
        r = measure(case, a.pairs)
        tf, sf = r["fast"]
        ti, si = r["integrator"]
        ns_step = ti / si * 1e9 if si else float("nan")
        spp = si / a.pairs
        ceiling = 2 * 2 / (spp * ns_step * 1e-9) if si else float("inf")
        print(f"{case:18s} {2 * a.pairs / tf:12.3g} dev-pulses/s {sf / a.pairs:11.1f} | {2 * a.pairs / ti:9.3g} /s "
              f"{spp:11.1f} {ns_step:8.0f} {ceiling:15.3g} /s", flush=True)


if __name__ == "__main__":
    main()
