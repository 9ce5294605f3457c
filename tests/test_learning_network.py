"""The reference network: forward pass, bias convention, flat order, init, backprop gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mssim.errors import ConfigError
from mssim.rng import SeedTree
from components.learning.network import (
    flatten,
    forward,
    init_weights,
    layer_shapes,
    n_weights,
    pattern_loss,
    unflatten,
)
from components.learning.reference import backprop_gradient


def test_layer_shapes_put_bias_row_last():
    assert layer_shapes((2, 4, 1)) == [(3, 4), (5, 1)]
    assert n_weights(layer_shapes((64, 20, 10))) == 65 * 20 + 21 * 10


def test_forward_by_hand_2_2_1():
    # W0 rows: x1, x2, bias; W1 rows: h1, h2, bias
    w0 = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]])
    w1 = np.array([[0.7], [-0.8], [0.9]])
    x1, x2, g = 0.5, -1.0, 2.0
    h1 = math.tanh(g * (x1 * 0.1 + x2 * 0.3 - 0.5))
    h2 = math.tanh(g * (x1 * -0.2 + x2 * 0.4 + 0.6))
    o = math.tanh(g * (h1 * 0.7 + h2 * -0.8 + 0.9))
    out, hidden = forward([w0, w1], np.array([x1, x2]), gain=g, act="tanh")
    assert out.shape == (1,) and out[0] == pytest.approx(o, abs=1e-15)
    assert hidden[0] == pytest.approx([h1, h2], abs=1e-15)


@pytest.mark.parametrize("act", ["tanh", "clip", "linear"])
def test_batch_equals_per_pattern(act):
    w = init_weights((3, 5, 2), seed=4, scale=1.0)
    x = SeedTree(9).build_stream("test", "x").uniform(-1, 1, size=(7, 3))
    out, hidden = forward(w, x, gain=3.0, act=act)
    for i in range(7):
        o_i, h_i = forward(w, x[i], gain=3.0, act=act)
        assert np.allclose(o_i, out[i], rtol=0, atol=1e-14) and np.allclose(h_i[0], hidden[0][i], rtol=0, atol=1e-14)


def test_activations_clip_and_linear():
    w = [np.array([[1.0], [0.0]])]  # output = gain * x
    for x, clip_o in [(0.2, 0.6), (0.5, 1.0), (-0.9, -1.0)]:
        assert forward(w, np.array([x]), gain=3.0, act="clip")[0][0] == pytest.approx(clip_o)
        assert forward(w, np.array([x]), gain=3.0, act="linear")[0][0] == pytest.approx(3.0 * x)


def test_flat_order_is_layer_by_layer_row_major():
    w = [np.arange(6.0).reshape(3, 2), 10 + np.arange(3.0).reshape(3, 1)]
    assert flatten(w).tolist() == [0, 1, 2, 3, 4, 5, 10, 11, 12]
    back = unflatten(flatten(w), layer_shapes((2, 2, 1)))
    assert all(np.array_equal(a, b) for a, b in zip(w, back))


def test_init_weights_stream_and_range():
    w = init_weights((2, 4, 1), seed=7, scale=0.3)
    expected = SeedTree(7).build_stream("network", "init").uniform(-0.3, 0.3, size=17)
    assert np.array_equal(flatten(w), expected)
    assert np.all(np.abs(flatten(w)) <= 0.3)
    assert not np.array_equal(flatten(init_weights((2, 4, 1), seed=8, scale=0.3)), expected)
    rng = SeedTree(7).build_stream("network", "init")
    assert np.array_equal(flatten(init_weights((2, 4, 1), rng=rng, scale=0.3)), expected)


@pytest.mark.parametrize("act, gain", [("tanh", 2.0), ("linear", 1.5), ("clip", 0.4)])
def test_backprop_gradient_matches_central_differences(act, gain):
    w = init_weights((3, 4, 3, 2), seed=1, scale=0.8)
    x = np.array([0.3, -0.7, 0.9])
    d = np.array([0.8, -0.8])
    shapes = layer_shapes((3, 4, 3, 2))
    flat = flatten(w)

    def J(f):
        return float(pattern_loss(forward(unflatten(f, shapes), x, gain=gain, act=act)[0], d))

    eps = 1e-6
    numeric = np.array([(J(flat + eps * e) - J(flat - eps * e)) / (2 * eps) for e in np.eye(flat.size)])
    analytic = flatten(backprop_gradient(w, x, d, gain=gain, act=act))
    assert np.max(np.abs(analytic)) > 1e-3  # not a trivially zero gradient
    assert np.allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_backprop_gradient_is_zero_on_the_clip_rail():
    w = [np.array([[2.0], [0.0]])]
    g = backprop_gradient(w, np.array([1.0]), np.array([0.0]), gain=1.0, act="clip")
    assert np.all(g[0] == 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(gain=0.0, act="tanh"), r"forward\.gain"),
        (dict(gain=float("nan"), act="tanh"), r"forward\.gain"),
        (dict(gain=1.0, act="relu"), r"forward\.act"),
    ],
)
def test_forward_bad_inputs(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        forward(init_weights((2, 2, 1), seed=0), np.zeros(2), **kwargs)


def test_forward_shape_mismatch_and_bad_init():
    with pytest.raises(ConfigError, match="W_0"):
        forward(init_weights((3, 2, 1), seed=0), np.zeros(2), gain=1.0, act="tanh")
    with pytest.raises(ConfigError, match="init_weights.scale"):
        init_weights((2, 2, 1), seed=0, scale=-1.0)
    with pytest.raises(ConfigError, match="exactly one"):
        init_weights((2, 2, 1))
    with pytest.raises(ConfigError, match="network.shape"):
        layer_shapes((2,))
