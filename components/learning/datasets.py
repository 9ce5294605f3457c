"""Learning tasks for the reference algorithms and the simulated chip.

``load_task(name, seed=...)`` returns a :class:`Task`: inputs scaled for small
read voltages, bipolar targets, integer labels, and a fixed train/test split.

Conventions
-----------
* **Inputs** lie in [-1, 1]; the hardware multiplies them by a read voltage
  later.  Logic tasks (``"xor"``, ``"parity3"``) use bipolar inputs ±1.  The
  sklearn tasks are min-max scaled per feature to [-1, 1] with the *training*
  set's minimum and maximum only; test inputs that fall outside the training
  range are clipped to [-1, 1] (an input DAC has a range too).  A feature that
  is constant on the training set maps to 0.
* **Targets** are bipolar with magnitude ``target`` (default 0.8, reachable by a
  tanh or clipped-linear output).  Multi-class tasks are one-hot: +target for
  the true class, -target elsewhere.  Two-class tasks (xor, parity3,
  breast_cancer) use a single output, +target for class 1 and -target for
  class 0, unless ``one_hot_binary=True``.
* **Labels** are integer class indices 0..K-1; ``Task.classes`` names them.
* **Split.** xor and parity3 have no test split: every pattern is a training
  pattern and the test arrays *are* the training arrays
  (``Task.has_test_split`` is False).  The sklearn tasks get a stratified
  split drawn once from the build-phase stream
  ``SeedTree(seed).build_stream("data", "split")``: for each class in
  ascending label order, ``rng.permutation`` of that class's sample indices;
  the first ``round(test_fraction * n_class)`` (at least 1, at most
  n_class - 1) go to the test set.  Both sets are then kept in the original
  dataset order.  The split depends only on (seed, test_fraction), never on the
  sklearn random state.

* **Synthetic** (``"synthetic"``, for scaling studies): ``n_patterns`` training
  and ``round(test_fraction · n_patterns)`` (default 30 %) more test inputs drawn
  uniformly from [-1, 1] by ``SeedTree(seed).build_stream("data", "synthetic")``;
  labels from a fixed random *teacher* network drawn from the same seed
  (``build_stream("data", "teacher")``): ``n_inputs``-16-``n_outputs``, tanh hidden
  layer, weights N(0, 3/fan_in) (unit-variance pre-activations), label = argmax of
  its outputs (sign of the output for ``n_outputs == 1``, two classes).  A chip with
  at least 16 hidden neurons can represent the teacher, so the task is learnable.

Data is never downloaded: only the loaders bundled with scikit-learn are used.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from mssim.errors import ConfigError, field_error
from mssim.rng import SeedTree

__all__ = ["TASKS", "DEFAULT_TEST_FRACTION", "Task", "load_task", "task_from_config", "synthetic_task", "classify",
           "accuracy", "encode_targets"]

#: Hidden width of the synthetic task's teacher network.
TEACHER_HIDDEN = 16

_OWNER = "load_task"

#: Default test fraction per sklearn task (None: the task has no test split).
DEFAULT_TEST_FRACTION: dict[str, float | None] = {
    "xor": None,
    "parity3": None,
    "iris": 0.3,
    "breast_cancer": 0.3,
    "wine": 0.3,
    "digits": 0.3,
    "synthetic": 0.3,
}

#: Names accepted by :func:`load_task`.
TASKS: tuple[str, ...] = tuple(DEFAULT_TEST_FRACTION)


@dataclass(frozen=True, kw_only=True)
class Task:
    """A supervised task, already scaled and split.

    Arrays are float64 (inputs, targets) or int64 (labels) and read-only.
    """

    name: str
    """Task name, one of :data:`TASKS`."""
    x_train: np.ndarray
    """Training inputs, shape (n_train, n_inputs), values in [-1, 1] (dimensionless; times the read voltage in hardware)."""
    y_train: np.ndarray
    """Training targets, shape (n_train, n_outputs), values ±target."""
    labels_train: np.ndarray
    """Training class indices, shape (n_train,)."""
    x_test: np.ndarray
    """Test inputs, shape (n_test, n_inputs).  Same arrays as training when ``has_test_split`` is False."""
    y_test: np.ndarray
    """Test targets, shape (n_test, n_outputs)."""
    labels_test: np.ndarray
    """Test class indices, shape (n_test,)."""
    n_inputs: int
    """Number of input features (not counting the bias input)."""
    n_outputs: int
    """Number of network outputs: 1 for two-class tasks, else the number of classes."""
    classes: tuple
    """Class names; ``classes[label]`` names a label."""
    target: float
    """Target magnitude (dimensionless, outputs are in [-1, 1])."""
    has_test_split: bool
    """False for xor and parity3, whose test set is the training set."""
    index_train: np.ndarray
    """Row of each training pattern in the source dataset (sklearn order), shape (n_train,)."""
    index_test: np.ndarray
    """Row of each test pattern in the source dataset, shape (n_test,)."""

    @property
    def n_train(self) -> int:
        """Number of training patterns."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test patterns."""
        return int(self.x_test.shape[0])


