"""Device arrays with device-to-device spread for the device tests (tests/test_devices_pieces.py,
tests/test_devices_singles.py): one spread per model and one builder."""

from __future__ import annotations

from components.devices import DeviceArray, preset
from mssim import SeedTree

#: Device-to-device spread per model (the benchmark's, benchmarks/bench_devices.py).
SPREAD = {"team": dict(r_on_d2d=0.05, r_off_d2d=0.05, k_on_d2d=0.1, k_off_d2d=0.1),
          "hp": dict(r_on_d2d=0.05, r_off_d2d=0.05, mu_v_d2d=0.1),
          "vteam": dict(r_on_d2d=0.05, r_off_d2d=0.05, k_on_d2d=0.1, k_off_d2d=0.1),
          "yakopcic": dict(a1_d2d=0.05, a2_d2d=0.05, vp_d2d=0.05, vn_d2d=0.05)}


def spread_array(model, name, extra, n, seed, spread, u, stream, **kw) -> DeviceArray:
    """``n`` devices of ``preset(model, name, **extra)`` (with :data:`SPREAD` if ``spread``) at state ``u``,
    their build and run streams ``(stream, "d2d")`` and ``(stream, "c2c")`` of seed ``seed``."""
    p = preset(model, name, **extra, **(SPREAD[model] if spread else {}))
    t = SeedTree(seed)
    arr = DeviceArray(p, n, build_rng=t.build_stream(stream, "d2d"), run_rng=t.run_stream(stream, "c2c"), **kw)
    arr.U[:] = u
    arr.touch()
    return arr
