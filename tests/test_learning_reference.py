"""Reference training algorithms: step arithmetic by hand, stream conventions, determinism, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mssim.errors import ConfigError
from mssim.rng import SeedTree
from components.learning.datasets import load_task
from components.learning.network import flatten, forward, init_weights, layer_shapes, pattern_loss, unflatten
from components.learning.reference import (
    backprop_gradient,
    backprop_train,
    rwc_train,
    serial_wp_train,
    wsp_step,
    wsp_train,
)

SHAPES_221 = layer_shapes((2, 2, 1))  # [(3, 2), (3, 1)]
# flat order: W0[0,0] W0[0,1] W0[1,0] W0[1,1] W0[2,0] W0[2,1] | W1[0,0] W1[1,0] W1[2,0]
#             x1->h1  x1->h2  x2->h1  x2->h2  b->h1   b->h2   | h1->o   h2->o   b->o
W = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9]
S = [1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0]
X1, X2, D, GAIN = 0.5, -1.0, 0.8, 2.0


def J_by_hand(w):
    """J for the 2-2-1 tanh net, written out scalar by scalar."""
    a, b, c, d, e, f, g, h, i = w
    h1 = math.tanh(GAIN * (X1 * a + X2 * c + e))
    h2 = math.tanh(GAIN * (X1 * b + X2 * d + f))
    o = math.tanh(GAIN * (h1 * g + h2 * h + i))
    return 0.5 * (D - o) ** 2


def step(rule, alpha, c, w=W, s=S, w_max=1.0, clip_perturbed=True):
    return wsp_step(np.array(w), SHAPES_221, np.array([X1, X2]), np.array([D]), np.array(s),
                    alpha=alpha, c=c, gain=GAIN, act="tanh", rule=rule, w_max=w_max,
                    clip_perturbed=clip_perturbed)


def test_maeda_step_by_hand():
    alpha, c = 0.1, 0.05
    J0 = J_by_hand(W)
    J1 = J_by_hand([W[k] + c * S[k] for k in range(9)])
    expected = [W[k] - alpha * (J1 - J0) / c * S[k] for k in range(9)]
    new, j0, j1 = step("maeda", alpha, c)
    assert j0 == pytest.approx(J0, abs=1e-14) and j1 == pytest.approx(J1, abs=1e-14)
    assert abs(J1 - J0) > 1e-3  # the step actually moves the weights
    assert max(abs(v) for v in expected) < 1.0  # no clipping involved here
    assert np.allclose(new, expected, rtol=0, atol=1e-14)


def test_spsa_step_by_hand():
    alpha, c = 0.1, 0.05
    Jp = J_by_hand([W[k] + c * S[k] for k in range(9)])
    Jm = J_by_hand([W[k] - c * S[k] for k in range(9)])
    expected = [W[k] - alpha * (Jp - Jm) / (2 * c) * S[k] for k in range(9)]
    new, j0, j1 = step("spsa", alpha, c)
    assert j0 == pytest.approx(Jm, abs=1e-14) and j1 == pytest.approx(Jp, abs=1e-14)
    assert max(abs(v) for v in expected) < 1.0  # no clipping involved here
    assert np.allclose(new, expected, rtol=0, atol=1e-14)


def test_sign_step_by_hand():
    alpha, c = 0.01, 0.05
    J0 = J_by_hand(W)
    J1 = J_by_hand([W[k] + c * S[k] for k in range(9)])
    sgn = 1.0 if J1 > J0 else -1.0
    expected = [W[k] - alpha * sgn * S[k] for k in range(9)]
    new, _, _ = step("sign", alpha, c)
    assert np.allclose(new, expected, rtol=0, atol=1e-15)
    assert np.allclose(np.abs(new - np.array(W)), alpha)


def test_update_is_clipped_to_w_max():
    new, J0, J1 = step("maeda", 50.0, 0.05)  # a huge step drives every weight to a bound
    raw = np.array(W) - 50.0 * (J1 - J0) / 0.05 * np.array(S)
    assert np.array_equal(new, np.clip(raw, -1, 1)) and np.all(np.abs(new) == 1.0)
    unbounded, _, _ = step("maeda", 50.0, 0.05, w_max=None)
    assert np.allclose(unbounded, raw, rtol=0, atol=1e-12)


def test_perturbed_point_is_clipped_unless_injected():
    w = list(W)
    w[6] = 0.99  # h1->o near the bound; s = -1 there, so flip s to push it over
    s = list(S)
    s[6] = 1.0
    c = 0.05
    _, _, J1_clipped = step("maeda", 0.1, c, w=w, s=s)
    _, _, J1_free = step("maeda", 0.1, c, w=w, s=s, clip_perturbed=False)
    pert = [w[k] + c * s[k] for k in range(9)]
    assert J1_free == pytest.approx(J_by_hand(pert), abs=1e-14)
    pert[6] = 1.0
    assert J1_clipped == pytest.approx(J_by_hand(pert), abs=1e-14)
    assert J1_clipped != J1_free


def test_wsp_train_follows_documented_streams():
    """Replay wsp_train with wsp_step and the documented streams: identical bits."""
    task = load_task("xor", seed=0)
    kw = dict(alpha=0.4, c=0.02, gain=2.0, act="tanh", w_max=1.0)
    for rule in ("maeda", "spsa", "sign"):
        hist = wsp_train(task, (2, 3, 1), seed=21, epochs=3, rule=rule, init_scale=0.5, trace=True,
                         lr_schedule=lambda e: 0.5 ** e, c_schedule=lambda e: 1.0 + e, **kw)
        tree = SeedTree(21)
        w = tree.build_stream("network", "init").uniform(-0.5, 0.5, size=13)
        order_rng = tree.run_stream("controller", "order")
        sign_rng = tree.run_stream("controller", "perturbation")
        t = 0
        for epoch in range(3):
            for i in order_rng.permutation(4):
                s = (sign_rng.integers(0, 2, size=13) * 2 - 1).astype(np.float64)
                w, J0, J1 = wsp_step(w, layer_shapes((2, 3, 1)), task.x_train[i], task.y_train[i], s,
                                     rule=rule, **dict(kw, alpha=0.4 * 0.5 ** epoch, c=0.02 * (1.0 + epoch)))
                assert hist.trace.pattern[t] == i and hist.trace.epoch[t] == epoch
                assert np.array_equal(hist.trace.signs[t], s)
                assert hist.trace.J0[t] == J0 and hist.trace.J1[t] == J1
                assert np.array_equal(hist.trace.weights[t], w)
                t += 1
        assert t == 12 and np.array_equal(hist.flat_weights, w)
        assert hist.forward_passes == 24


def test_history_losses_are_mean_J_after_each_epoch():
    task = load_task("iris", seed=0)
    hist = wsp_train(task, (4, 3, 3), seed=2, epochs=2, alpha=0.2, c=0.02, trace=True)
    end_of_epoch0 = unflatten(hist.trace.weights[task.n_train - 1], hist.shapes)
    out, _ = forward(end_of_epoch0, task.x_train, gain=2.0, act="tanh")
    assert hist.train_loss[0] == pytest.approx(np.mean(pattern_loss(out, task.y_train)), abs=1e-15)
    out_te, _ = forward(hist.weights, task.x_test, gain=2.0, act="tanh")
    assert hist.test_loss[1] == pytest.approx(np.mean(pattern_loss(out_te, task.y_test)), abs=1e-15)
    assert len(hist.train_accuracy) == len(hist.test_accuracy) == hist.epochs_run == 2


ALGOS = {
    "wsp-maeda": lambda t, seed, **k: wsp_train(t, (2, 3, 1), seed=seed, epochs=5, alpha=0.5, c=0.02, **k),
    "wsp-spsa": lambda t, seed, **k: wsp_train(t, (2, 3, 1), seed=seed, epochs=5, alpha=0.5, c=0.02, rule="spsa", **k),
    "wsp-sign": lambda t, seed, **k: wsp_train(t, (2, 3, 1), seed=seed, epochs=5, alpha=0.01, c=0.02, rule="sign", **k),
    "serial-wp": lambda t, seed, **k: serial_wp_train(t, (2, 3, 1), seed=seed, epochs=5, alpha=0.5, c=0.02, **k),
    "rwc": lambda t, seed, **k: rwc_train(t, (2, 3, 1), seed=seed, epochs=5, delta=0.01, **k),
    "backprop": lambda t, seed, **k: backprop_train(t, (2, 3, 1), seed=seed, epochs=5, alpha=0.2, **k),
}


@pytest.mark.parametrize("algo", list(ALGOS))
def test_determinism_same_seed_same_bits_other_seed_differs(algo):
    task = load_task("xor", seed=0)
    a, b, c = ALGOS[algo](task, 3), ALGOS[algo](task, 3), ALGOS[algo](task, 4)
    assert a.algorithm == algo
    assert np.array_equal(a.flat_weights, b.flat_weights) and a.train_loss == b.train_loss
    assert not np.array_equal(a.flat_weights, c.flat_weights)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_run_seed_keeps_initial_weights_changes_run(algo):
    task = load_task("xor", seed=0)
    a, b = ALGOS[algo](task, 3), ALGOS[algo](task, 3, run_seed=99)
    assert np.array_equal(flatten(a.initial_weights), flatten(b.initial_weights))
    assert not np.array_equal(a.flat_weights, b.flat_weights)


def test_serial_wp_step_is_forward_difference_gradient():
    task = load_task("xor", seed=0)
    hist = serial_wp_train(task, (2, 2, 1), seed=5, epochs=1, alpha=0.3, c=1e-3, trace=True)
    w0 = flatten(hist.initial_weights)
    p = hist.trace.pattern[0]
    x, d = task.x_train[p], task.y_train[p]

    def J(f):
        return float(pattern_loss(forward(unflatten(f, SHAPES_221), x, gain=2.0, act="tanh")[0], d))

    g = np.array([(J(w0 + 1e-3 * e) - J(w0)) / 1e-3 for e in np.eye(9)])
    assert np.allclose(hist.trace.weights[0], np.clip(w0 - 0.3 * g, -1, 1), rtol=0, atol=1e-14)
    assert hist.trace.J0[0] == pytest.approx(J(w0), abs=1e-15)
    assert hist.forward_passes == 4 * 10  # n_weights + 1 per pattern
    # and it approximates the true gradient
    bp = flatten(backprop_gradient(hist.initial_weights, x, d, gain=2.0, act="tanh"))
    assert np.allclose(g, bp, atol=5e-3)


def test_rwc_keeps_direction_only_after_improvement():
    task = load_task("xor", seed=0)
    hist = rwc_train(task, (2, 2, 1), seed=8, epochs=4, delta=0.05, trace=True)
    tr = hist.trace
    w_prev = flatten(hist.initial_weights)
    sign_rng = SeedTree(8).run_stream("rwc", "signs")
    s = (sign_rng.integers(0, 2, size=9) * 2 - 1).astype(np.float64)
    kept = redrawn = 0
    for t in range(len(tr.J0)):
        assert np.array_equal(tr.signs[t], s)
        assert np.array_equal(tr.weights[t], np.clip(w_prev + 0.05 * s, -1, 1))
        if tr.J1[t] < tr.J0[t]:
            kept += 1
        else:
            s = (sign_rng.integers(0, 2, size=9) * 2 - 1).astype(np.float64)
            redrawn += 1
        w_prev = tr.weights[t]
    assert kept > 0 and redrawn > 0


def test_backprop_train_step_is_sgd():
    task = load_task("xor", seed=0)
    hist = backprop_train(task, (2, 2, 1), seed=5, epochs=1, alpha=0.3, trace=True)
    p = hist.trace.pattern[0]
    g = flatten(backprop_gradient(hist.initial_weights, task.x_train[p], task.y_train[p], gain=2.0, act="tanh"))
    assert np.allclose(hist.trace.weights[0], np.clip(flatten(hist.initial_weights) - 0.3 * g, -1, 1), atol=1e-15)


def test_callback_stops_training():
    task = load_task("xor", seed=0)
    seen = []
    hist = wsp_train(task, (2, 2, 1), seed=0, epochs=50, alpha=0.2, c=0.02,
                     callback=lambda epoch, h: seen.append(epoch) or epoch == 4)
    assert seen == [0, 1, 2, 3, 4] and hist.epochs_run == 5


XOR = load_task("xor", seed=0)
GOOD = dict(seed=0, epochs=1, alpha=0.1, c=0.02)


@pytest.mark.parametrize(
    "override, field",
    [
        (dict(alpha=0.0), "wsp_train.alpha"),
        (dict(alpha=-0.1), "wsp_train.alpha"),
        (dict(alpha=float("inf")), "wsp_train.alpha"),
        (dict(c=0.0), "wsp_train.c"),
        (dict(c=-1e-3), "wsp_train.c"),
        (dict(rule="adam"), "wsp_train.rule"),
        (dict(act="relu"), "wsp_train.act"),
        (dict(gain=-2.0), "wsp_train.gain"),
        (dict(w_max=0.0), "wsp_train.w_max"),
        (dict(epochs=-1), "wsp_train.epochs"),
        (dict(epochs=2.5), "wsp_train.epochs"),
        (dict(init_scale=1.5), "wsp_train.init_scale"),
        (dict(lr_schedule=0.9), "wsp_train.lr_schedule"),
        (dict(c_schedule=lambda e: -1.0), "wsp_train.c_schedule"),
        (dict(seed=-3), "SeedTree.seed"),
    ],
)
def test_wsp_train_bad_inputs(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        wsp_train(XOR, (2, 2, 1), **dict(GOOD, **override))


def test_shape_must_match_task():
    with pytest.raises(ConfigError, match=r"wsp_train\.shape"):
        wsp_train(XOR, (3, 2, 1), **GOOD)
    with pytest.raises(ConfigError, match=r"wsp_train\.shape"):
        wsp_train(XOR, (2, 2, 2), **GOOD)
    with pytest.raises(ConfigError, match=r"wsp_train\.task"):
        wsp_train("xor", (2, 2, 1), **GOOD)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: step("maeda", 0.0, 0.1), "wsp_step.alpha"),
        (lambda: step("maeda", 0.1, 0.0), "wsp_step.c"),
        (lambda: step("momentum", 0.1, 0.1), "wsp_step.rule"),
        (lambda: step("maeda", 0.1, 0.1, s=S[:-1]), "wsp_step"),
        (lambda: serial_wp_train(XOR, (2, 2, 1), **dict(GOOD, c=0)), "serial_wp_train.c"),
        (lambda: rwc_train(XOR, (2, 2, 1), seed=0, epochs=1, delta=0), "rwc_train.delta"),
        (lambda: backprop_train(XOR, (2, 2, 1), seed=0, epochs=1, alpha=-1), "backprop_train.alpha"),
    ],
)
def test_other_bad_inputs(call, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        call()


def test_init_weights_used_by_training():
    hist = wsp_train(XOR, (2, 2, 1), seed=6, epochs=0, alpha=0.1, c=0.02, init_scale=0.25)
    assert np.array_equal(flatten(hist.initial_weights), flatten(init_weights((2, 2, 1), seed=6, scale=0.25)))
    assert hist.epochs_run == 0 and np.array_equal(hist.flat_weights, flatten(hist.initial_weights))