def _readonly(a: np.ndarray, dtype) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


def encode_targets(labels: np.ndarray, n_classes: int, n_outputs: int, target: float) -> np.ndarray:
    """Bipolar target vectors for integer ``labels``.

    ``n_outputs == 1`` (two classes): +target for label 1, -target for label 0.
    Otherwise one-hot: +target at the label's output, -target elsewhere.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if n_outputs == 1:
        if n_classes != 2:
            raise ConfigError(f"encode_targets: a single output needs two classes (got {n_classes})")
        return np.where(labels[:, None] == 1, target, -target).astype(np.float64)
    y = np.full((labels.size, n_outputs), -target, dtype=np.float64)
    y[np.arange(labels.size), labels] = target
    return y


def _parity_patterns(n_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """All 2**n bipolar patterns (-1 first) and their parity (1 if an odd number of +1)."""
    x = np.array(list(itertools.product((-1.0, 1.0), repeat=n_bits)), dtype=np.float64)
    labels = (np.sum(x > 0, axis=1) % 2).astype(np.int64)
    return x, labels


def _load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray, tuple]:
    from sklearn import datasets as skd  # local import: only the sklearn tasks need it

    loader = {
        "iris": skd.load_iris,
        "wine": skd.load_wine,
        "breast_cancer": skd.load_breast_cancer,
        "digits": skd.load_digits,
    }[name]
    bunch = loader()
    names = tuple(str(t) for t in bunch.target_names)
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64), names


def stratified_split(labels: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) of a stratified split drawn from ``rng``.

    For each class in ascending order, ``rng.permutation`` of its indices; the
    first ``round(test_fraction * n_class)``, clamped to [1, n_class - 1], go to
    test.  Both index arrays are returned sorted.
    """
    test_idx = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if members.size < 2:
            raise ConfigError(f"{_OWNER}: class {cls} has {members.size} sample(s); a stratified split needs at least 2")
        n_test = int(round(test_fraction * members.size))
        n_test = min(max(n_test, 1), members.size - 1)
        test_idx.append(rng.permutation(members)[:n_test])
    test = np.sort(np.concatenate(test_idx))
    train = np.setdiff1d(np.arange(labels.size), test)  # sorted
    return train, test


