"""Benchmark: events through mssim nets and processes vs bare SimPy timeouts.

Run: ``python benchmarks/bench_core.py [N]``.  Both sides do the same number of
timed steps in one run; mssim additionally pushes a 16-line vector onto a Net
at every step, with an analog block subscribed to it (advance-to-now callback)
and a second process woken by the net's change event.  The figure of merit is
mssim's event rate as a fraction of SimPy's raw rate (goal: >= 0.5).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import simpy

from mssim import AnalogBlock, Circuit, Component, Port


def bare_simpy(n: int) -> float:
    env = simpy.Environment()
    ev = {"e": env.event()}

    def driver():
        for _ in range(n):
            yield env.timeout(1)
            e = ev["e"]
            ev["e"] = env.event()
            e.succeed()

    def waiter():
        for _ in range(n):
            yield ev["e"]

    env.process(driver())
    env.process(waiter())
    t = time.perf_counter()
    env.run()
    return time.perf_counter() - t


class Driver(Component):
    feedthrough = False

    def __init__(self, name, n, size=16):
        super().__init__(name)
        self.n, self.size = n, size

    def ports(self):
        return [Port("out", "voltage", self.size, "out")]

    def run(self, ctx):
        net, env = ctx.net("out"), ctx.env
        vals = [np.full(self.size, 0.1), np.full(self.size, 0.2)]
        for v in vals:
            v.flags.writeable = False  # shared by the net without a copy
        for i in range(self.n):
            yield env.timeout(1)
            net.set(vals[i & 1])


class Follower(AnalogBlock):
    def __init__(self, name, n, size=16):
        super().__init__(name)
        self.n, self.size, self.acc = n, size, 0.0

    def ports(self):
        return [Port("in", "voltage", self.size, "in")]

    def advance(self, t_from, t_to):
        self.acc += t_to - t_from

    def run(self, ctx):
        net = ctx.net("in")
        for _ in range(self.n):
            yield net.changed


def mssim_nets(n: int) -> float:
    c = Circuit("bench")
    c.add(Driver("drv", n))
    c.add(Follower("fol", n))
    c.connect("drv.out", "fol.in")
    sim = c.build(seed=0)
    t = time.perf_counter()
    sim.run()
    return time.perf_counter() - t


def main(n: int = 200_000) -> None:
    bare_simpy(1000), mssim_nets(1000)  # warm up
    tb = min(bare_simpy(n) for _ in range(3))
    tm = min(mssim_nets(n) for _ in range(3))
    print(f"steps: {n}")
    print(f"bare SimPy : {n / tb:12,.0f} steps/s")
    print(f"mssim nets : {n / tm:12,.0f} steps/s")
    print(f"ratio mssim/SimPy event rate: {tb / tm:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
