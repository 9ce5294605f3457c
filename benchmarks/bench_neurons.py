"""Benchmark: read-settle-sample of a 784x100 layer vs plain numpy matvec + tanh.

Run: ``python benchmarks/bench_neurons.py``.  The mssim side does what the
controller's settled fast path does: the synapse matvec (I = G^T v, done by the
synapse layer, here a plain matvec), then ``NeuronLayer.transfer`` (finite gain,
offsets, rails, activation) and the settle-time check.  Goal: within 3x of numpy.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from components.neurons import NeuronLayer, NeuronParams
from components.opamp import OpAmpParams
from mssim import Circuit, Component, Port


class CurrentSource(Component):
    def __init__(self, name, n):
        super().__init__(name)
        self.n = n

    def ports(self):
        return [Port("out", "current", self.n, "out")]


def main(reps: int = 2000) -> float:
    rng = np.random.default_rng(0)
    m, n = 784, 100
    G = rng.uniform(1e-6, 1e-4, (m, n))
    x = rng.uniform(-0.2, 0.2, m)
    g_src = G.sum(axis=0)
    c = Circuit()
    c.add(CurrentSource("src", n))
    lay = c.add(NeuronLayer("nl", n, NeuronParams(r_f=1e3, opamp=OpAmpParams(offset_d2d=1e-3))))
    c.connect("src.out", "nl.in")
    c.build(seed=0)

    t = time.perf_counter()
    for _ in range(reps):
        ref = np.tanh(x @ G * 1e3)
    t_np = (time.perf_counter() - t) / reps

    t = time.perf_counter()
    for _ in range(reps):
        out = lay.transfer(x @ G, g_src)
    t_ms = (time.perf_counter() - t) / reps
    ratio = t_ms / t_np
    print(f"numpy matvec+tanh: {t_np * 1e6:.1f} us; mssim read-settle-sample: {t_ms * 1e6:.1f} us; ratio {ratio:.2f} (goal <= 3)")
    assert out.shape == ref.shape
    return ratio


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
