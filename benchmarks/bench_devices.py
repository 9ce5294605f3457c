"""Device-layer throughput: switching writes through 131,072 devices per model, their accuracy against
the same array integrated at rtol = 1e-10, and ngspice on the same pulse.

    python benchmarks/bench_devices.py [--pairs N] [--models team_sym,team_hp,...] [--spice-timeout S]

For every model (device-to-device spread on r_on/r_off and the rate constants or thresholds,
cycle-to-cycle spread dx_c2c = 2 %):

* a write trapezoid (rise 10 ns, 1 us flat, fall 10 ns) through ``N`` series pairs (default 65,536 =
  131,072 devices) as one ``apply_pair_pieces`` call (the crossbar's write path: one kernel pass, each
  piece one cycle), as three ``apply_pair`` calls and as one ``apply_pair_pulse`` call, and through
  2N single devices at half the amplitude as one ``apply_voltage_pieces`` call (and as three
  ``apply_voltage`` calls):
  device-pulses/s (best of 2 after a warm-up), the share of devices that switched, and the path
  counter ``DeviceArray.path_counts`` (frozen/read, exact flow, certified closed form, flow then
  integrator or certificate refused = fallback, integrator);
* the largest relative resistance difference against the same array (same spread, same c2c draws)
  with ``exact_flows=False, rtol=1e-10, atol=1e-14`` on the first 1,000 pairs;
* speed-up of the exact flows over the integrator alone (default tolerance), measured in the same run;
* a below-threshold read (TEAM) for reference.

ngspice (TEAM hp_tio2, the same write at +1 V, 100 pairs and 100 single devices): wall time, or
"> S s" when it passes the timeout (the speed-up is then a lower bound).  Never a traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np

from components.devices import DeviceArray, preset
from components.devices.spice_netlist import pair_netlist, pulse_train, single_devices_netlist
from components.spice import find_ngspice, run_transient
from mssim import SeedTree
from mssim.errors import SimulationError

WIDTH, EDGE = 1e-6, 10e-9
C2C = 0.02
# name: (model, preset, overrides with d2d spread, pair write amplitude (V))
CASES = {
    "team_sym_nospread": ("team", "symmetric", {}, 1.5),  # the chips' default physics (scenarios/iris.toml)
    "team_sym": ("team", "symmetric", dict(r_on_d2d=0.05, r_off_d2d=0.05, k_on_d2d=0.1, k_off_d2d=0.1), 1.5),
    "team_hp": ("team", "hp_tio2", dict(r_on_d2d=0.05, r_off_d2d=0.05, k_on_d2d=0.1, k_off_d2d=0.1), 1.5),
    "vteam": ("vteam", None, dict(r_on_d2d=0.05, r_off_d2d=0.05, k_on_d2d=0.1, k_off_d2d=0.1), 0.5),
    "hp": ("hp", None, dict(r_on_d2d=0.05, r_off_d2d=0.05, mu_v_d2d=0.1), 1.5),
    "hp_joglekar": ("hp", None, dict(window="joglekar", r_on_d2d=0.05, r_off_d2d=0.05, mu_v_d2d=0.1), 1.5),
    "hp_biolek": ("hp", None, dict(window="biolek", r_on_d2d=0.05, r_off_d2d=0.05, mu_v_d2d=0.1), 1.5),
    "hp_prodromakis": ("hp", None, dict(window="prodromakis", r_on_d2d=0.05, r_off_d2d=0.05, mu_v_d2d=0.1), 1.5),
    "yakopcic": ("yakopcic", None, dict(a1_d2d=0.05, a2_d2d=0.05, vp_d2d=0.05, vn_d2d=0.05), 1.5),
}
ORACLE = dict(rtol=1e-10, atol=1e-14, exact_flows=False)


def make(case: str, n: int, c2c: float = C2C, **kw) -> tuple[DeviceArray, float]:
    """An array of ``n`` devices of ``case`` with spread and states uniform in u = 0.1..0.9 (seeded)."""
    model, name, d2d, v = CASES[case]
    p = preset(model, name, dx_c2c=c2c, **d2d)
    tree = SeedTree(0)
    arr = DeviceArray(p, n, build_rng=tree.build_stream("bench", "d2d"), run_rng=tree.run_stream("bench", "c2c"), **kw)
    u = tree.build_stream("bench", "init").uniform(0.1, 0.9, n)
    arr.set_state(np.arange(n), p.from_u(u))
    return arr, v


def trapezoid_pairs(arr, pos, neg, v):
    arr.apply_pair(0.0, v, EDGE, pos, neg)
    arr.apply_pair(v, v, WIDTH, pos, neg)
    arr.apply_pair(v, 0.0, EDGE, pos, neg)


def trapezoid_pieces(arr, pos, neg, v):
    arr.apply_pair_pieces([(0.0, v, EDGE), (v, v, WIDTH), (v, 0.0, EDGE)], np.ones(pos.size), pos, neg)


def trapezoid_single(arr, v):
    arr.apply_voltage(0.0, v, EDGE)
    arr.apply_voltage(v, v, WIDTH)
    arr.apply_voltage(v, 0.0, EDGE)


def trapezoid_single_pieces(arr, v):
    arr.apply_voltage_pieces([(0.0, v, EDGE), (v, v, WIDTH), (v, 0.0, EDGE)])


def _best(fn, arr, reps=2):
    """Best wall time of ``fn()`` over ``reps`` runs from the same initial state (after one warm-up)."""
    u0 = arr.u.copy()
    fn()  # warm-up: load the numba cache of the parallel kernels
    best = np.inf
    counts = None
    for _ in range(reps):
        arr.set_state(np.arange(arr.n), arr.params.from_u(u0))
        c0 = arr.path_counts.copy()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        counts = arr.path_counts - c0
    moved = float(np.mean(np.abs(arr.u - u0) > 1e-6))
    return best, moved, counts


def _fmt_counts(c):
    return f"paths frozen/exact/certified/fallback/integrator {c[0]}/{c[1]}/{c[4]}/{c[2]}/{c[3]}"


def bench_model(case: str, n_pairs: int, n_check: int = 1000) -> dict:
    """Write throughput (pairs and singles), accuracy against rtol=1e-10 and the speed-up over the integrator."""
    n = 2 * n_pairs
    pos = np.arange(0, n, 2, dtype=np.int64)
    neg = pos + 1
    out = {}
    arr, v = make(case, n)
    t_pieces, moved, counts = _best(lambda: trapezoid_pieces(arr, pos, neg, v), arr)
    out["pieces"] = n / t_pieces
    arr, v = make(case, n)
    t_pair, _, _ = _best(lambda: trapezoid_pairs(arr, pos, neg, v), arr)
    one, _ = make(case, n)  # fresh array: the same initial states as the three-call run
    t_pulse, _, _ = _best(lambda: one.apply_pair_pulse(v, WIDTH, EDGE, EDGE, pos, neg), one)
    out["pairs_one_call"] = n / t_pulse
    plain, _ = make(case, n, exact_flows=False)
    t_plain, _, _ = _best(lambda: trapezoid_pairs(plain, pos, neg, v), plain)
    out.update(pairs=n / t_pair, pairs_integrator=n / t_plain, moved=moved, counts=counts)
    # accuracy: same spread and same c2c draws (same call sequence on arrays of equal size)
    m = 2 * n_check
    fast, _ = make(case, m)
    ref, _ = make(case, m, **ORACLE)
    trapezoid_pieces(fast, pos[:n_check], neg[:n_check], v)
    trapezoid_pairs(ref, pos[:n_check], neg[:n_check], v)
    out["err_pairs"] = float(np.max(np.abs(fast.resistance() / ref.resistance() - 1)))
    single, _ = make(case, n)
    t_single, moved_s, counts_s = _best(lambda: trapezoid_single_pieces(single, v / 2), single)
    calls, _ = make(case, n)
    t_calls, _, _ = _best(lambda: trapezoid_single(calls, v / 2), calls)
    fast, _ = make(case, m)
    ref, _ = make(case, m, **ORACLE)
    trapezoid_single_pieces(fast, v / 2)
    trapezoid_single(ref, v / 2)
    out.update(single=n / t_single, single_calls=n / t_calls, moved_single=moved_s, counts_single=counts_s,
               err_single=float(np.max(np.abs(fast.resistance() / ref.resistance() - 1))))
    print(f"{case:17s} pairs  {v:+.2f} V: {out['pieces']:9.3g} device-pulses/s (3 apply_pair calls "
          f"{out['pairs']:9.3g}, one apply_pair_pulse call {out['pairs_one_call']:9.3g}; integrator only, 3 calls "
          f"{out['pairs_integrator']:9.3g}, x{out['pieces'] / out['pairs_integrator']:.2f}), switched {moved:4.0%}, "
          f"max |dR/R| vs rtol=1e-10: {out['err_pairs']:.1e}; {_fmt_counts(counts)}", flush=True)
    print(f"{'':17s} single {v / 2:+.2f} V: {out['single']:9.3g} device-pulses/s (3 apply_voltage calls "
          f"{out['single_calls']:9.3g}), switched {moved_s:4.0%}, "
          f"max |dR/R| vs rtol=1e-10: {out['err_single']:.1e}; {_fmt_counts(counts_s)}", flush=True)
    return out


def bench_read(n_pairs: int) -> None:
    arr, _ = make("team_hp", 2 * n_pairs, c2c=0.0)
    pos = np.arange(0, 2 * n_pairs, 2, dtype=np.int64)
    neg = pos + 1
    arr.apply_pair(0.05, 0.05, WIDTH, pos, neg)
    t0 = time.perf_counter()
    for _ in range(10):
        arr.apply_pair(0.05, 0.05, WIDTH, pos, neg)
    dt = (time.perf_counter() - t0) / 10
    print(f"read (0.05 V, below threshold), {2 * n_pairs} TEAM devices: {dt * 1e3:.2f} ms -> "
          f"{2 * n_pairs / dt:.3g} device-pulses/s")


def bench_ngspice(timeout: float) -> None:
    """ngspice on the +1 V write (TEAM hp_tio2) for 100 pairs and 100 single devices; timeouts reported."""
    if find_ngspice() is None:
        print("ngspice not found: skipping the ngspice timing")
        return
    v = 1.0
    sp, sn = np.arange(0, 200, 2, dtype=np.int64), np.arange(1, 200, 2, dtype=np.int64)
    t, w, _ = pulse_train([v], WIDTH, rise=EDGE, fall=EDGE, gap=0.0)
    opts = "method=gear reltol=1e-4 abstol=1e-12 vntol=1e-9 itl4=100"
    # the same devices in mssim, for the speed-up (rate_cap 1e9 as in the ngspice cross-checks)
    ms = {}
    for label, run in (("100 pairs (200 devices)", lambda a: trapezoid_pairs(a, sp, sn, v)),
                       ("100 single devices", lambda a: trapezoid_single(a, v))):
        a, _ = make("team_hp", 200, c2c=0.0, rate_cap=1e9)
        run(a)
        a, _ = make("team_hp", 200, c2c=0.0, rate_cap=1e9)
        t0 = time.perf_counter()
        run(a)
        ms[label] = time.perf_counter() - t0
    for label, make_net in (("100 pairs (200 devices)", lambda a: pair_netlist(a, t, w, sp, sn)),
                            ("100 single devices", lambda a: single_devices_netlist(a, t, w, range(100)))):
        for tmax in (2e-9, 1e-9, 5e-10):  # ngspice needs a small max step to survive runaways
            a, _ = make("team_hp", 200, c2c=0.0, rate_cap=1e9)
            try:
                res = run_transient(make_net(a), t[-1], tmax=tmax, options=opts, timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"ngspice, +{v} V write, {label}: > {timeout:g} s wall (timeout, max step {tmax:g} s); "
                      f"mssim {ms[label] * 1e3:.2f} ms: speed-up > {timeout / ms[label]:.3g}x")
                break
            except SimulationError:
                print(f"ngspice, {label}: failed with max step {tmax:g} s (timestep too small)")
                continue
            print(f"ngspice, +{v} V write, {label}: {res.wall_s:.2f} s wall (max step {tmax:g} s); "
                  f"mssim {ms[label] * 1e3:.2f} ms: speed-up {res.wall_s / ms[label]:.3g}x")
            break


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=65536)
    ap.add_argument("--models", default=",".join(CASES))
    ap.add_argument("--spice-timeout", type=float, default=120.0)
    ap.add_argument("--no-spice", action="store_true")
    args = ap.parse_args(argv)
    print(f"write trapezoid: rise {EDGE * 1e9:g} ns, flat {WIDTH * 1e6:g} us, fall {EDGE * 1e9:g} ns; "
          f"{args.pairs} pairs = {2 * args.pairs} devices; d2d spread and dx_c2c = {C2C:g} on")
    for case in args.models.split(","):
        bench_model(case, args.pairs)
    bench_read(args.pairs)
    if not args.no_spice:
        bench_ngspice(args.spice_timeout)


if __name__ == "__main__":
    main()
