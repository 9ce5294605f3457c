"""Energy of a device that does not move: the closed form of V(t)²/R over a ramp."""

from __future__ import annotations

import numpy as np
import pytest

from components.devices import DeviceArray, preset


@pytest.mark.parametrize("model", ["team", "hp"])
def test_frozen_device_energy_over_a_ramp(model):
    """Below every threshold (TEAM) or for a state pinned at its bound... here a TEAM device below
    threshold and a stuck HP device: E = T·(a0² + a0·a1 + a1²)/(3R), the integral of v(t)²/R."""
    arr = DeviceArray(preset(model, "symmetric" if model == "team" else None), 3)
    if model == "hp":
        arr.set_stuck([0, 1, 2], "current")
    r = arr.resistance()
    a0, a1, T = 0.01, -0.03, 2e-6
    e = arr.apply_voltage(a0, a1, T)
    np.testing.assert_allclose(e, T * (a0 * a0 + a0 * a1 + a1 * a1) / (3.0 * r), rtol=1e-12)
    np.testing.assert_allclose(arr.resistance(), r, rtol=0)  # nothing moved


@pytest.mark.parametrize("sign", [+1.0, -1.0])
def test_rate_cap_holds_in_both_directions_on_the_general_path(sign):
    """A TEAM device with exponential I-V (the general rate law, not the linear-I-V fast path) driven
    far past both thresholds moves at exactly the rate cap (normalised state per second), either way."""
    cap = 1e9
    p = preset("team", "symmetric", iv="exponential")
    arr = DeviceArray(p, 1, rate_cap=cap)
    arr.set_state([0], 0.5 * (p.x_on + p.x_off))
    u0 = float(arr.u[0])
    T = 1e-11
    arr.apply_voltage(sign * 5.0, sign * 5.0, T)
    assert float(arr.u[0]) - u0 == pytest.approx(sign * cap * T, rel=1e-6)
