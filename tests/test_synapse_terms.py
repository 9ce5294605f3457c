"""The unit read terms (components.synapses.topologies) against independent nodal analysis:
the bridge's device voltages and read power, the pair's write path in series."""

from __future__ import annotations

import numpy as np
import pytest

from components.synapses import topologies as T


def _g(k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(1e-5, 1e-3, size=(k, 3, 2))


def test_bridge_device_voltages_and_read_power_from_nodal_analysis():
    """Bridge: V_in ─M1─ A ─M2─ 0, V_in ─M3─ B ─M4─ 0; the amplifier reads V_A − V_B into R_in."""
    g = _g(4)
    v = np.array([0.02, -0.03, 0.05])
    r_in = 1e5
    va = v[:, None] * g[0] / (g[0] + g[1])          # divider node A
    vb = v[:, None] * g[2] / (g[2] + g[3])
    expect = np.stack((v[:, None] - va, 0 - va, v[:, None] - vb, 0 - vb))  # V(+) − V(−), + at the V_in side / ground
    np.testing.assert_allclose(T.device_voltages("bridge", g, v, r_in), expect, rtol=1e-12)
    p_dev = float(np.sum(g * expect ** 2))
    p_load = float(np.sum((va - vb) ** 2) / r_in)  # the differential output across R_in
    Q = T.unit_terms("bridge", g, r_in, 0.0)[3]
    assert float(np.dot(Q, v * v)) == pytest.approx(p_dev + p_load, rel=1e-12)
    assert T.load_power("bridge", g, v, r_in, 0.0) == pytest.approx(p_load, rel=1e-12)


def test_pair_write_path_is_the_two_devices_in_series():
    g = _g(2, 1)
    np.testing.assert_allclose(T.write_conductance("pair", g), 1.0 / (1.0 / g[0] + 1.0 / g[1]), rtol=1e-12)
