"""Tasks for the reference algorithms: shapes, targets, split, scaling, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import datasets as skd

from mssim.errors import ConfigError
from components.learning.datasets import TASKS, accuracy, classify, load_task

RAW = {"iris": skd.load_iris, "wine": skd.load_wine, "breast_cancer": skd.load_breast_cancer, "digits": skd.load_digits}
SHAPES = {  # name: (n_total, n_inputs, n_outputs, n_classes)
    "iris": (150, 4, 3, 3),
    "wine": (178, 13, 3, 3),
    "breast_cancer": (569, 30, 1, 2),
    "digits": (1797, 64, 10, 10),
}


def test_xor_patterns_and_targets():
    t = load_task("xor", seed=0)
    assert t.n_inputs == 2 and t.n_outputs == 1 and not t.has_test_split
    expected = {(-1.0, -1.0): -0.8, (-1.0, 1.0): 0.8, (1.0, -1.0): 0.8, (1.0, 1.0): -0.8}
    got = {tuple(x): y[0] for x, y in zip(t.x_train, t.y_train)}
    assert got == expected
    assert np.array_equal(t.labels_train, (t.y_train[:, 0] > 0).astype(int))
    # no test split: the test arrays are the training arrays
    assert t.x_test is t.x_train and t.y_test is t.y_train and t.labels_test is t.labels_train


def test_parity3_is_odd_parity_of_bipolar_bits():
    t = load_task("parity3", seed=0, target=0.5)
    assert t.x_train.shape == (8, 3) and len({tuple(r) for r in t.x_train}) == 8
    for x, y, lab in zip(t.x_train, t.y_train, t.labels_train):
        odd = int(np.sum(x == 1.0)) % 2
        assert lab == odd and y[0] == (0.5 if odd else -0.5)


@pytest.mark.parametrize("name", list(SHAPES))
def test_sklearn_task_shapes_and_one_hot_targets(name):
    n_total, n_in, n_out, n_cls = SHAPES[name]
    t = load_task(name, seed=3)
    assert t.has_test_split and t.n_inputs == n_in and t.n_outputs == n_out and len(t.classes) == n_cls
    assert t.n_train + t.n_test == n_total
    assert t.x_train.shape == (t.n_train, n_in) and t.x_test.shape == (t.n_test, n_in)
    assert t.y_train.shape == (t.n_train, n_out) and t.y_test.shape == (t.n_test, n_out)
    assert set(np.unique(t.y_train)) == {-0.8, 0.8}
    if n_out > 1:  # exactly one +target per row, at the label
        assert np.all(np.sum(t.y_train > 0, axis=1) == 1)
        assert np.array_equal(np.argmax(t.y_train, axis=1), t.labels_train)
    assert not t.x_train.flags.writeable


@pytest.mark.parametrize("name", list(SHAPES))
def test_split_is_stratified_disjoint_and_complete(name):
    t = load_task(name, seed=11)
    raw_labels = RAW[name]().target
    assert np.intersect1d(t.index_train, t.index_test).size == 0
    assert np.array_equal(np.sort(np.concatenate([t.index_train, t.index_test])), np.arange(raw_labels.size))
    assert np.array_equal(raw_labels[t.index_train], t.labels_train)
    assert np.array_equal(raw_labels[t.index_test], t.labels_test)
    for cls in np.unique(raw_labels):
        n_cls = np.sum(raw_labels == cls)
        assert np.sum(t.labels_test == cls) == max(1, min(n_cls - 1, round(0.3 * n_cls)))


def test_split_reproducible_and_seed_dependent():
    a, b, c = load_task("wine", seed=5), load_task("wine", seed=5), load_task("wine", seed=6)
    assert np.array_equal(a.index_test, b.index_test) and np.array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.index_test, c.index_test)


def test_test_fraction_changes_split_size():
    t = load_task("iris", seed=0, test_fraction=0.2)
    assert t.n_test == 30  # 10 of each 50-sample class


@pytest.mark.parametrize("name", ["iris", "wine", "digits"])
def test_scaling_uses_training_statistics_only(name):
    t = load_task(name, seed=2)
    raw = RAW[name]().data.astype(float)
    tr, te = raw[t.index_train], raw[t.index_test]
    lo, hi = tr.min(axis=0), tr.max(axis=0)
    span = hi - lo
    ok = span > 0
    want_tr = 2 * (tr[:, ok] - lo[ok]) / span[ok] - 1
    want_te = np.clip(2 * (te[:, ok] - lo[ok]) / span[ok] - 1, -1, 1)
    assert np.allclose(t.x_train[:, ok], want_tr, rtol=0, atol=1e-12)
    assert np.allclose(t.x_test[:, ok], want_te, rtol=0, atol=1e-12)
    assert np.all(t.x_train[:, ~ok] == 0) and np.all(t.x_test[:, ~ok] == 0)
    assert np.allclose(t.x_train[:, ok].min(axis=0), -1) and np.allclose(t.x_train[:, ok].max(axis=0), 1)


def test_scaling_differs_from_whole_dataset_scaling():
    # wine: with the whole dataset's min/max the training set would not span [-1, 1] exactly
    t = load_task("wine", seed=2)
    raw = skd.load_wine().data
    lo, hi = raw.min(axis=0), raw.max(axis=0)
    leaky = 2 * (raw[t.index_train] - lo) / (hi - lo) - 1
    assert not np.allclose(leaky, t.x_train)


def test_classify_and_accuracy():
    t = load_task("iris", seed=0)
    out = np.array([[0.1, 0.5, -0.2], [0.9, 0.0, 0.0], [0.0, 0.0, 0.3]])
    assert classify(out, t).tolist() == [1, 0, 2]
    assert accuracy(out, np.array([1, 0, 0]), t) == pytest.approx(2 / 3)
    x = load_task("xor", seed=0)
    assert classify(np.array([[0.3], [-0.1], [0.0]]), x).tolist() == [1, 0, 0]
    assert accuracy(x.y_train, x.labels_train, x) == 1.0
    with pytest.raises(ConfigError, match="classify"):
        classify(np.zeros((2, 2)), t)


def test_binary_one_hot_option():
    t = load_task("breast_cancer", seed=0, one_hot_binary=True)
    assert t.n_outputs == 2 and np.array_equal(np.argmax(t.y_train, axis=1), t.labels_train)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(name="mnist", seed=0), "load_task.name"),
        (dict(name="xor", seed=0, test_fraction=0.3), "load_task.test_fraction"),
        (dict(name="iris", seed=0, test_fraction=1.0), "load_task.test_fraction"),
        (dict(name="iris", seed=0, test_fraction=0.0), "load_task.test_fraction"),
        (dict(name="iris", seed=0, target=0.0), "load_task.target"),
        (dict(name="iris", seed=-1), "SeedTree.seed"),
    ],
)
def test_bad_inputs_raise_config_error(kwargs, field):
    name = kwargs.pop("name")
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_task(name, **kwargs)


def test_task_names_listed():
    assert set(TASKS) == {"xor", "parity3", "iris", "breast_cancer", "wine", "digits", "synthetic"}


# ---------------------------------------------------------------- synthetic task (scaling studies)
def test_synthetic_shapes_range_split_and_determinism():
    from components.learning.datasets import synthetic_task
    t = load_task("synthetic", seed=4, n_inputs=30, n_outputs=5, n_patterns=200)
    assert (t.n_train, t.n_test, t.n_inputs, t.n_outputs) == (200, 60, 30, 5)  # test split: 30 % more
    assert t.has_test_split and t.classes == tuple(range(5))
    assert np.all(np.abs(t.x_train) <= 1) and np.all(np.abs(t.x_test) <= 1)
    assert np.array_equal(np.argmax(t.y_train, axis=1), t.labels_train)
    assert len(np.unique(t.labels_train)) >= 4  # the teacher uses most classes
    same = synthetic_task(30, 5, 200, seed=4)
    other = load_task("synthetic", seed=5, n_inputs=30, n_outputs=5, n_patterns=200)
    for a in ("x_train", "y_train", "labels_train", "x_test", "labels_test"):
        assert np.array_equal(getattr(t, a), getattr(same, a))
    assert not np.array_equal(t.x_train, other.x_train) and not np.array_equal(t.labels_train, other.labels_train)
    one = load_task("synthetic", seed=4, n_inputs=3, n_outputs=1, n_patterns=50, test_fraction=0.2)
    assert one.n_test == 10 and set(np.unique(one.y_train)) <= {-0.8, 0.8} and one.classes == (0, 1)


def test_synthetic_is_learnable_and_labels_come_from_the_teacher():
    """Backprop on the teacher's architecture beats chance by far; shuffled labels (negative control) do not."""
    from dataclasses import replace

    from components.learning import backprop_train, evaluate
    t = load_task("synthetic", seed=1, n_inputs=8, n_outputs=3, n_patterns=400)
    h = backprop_train(t, (8, 16, 3), seed=0, epochs=60, alpha=0.05, gain=1.0, w_max=None)
    acc = h.test_accuracy[-1]
    rng = np.random.default_rng(0)
    lab = rng.permutation(t.labels_train)
    from components.learning.datasets import encode_targets
    shuffled = replace(t, labels_train=lab, y_train=encode_targets(lab, 3, 3, 0.8))
    hs = backprop_train(shuffled, (8, 16, 3), seed=0, epochs=60, alpha=0.05, gain=1.0, w_max=None)
    chance = np.max(np.bincount(t.labels_test)) / t.n_test
    assert acc > chance + 0.25, (acc, chance)
    assert hs.test_accuracy[-1] < chance + 0.1, (hs.test_accuracy[-1], chance)


def test_synthetic_validation():
    with pytest.raises(ConfigError, match="n_inputs"):
        load_task("synthetic", seed=0, n_outputs=2, n_patterns=10)
    with pytest.raises(ConfigError, match="synthetic task only"):
        load_task("iris", seed=0, n_inputs=4)
    with pytest.raises(ConfigError, match="n_patterns"):
        load_task("synthetic", seed=0, n_inputs=2, n_outputs=2, n_patterns=0)


def test_synthetic_scenario_section():
    from components.learning.datasets import task_from_config
    from components.training.config import DataConfig
    d = DataConfig(task="synthetic", n_inputs=784, n_outputs=10, n_patterns=20)
    t = task_from_config(d, seed=2)
    assert t.x_train.shape == (20, 784) and t.n_test == 6
    with pytest.raises(ValueError, match="needs n_inputs"):
        DataConfig(task="synthetic", n_inputs=4)
    with pytest.raises(ValueError, match="synthetic' only"):
        DataConfig(task="iris", n_patterns=4)
