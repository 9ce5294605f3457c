"""Device-layer throughput: 131,072 TEAM devices (256x256 pairs) through one pulse, and ngspice
on the same pulse for 100 devices.

    python benchmarks/bench_devices.py

Prints device-pulses per second for apply_pair (write pulse, above threshold; and a read,
below threshold) at the default tolerance (rtol 1e-6, atol 1e-9 on the normalised state),
and the wall time of ngspice for the write pulse on 100 pairs (200 devices) and on 100 single devices.
"""

from __future__ import annotations

import time

import numpy as np

from components.devices import DeviceArray, TEAMParams
from components.devices.spice_netlist import pair_netlist, pulse_train, single_devices_netlist
from components.spice import find_ngspice, run_transient
from mssim import SeedTree
from mssim.errors import SimulationError

N_PAIRS = 256 * 256
WRITE_V, WIDTH, EDGE = 1.0, 1e-6, 10e-9


def _array(n):
    rng = SeedTree(0).build_stream("bench", "init")
    p = TEAMParams.hp_tio2(r_on_d2d=0.05, r_off_d2d=0.05, k_on_d2d=0.1, k_off_d2d=0.1)
    r0 = rng.uniform(2e3, 12e3, n)
    return DeviceArray(p, n, build_rng=SeedTree(0).build_stream("bench", "d2d"), r0=r0)


def _trapezoid(arr, pos, neg, v):
    arr.apply_pair(0.0, v, EDGE, pos, neg)
    arr.apply_pair(v, v, WIDTH, pos, neg)
    arr.apply_pair(v, 0.0, EDGE, pos, neg)


def main():
    arr = _array(2 * N_PAIRS)
    pos = np.arange(0, 2 * N_PAIRS, 2, dtype=np.int64)
    neg = pos + 1
    _trapezoid(arr, pos[:8], neg[:8], WRITE_V)  # compile / load the numba cache
    arr.apply_pair(0.05, 0.05, WIDTH, pos[:8], neg[:8])
    u0 = arr.u.copy()
    best = np.inf
    for _ in range(3):
        arr.U[:] = u0
        t0 = time.perf_counter()
        _trapezoid(arr, pos, neg, WRITE_V)
        best = min(best, time.perf_counter() - t0)
    moved = np.mean(np.abs(arr.u - u0) > 1e-6)
    print(f"apply_pair write pulse (+{WRITE_V} V, 1 us flat, 10 ns edges, 3 PWL segments), "
          f"{2 * N_PAIRS} devices: {best * 1e3:.1f} ms -> {2 * N_PAIRS / best:.3g} device-pulses/s "
          f"({moved:.0%} of devices changed state)")
    t0 = time.perf_counter()
    for _ in range(10):
        arr.apply_pair(0.05, 0.05, WIDTH, pos, neg)
    dt = (time.perf_counter() - t0) / 10
    print(f"apply_pair read (0.05 V, below threshold), {2 * N_PAIRS} devices: {dt * 1e3:.2f} ms -> "
          f"{2 * N_PAIRS / dt:.3g} device-pulses/s")
    small = _array(200)
    sp, sn = np.arange(0, 200, 2, dtype=np.int64), np.arange(1, 200, 2, dtype=np.int64)
    t0 = time.perf_counter()
    for _ in range(1000):
        small.apply_pair(0.05, 0.05, WIDTH, sp, sn)
    print(f"apply_pair call overhead, 100 pairs read: {(time.perf_counter() - t0) * 1e3:.1f} us per call")
    if find_ngspice() is None:
        print("ngspice not found: skipping the ngspice timing")
        return
    t, v, _ = pulse_train([WRITE_V], WIDTH, rise=EDGE, fall=EDGE, gap=0.0)
    opts = "method=gear reltol=1e-4 abstol=1e-12 vntol=1e-9 itl4=100"
    for label, make in (("100 pairs (200 devices)", lambda a: pair_netlist(a, t, v, sp, sn)),
                        ("100 single devices", lambda a: single_devices_netlist(a, t, v, range(100)))):
        for tmax in (2e-9, 1e-9, 5e-10):  # ngspice needs a small max step to survive runaways
            try:
                res = run_transient(make(_array(200)), t[-1], tmax=tmax, options=opts)
            except SimulationError:
                print(f"ngspice, {label}: failed with max step {tmax:g} s (timestep too small)")
                continue
            print(f"ngspice, same write pulse, {label}: {res.wall_s:.2f} s wall (max step {tmax:g} s)")
            break

if __name__ == "__main__":
    main()
