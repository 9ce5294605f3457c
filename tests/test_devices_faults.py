"""Fault states through DeviceArray's public methods: every model, no division by zero, version bumps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from components.devices import DeviceArray, preset
from mssim.errors import ConfigError

MODELS = [("hp", None), ("team", "hp_tio2"), ("team", "symmetric"), ("vteam", None), ("yakopcic", None)]


def _arr(model, name, n=6):
    return DeviceArray(preset(model, name), n, x0=None)


@pytest.mark.parametrize("model,name", MODELS)
def test_stuck_open_drift_never_divide_by_zero(model, name):
    arr = _arr(model, name)
    v = arr.version
    arr.set_stuck([0], "on")
    arr.set_stuck([1], "off")
    arr.set_open([2])
    assert arr.version == v + 3
    r = arr.resistance()
    g = arr.conductance()
    assert math.isinf(r[2]) and g[2] == 0.0
    assert np.all(np.isfinite(g)) and np.all(g >= 0)
    if model == "yakopcic":
        # x = 0 carries no current at any voltage: infinite resistance, like an open device
        assert math.isinf(r[1]) and g[1] == 0.0 and arr.current(0.5)[1] == 0.0
    else:
        assert r[1] == pytest.approx(arr.resistance_bounds()[1][1])
    v = arr.version
    arr.drift([0, 1, 2, 3, 4], 1.5)  # stuck/open devices are left alone
    assert arr.version == v + 1
    r2 = arr.resistance()
    np.testing.assert_array_equal(r2[:3], r[:3])
    assert r2[3] == pytest.approx(r[3] * 1.5, rel=1e-9)
    arr.drift([3], 1e9)  # clipped at the OFF end
    lo, hi = arr.resistance_bounds()
    assert arr.resistance()[3] == pytest.approx(hi[3], rel=1e-9) or math.isinf(hi[3])
    # pulses through faulty pairs and singles stay finite
    e = arr.apply_pair(0.0, 1.0, 1e-6, np.array([0, 1, 2], np.int64), np.array([3, 4, 5], np.int64))
    assert np.all(np.isfinite(e)) and e[2] == 0.0
    arr.apply_voltage(-1.0, -1.0, 1e-6)
    assert np.all(np.isfinite(arr.u)) and np.all((arr.u >= 0) & (arr.u <= 1))
    assert arr.u[1] == 1.0 and arr.u[0] == 0.0


@pytest.mark.parametrize("model,name", MODELS)
def test_set_state_and_indexed_set_resistance_bump_version(model, name):
    arr = _arr(model, name)
    u0 = arr.u.copy()
    v = arr.version
    lo, hi = arr.params.x_bounds
    arr.set_state([1, 3], 0.25 * lo + 0.75 * hi)
    assert arr.version == v + 1
    np.testing.assert_allclose(arr.x[[1, 3]], 0.25 * lo + 0.75 * hi)
    np.testing.assert_array_equal(arr.u[[0, 2, 4, 5]], u0[[0, 2, 4, 5]])
    r = arr.resistance()
    arr.set_resistance(r[1], index=[0])
    assert arr.version == v + 2
    assert arr.resistance()[0] == pytest.approx(r[1], rel=1e-12)
    np.testing.assert_array_equal(arr.u[[2, 4, 5]], u0[[2, 4, 5]])
    with pytest.raises(ConfigError, match="set_state"):
        arr.set_state([0], hi + (hi - lo))
    with pytest.raises(ConfigError, match="drift"):
        arr.drift([0], -1.0)
    with pytest.raises(ConfigError, match="resistance outside"):
        arr.set_resistance(1e-3, index=[0])


def test_yakopcic_infinite_resistance_round_trip():
    arr = _arr("yakopcic", None, 2)
    arr.set_resistance(math.inf, index=[1])
    assert arr.u[1] == 1.0 and math.isinf(arr.resistance()[1])
    arr.set_stuck([0], "off")
    arr.clear_faults()
    assert np.all(arr.healthy_mask)