def _minmax_scale(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale each feature to [-1, 1] with training min/max; clip test to [-1, 1]."""
    lo = x_train.min(axis=0)
    hi = x_train.max(axis=0)
    span = hi - lo
    const = span == 0
    safe = np.where(const, 1.0, span)

    def scale(x: np.ndarray) -> np.ndarray:
        z = 2.0 * (x - lo) / safe - 1.0
        z[:, const] = 0.0
        return np.clip(z, -1.0, 1.0)

    return scale(x_train), scale(x_test)


def load_task(
    name: str,
    *,
    seed: int,
    test_fraction: float | None = None,
    target: float = 0.8,
    one_hot_binary: bool = False,
    n_inputs: int | None = None,
    n_outputs: int | None = None,
    n_patterns: int | None = None,
) -> Task:
    """Load, scale and split a task.

    Parameters
    ----------
    name : str
        One of ``"xor"``, ``"parity3"``, ``"iris"``, ``"breast_cancer"``, ``"synthetic"``,
        ``"wine"``, ``"digits"``.
    seed : int
        Root seed; the split uses ``SeedTree(seed).build_stream("data", "split")``.
        Ignored by xor and parity3 (no randomness).
    test_fraction : float, optional
        Fraction of each class held out for testing, in (0, 1).  Defaults to
        :data:`DEFAULT_TEST_FRACTION` (0.3).  Must be None for xor and parity3.
    target : float
        Magnitude of the bipolar targets (dimensionless, default 0.8).
    one_hot_binary : bool
        Give two-class sklearn tasks (breast_cancer) two one-hot outputs
        instead of one.
    n_inputs, n_outputs, n_patterns : int, optional
        Sizes of the ``"synthetic"`` task (required for it, refused otherwise).

    Returns
    -------
    Task
    """
    if not isinstance(name, str) or name not in DEFAULT_TEST_FRACTION:
        raise field_error(_OWNER, "name", "unknown task", name, f"use one of {', '.join(TASKS)}")
    tree = SeedTree(seed)  # validates seed even for the deterministic tasks
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not np.isfinite(target) or target <= 0:
        raise field_error(_OWNER, "target", "must be a positive finite number", target, "use e.g. target=0.8")
    target = float(target)

    sizes = (n_inputs, n_outputs, n_patterns)
    if name == "synthetic":
        return synthetic_task(n_inputs, n_outputs, n_patterns, seed=seed, target=target,
                              test_fraction=DEFAULT_TEST_FRACTION[name] if test_fraction is None else test_fraction)
    if sizes != (None, None, None):
        raise field_error(_OWNER, "n_inputs", f"sizes are for the synthetic task only (task is {name!r})", sizes,
                          "drop n_inputs/n_outputs/n_patterns")

    if name in ("xor", "parity3"):
        if test_fraction is not None:
            raise field_error(_OWNER, "test_fraction", f"{name} has no test split (the test set is the training set)",
                              test_fraction, "leave test_fraction=None")
        x, labels = _parity_patterns(2 if name == "xor" else 3)
        y = encode_targets(labels, 2, 1, target)
        x_r, y_r, l_r = _readonly(x, np.float64), _readonly(y, np.float64), _readonly(labels, np.int64)
        idx = _readonly(np.arange(labels.size), np.int64)
        return Task(name=name, x_train=x_r, y_train=y_r, labels_train=l_r, x_test=x_r, y_test=y_r,
                    labels_test=l_r, n_inputs=x.shape[1], n_outputs=1, classes=(0, 1), target=target,
                    has_test_split=False, index_train=idx, index_test=idx)

    if test_fraction is None:
        test_fraction = DEFAULT_TEST_FRACTION[name]
    if (isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float))
            or not np.isfinite(test_fraction) or not 0.0 < test_fraction < 1.0):
        raise field_error(_OWNER, "test_fraction", "must be strictly between 0 and 1", test_fraction,
                          "use e.g. test_fraction=0.3")

    x, labels, classes = _load_sklearn(name)
    train, test = stratified_split(labels, float(test_fraction), tree.build_stream("data", "split"))
    x_train, x_test = _minmax_scale(x[train], x[test])
    n_classes = len(classes)
    n_outputs = 1 if (n_classes == 2 and not one_hot_binary) else n_classes
    return Task(
        name=name,
        x_train=_readonly(x_train, np.float64),
        y_train=_readonly(encode_targets(labels[train], n_classes, n_outputs, target), np.float64),
        labels_train=_readonly(labels[train], np.int64),
        x_test=_readonly(x_test, np.float64),
        y_test=_readonly(encode_targets(labels[test], n_classes, n_outputs, target), np.float64),
        labels_test=_readonly(labels[test], np.int64),
        n_inputs=x.shape[1],
        n_outputs=n_outputs,
        classes=classes,
        target=target,
        has_test_split=True,
        index_train=_readonly(train, np.int64),
        index_test=_readonly(test, np.int64),
    )


def task_from_config(data, seed: int) -> Task:
    """The task a scenario's ``[data]`` section names (``components.training.config.DataConfig``)."""
    kw = {}
    if data.task == "synthetic":
        kw = dict(n_inputs=data.n_inputs, n_outputs=data.n_outputs, n_patterns=data.n_patterns)
    return load_task(data.task, seed=seed, test_fraction=data.test_fraction, target=data.target, **kw)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise field_error(_OWNER, name, "must be a positive integer", value, f"set {name} for the synthetic task")
    return int(value)


def synthetic_task(n_inputs: int, n_outputs: int, n_patterns: int, *, seed: int, target: float = 0.8,
                   test_fraction: float = 0.3) -> Task:
    """A learnable task of any size, drawn from ``seed`` (see the module docstring).

    ``n_patterns`` training patterns and ``round(test_fraction · n_patterns)`` (at least
    1) test patterns; inputs uniform in [-1, 1]; labels from a fixed random
    ``n_inputs``-16-``n_outputs`` tanh teacher.  Same seed, same bits.
    """
    n_in = _positive_int("n_inputs", n_inputs)
    n_out = _positive_int("n_outputs", n_outputs)
    n_tr = _positive_int("n_patterns", n_patterns)
    if (isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float))
            or not np.isfinite(test_fraction) or not 0.0 < test_fraction < 1.0):
        raise field_error(_OWNER, "test_fraction", "must be strictly between 0 and 1", test_fraction,
                          "use e.g. test_fraction=0.3")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not np.isfinite(target) or target <= 0:
        raise field_error(_OWNER, "target", "must be a positive finite number", target, "use e.g. target=0.8")
    tree = SeedTree(seed)
    n_te = max(1, int(round(test_fraction * n_tr)))
    x = tree.build_stream("data", "synthetic").uniform(-1.0, 1.0, size=(n_tr + n_te, n_in))
    rng = tree.build_stream("data", "teacher")
    w1 = rng.normal(0.0, np.sqrt(3.0 / n_in), size=(n_in, TEACHER_HIDDEN))
    b1 = rng.normal(0.0, 0.5, size=TEACHER_HIDDEN)
    w2 = rng.normal(0.0, np.sqrt(1.0 / TEACHER_HIDDEN), size=(TEACHER_HIDDEN, n_out))
    out = np.tanh(x @ w1 + b1) @ w2
    if n_out == 1:
        labels = (out[:, 0] > 0).astype(np.int64)
        n_classes = 2
    else:
        labels = np.argmax(out, axis=1).astype(np.int64)
        n_classes = n_out
    y = encode_targets(labels, n_classes, n_out, float(target))
    tr, te = np.arange(n_tr), np.arange(n_tr, n_tr + n_te)
    return Task(name="synthetic", x_train=_readonly(x[tr], np.float64), y_train=_readonly(y[tr], np.float64),
                labels_train=_readonly(labels[tr], np.int64), x_test=_readonly(x[te], np.float64),
                y_test=_readonly(y[te], np.float64), labels_test=_readonly(labels[te], np.int64), n_inputs=n_in,
                n_outputs=n_out, classes=tuple(range(n_classes)), target=float(target), has_test_split=True,
                index_train=_readonly(tr, np.int64), index_test=_readonly(te, np.int64))


def classify(outputs: np.ndarray, task: Task) -> np.ndarray:
    """Predicted class indices from network outputs.

    One output: label 1 if the output is > 0, else 0 (sign decision).  Several
    outputs: the index of the largest (argmax; ties go to the lowest index).
    Accepts one pattern (1-D, returns a 0-d array) or a batch (2-D).
    """
    o = np.asarray(outputs, dtype=np.float64)
    if o.shape[-1] != task.n_outputs:
        raise ConfigError(f"classify: outputs have {o.shape[-1]} columns but task {task.name!r} has {task.n_outputs} outputs")
    if task.n_outputs == 1:
        return (o[..., 0] > 0).astype(np.int64)
    return np.argmax(o, axis=-1).astype(np.int64)


def accuracy(outputs: np.ndarray, labels: np.ndarray, task: Task) -> float:
    """Fraction of patterns whose :func:`classify` label equals ``labels``."""
    pred = classify(outputs, task)
    labels = np.asarray(labels)
    if pred.shape != labels.shape:
        raise ConfigError(f"accuracy: {pred.size} predictions but {labels.size} labels")
    return float(np.mean(pred == labels))
