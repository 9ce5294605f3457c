"""Benchmark: one read of a 784 × 100 crossbar layer vs a plain numpy matrix-vector product.

Run: ``python benchmarks/bench_layer.py [N]``.  Pair units, TEAM (HP-TiO2 fit).
Three read paths are timed against ``x @ W`` (float64, 784 × 100):

* ``read``      ``CrossbarLayer.read(v)``: cache check of the device states (u and
                fault flags compared with the cached copy) + the matvec;
* ``gain``      ``v @ layer.effective_gain_matrix()`` with the matrix fetched once
                (what the controller's fast chain evaluation does);
* ``port``      a new input vector on the ``in`` net of a built circuit: the layer
                integrates the 156 800 devices over the previous 1 µs read segment
                (loaded read voltages; TEAM sub-threshold check, so no integrator
                call) and sets ``out`` — the whole per-pattern cost of the layer.

The neuron settle part is another block's; combine the figures later.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from components.devices import TEAMParams
from components.synapses import CrossbarLayer, SynapseParams
from mssim import Circuit, Component, Port

N_IN, N_OUT = 784, 100


def best(fn, n, repeat=5):
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t.append((time.perf_counter() - t0) / n)
    return min(t)


class Rows(Component):
    feedthrough = False

    def __init__(self, name, patterns):
        super().__init__(name)
        self.patterns = patterns

    def ports(self):
        return [Port("out", "voltage", N_IN, "out")]

    def run(self, ctx):
        net, env = ctx.net("out"), ctx.env
        for p in self.patterns:
            yield env.timeout(1_000_000)  # 1 µs per pattern
            net.set(p)


def main(n: int = 200) -> dict:
    rng = np.random.default_rng(0)
    sp = SynapseParams(init="random", w_init_scale=0.5)
    layer = CrossbarLayer("xb", N_IN, N_OUT, TEAMParams.hp_tio2(), sp).build_detached(0)
    x = rng.uniform(-1, 1, N_IN) * sp.v_read
    W = rng.standard_normal((N_IN, N_OUT))
    t_np = best(lambda: x @ W, n)
    t_read = best(lambda: layer.read(x), n)
    G = layer.effective_gain_matrix()
    t_gain = best(lambda: x @ G, n)

    pats = []
    for _ in range(n):
        p = rng.uniform(-1, 1, N_IN) * sp.v_read
        p.flags.writeable = False
        pats.append(p)
    c = Circuit("bench")
    c.add(Rows("rows", pats))
    c.add(CrossbarLayer("xb", N_IN, N_OUT, TEAMParams.hp_tio2(), sp))
    c.connect("rows.out", "xb.in")
    sim = c.build(seed=0)
    sim.run(2_000_001)  # warm-up: numba compilation, first factorisations
    t0 = time.perf_counter()
    sim.run()
    t_port = (time.perf_counter() - t0) / (n - 2)
    res = {"numpy_matvec_s": t_np, "read_s": t_read, "gain_matvec_s": t_gain, "port_s": t_port}
    print(f"784x100 pair layer, TEAM hp_tio2, {n} reads")
    print(f"  numpy x @ W            {t_np * 1e6:9.1f} us")
    print(f"  layer.read(v)          {t_read * 1e6:9.1f} us   ratio {t_read / t_np:6.1f}x")
    print(f"  v @ effective_gain     {t_gain * 1e6:9.1f} us   ratio {t_gain / t_np:6.1f}x")
    print(f"  port: in -> out        {t_port * 1e6:9.1f} us   ratio {t_port / t_np:6.1f}x")
    return res


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
