"""Learning sanity: the reference algorithms actually learn (each test well under 10 s).

Hyper-parameters are the defaults found for the bounded network
(weights clipped to [-1, 1], tanh neurons with gain 2, bipolar targets ±0.8);
see components/learning/presets.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from components.learning.datasets import load_task
from components.learning.presets import PRESETS
from components.learning.reference import backprop_train, rwc_train, serial_wp_train, wsp_train

XOR = load_task("xor", seed=0)


def solved(epoch, hist):
    """Stop once every pattern is classified and the mean error is small."""
    return hist.train_accuracy[-1] == 1.0 and hist.train_loss[-1] < 0.02


def test_backprop_solves_xor():
    for seed in range(5):
        hist = backprop_train(XOR, (2, 4, 1), seed=seed, epochs=500, alpha=0.1, gain=2.0, callback=solved)
        assert hist.train_accuracy[-1] == 1.0 and hist.train_loss[-1] < 0.02, seed


def test_wsp_maeda_solves_xor_on_ten_seeds():
    p = PRESETS["xor"]
    epochs = []
    for seed in range(10):
        hist = wsp_train(XOR, p.shape, seed=seed, **dict(p.wsp_kwargs(), epochs=1000), callback=solved)
        assert hist.train_accuracy[-1] == 1.0, f"seed {seed}: loss {hist.train_loss[-1]:.3f}"
        epochs.append(hist.epochs_run)
    assert np.median(epochs) < 400  # typically ~110 epochs


def test_wsp_loss_decreases_on_xor():
    p = PRESETS["xor"]
    hist = wsp_train(XOR, p.shape, seed=1, **dict(p.wsp_kwargs(), epochs=100))
    assert hist.train_loss[-1] < 0.5 * hist.train_loss[0]


def test_wsp_spsa_solves_xor():
    p = PRESETS["xor"]
    for seed in range(3):
        hist = wsp_train(XOR, p.shape, seed=seed, **dict(p.wsp_kwargs(), rule="spsa", alpha=0.02, epochs=1000),
                         callback=solved)
        assert hist.train_accuracy[-1] == 1.0, seed


def test_wsp_solves_parity3():
    task = load_task("parity3", seed=0)
    p = PRESETS["parity3"]
    for seed in range(3):
        hist = wsp_train(task, p.shape, seed=seed, **dict(p.wsp_kwargs(), epochs=1500), callback=solved)
        assert hist.train_accuracy[-1] == 1.0, seed


def test_wsp_learns_iris():
    task = load_task("iris", seed=0)
    p = PRESETS["iris"]
    hist = wsp_train(task, p.shape, seed=0, **p.wsp_kwargs())
    assert hist.train_accuracy[-1] >= 0.9 and hist.test_accuracy[-1] >= 0.9


def test_serial_wp_and_rwc_reduce_xor_error():
    sw = serial_wp_train(XOR, (2, 4, 1), seed=0, epochs=300, alpha=0.1, c=0.01, gain=2.0)
    assert sw.train_accuracy[-1] == 1.0
    # RWC never undoes a bad step, so it wanders once near a minimum; 3 of 5 seeds
    # end at 100 % with delta = 0.002 (seed 1 is one of them)
    rwc = rwc_train(XOR, (2, 4, 1), seed=1, epochs=1000, delta=0.002, gain=2.0)
    assert rwc.train_accuracy[-1] == 1.0 and rwc.train_loss[-1] < 0.05


@pytest.mark.parametrize("act", ["clip", "linear"])
def test_backprop_other_activations_reduce_error(act):
    hist = backprop_train(XOR, (2, 4, 1), seed=0, epochs=300, alpha=0.05, gain=1.0, act=act)
    assert hist.train_loss[-1] < hist.train_loss[0]
