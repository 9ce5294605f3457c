import random

import numpy as np
import pytest

from mssim import Circuit, Component, Port, SeedTree
from mssim.errors import ConfigError


def test_same_seed_same_bits_and_order_independent():
    a = SeedTree(7)
    b = SeedTree(7)
    x1 = a.build_stream("layer1", "spread").standard_normal(5)
    _ = b.build_stream("other", "spread").standard_normal(5)  # requested first, must not matter
    x2 = b.build_stream("layer1", "spread").standard_normal(5)
    assert np.array_equal(x1, x2)


def test_streams_differ_by_path_purpose_phase_seed():
    t = SeedTree(1)
    base = t.build_stream("a", "p").random(4)
    assert not np.array_equal(base, t.build_stream("b", "p").random(4))
    assert not np.array_equal(base, t.build_stream("a", "q").random(4))
    assert not np.array_equal(base, t.run_stream("a", "p").random(4))
    assert not np.array_equal(base, SeedTree(2).build_stream("a", "p").random(4))


def test_run_seed_changes_only_run_streams():
    a, b = SeedTree(3), SeedTree(3, run_seed=99)
    assert np.array_equal(a.build_stream("x", "spread").random(3), b.build_stream("x", "spread").random(3))
    assert not np.array_equal(a.run_stream("x", "noise").random(3), b.run_stream("x", "noise").random(3))


def test_global_rngs_untouched():
    np.random.seed(123)
    random.seed(123)
    before_np = np.random.get_state()[1].copy()
    before_py = random.getstate()
    SeedTree(5).build_stream("x", "y").random(10)
    assert np.array_equal(np.random.get_state()[1], before_np)
    assert random.getstate() == before_py


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed(bad):
    with pytest.raises(ConfigError, match="SeedTree.seed"):
        SeedTree(bad)


class Noisy(Component):
    feedthrough = False

    def ports(self):
        return [Port("out", "signal", 1, "out")]

    def build(self, ctx):
        super().build(ctx)
        self.spread = ctx.build_rng("spread").standard_normal(4)
        self.noise = ctx.run_rng("noise").standard_normal(4)


def test_adding_component_does_not_change_others():
    c1 = Circuit()
    c1.add(Noisy("b"))
    c1.build(seed=11)
    c2 = Circuit()
    c2.add(Noisy("a"))  # added before b this time
    c2.add(Noisy("b"))
    c2.build(seed=11)
    assert np.array_equal(c1["b"].spread, c2["b"].spread)
    assert np.array_equal(c1["b"].noise, c2["b"].noise)
    assert not np.array_equal(c2["a"].spread, c2["b"].spread)
