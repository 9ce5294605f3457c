"""Plain-numpy training algorithms: the ground truth for the simulated chip.

With ideal devices and instant circuits the event-level controller must
reproduce :func:`wsp_train` to 1e-9 on the same seed, so this module is
written for clarity, and its random-stream conventions are part of its
contract.

Stream conventions (all training algorithms)
--------------------------------------------
``tree = SeedTree(seed, run_seed)`` (``run_seed`` defaults to ``seed``).

* Initial weights (build phase): ``init_weights(shape, seed=seed, scale=init_scale)``,
  i.e. ``tree.build_stream("network", "init").uniform(-init_scale, init_scale,
  size=n_weights)`` in the flat order (see :mod:`components.learning.network`).
* Pattern order (run phase): ``order_rng = tree.run_stream("controller", "order")``
  is created once; at the start of every epoch
  ``order = order_rng.permutation(n_train)`` and the patterns are presented as
  ``task.x_train[order[0]], task.x_train[order[1]], ...``.  Every algorithm
  here uses this same stream, so they all see the same pattern sequence.
* WSP perturbation signs (run phase): ``sign_rng = tree.run_stream("controller",
  "perturbation")`` is created once; for every pattern, in presentation order,
  ``s = (sign_rng.integers(0, 2, size=n_weights) * 2 - 1).astype(np.float64)``,
  s[i] multiplying flat weight i (layer by layer, each W_l row-major, the bias
  row last in each layer).
* Random weight change signs (run phase): ``tree.run_stream("rwc", "signs")``,
  drawn the same way (one vector at the start, one more each time the error
  did not decrease).
* Schedules: ``lr_schedule(epoch)`` and ``c_schedule(epoch)`` (epoch counted
  from 0) are called once at the start of each epoch; that epoch uses
  ``alpha * lr_schedule(epoch)`` and ``c * c_schedule(epoch)``.

One WSP step (``wsp_step``), with J(w) = 0.5 * sum_k (d_k - o_k)^2 and
``clip`` meaning clipping to [-w_max, w_max] (skipped when w_max is None)::

    maeda  J0 = J(w)              J1 = J(P(w + c s))   w <- clip(w - alpha * (J1 - J0) / c * s)
    spsa   J0 = J(P(w - c s))     J1 = J(P(w + c s))   w <- clip(w - alpha * (J1 - J0) / (2 c) * s)
    sign   J0 = J(w)              J1 = J(P(w + c s))   w <- clip(w - alpha * sign(J1 - J0) * s)

``P`` is ``clip`` when ``clip_perturbed`` is True (the default: a perturbation
written into the devices cannot push a weight past its bound) and the
identity when False (a perturbation injected electrically).  For "spsa", J0
and J1 are the two perturbed errors, so ``J1 - J0`` always has the same
meaning: the error difference the comparator sees.

Baselines on the same network (same order stream, same clipping):

* ``serial_wp_train``: serial weight perturbation (Jabri & Flower 1991).  Per
  pattern J0 = J(w), then for each weight i separately J_i = J(P(w + c e_i));
  g_i = (J_i - J0) / c; all weights updated at once w <- clip(w - alpha g).
  Cost: n_weights + 1 forward passes per pattern.
* ``rwc_train``: random weight change (Hirotsu & Brooke 1993; Adhikari et al.
  2015).  Per pattern: J_before = J(w); w <- clip(w + delta * s);
  J_after = J(w); if J_after < J_before keep s for the next pattern, else draw
  new signs.  Cost: 2 forward passes per pattern.
* ``backprop_train``: ideal software backpropagation, online SGD,
  w <- clip(w - alpha * dJ/dw).  Cost: 1 forward + 1 backward pass per pattern.

``History.forward_passes`` counts single-pattern forward passes spent on
training (evaluation after each epoch not counted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mssim.errors import ConfigError, SimulationError, field_error
from mssim.rng import SeedTree

from .datasets import Task, accuracy
from .network import (
    activate,
    activation_slope,
    check_act,
    check_gain,
    check_sizes,
    flatten,
    forward,
    init_weights,
    layer_shapes,
    n_weights,
    pattern_loss,
    unflatten,
)

__all__ = [
    "RULES",
    "History",
    "Trace",
    "draw_signs",
    "wsp_step",
    "wsp_train",
    "serial_wp_train",
    "rwc_train",
    "backprop_gradient",
    "backprop_train",
    "evaluate",
]

#: WSP update rules accepted by :func:`wsp_step` and :func:`wsp_train`.
RULES: tuple[str, ...] = ("maeda", "spsa", "sign")


# --------------------------------------------------------------------------- records


@dataclass
class Trace:
    """Per-pattern record of a training run (only when ``trace=True``).

    Row t is the t-th pattern presented (over all epochs).  Arrays are filled
    at the end of training; fields an algorithm does not use stay None.
    """

    epoch: np.ndarray | None = None
    """Epoch of each step, shape (n_steps,)."""
    pattern: np.ndarray | None = None
    """Training-set index of the pattern presented, shape (n_steps,)."""
    signs: np.ndarray | None = None
    """Perturbation / change signs used, shape (n_steps, n_weights) (WSP, RWC)."""
    J0: np.ndarray | None = None
    """First error of the step (WSP: see the module docstring; RWC: J_before; others: J(w))."""
    J1: np.ndarray | None = None
    """Second error of the step (WSP: see the module docstring; RWC: J_after)."""
    weights: np.ndarray | None = None
    """Flat weights after the step, shape (n_steps, n_weights)."""


@dataclass
class History:
    """Learning history of one run; every per-epoch list has one entry per epoch run."""

    algorithm: str
    """Name of the algorithm ("wsp-maeda", "wsp-spsa", "wsp-sign", "serial-wp", "rwc", "backprop")."""
    config: dict
    """Hyper-parameters of the run (seed, epochs, alpha, ...)."""
    shapes: list
    """Weight-matrix shapes, e.g. [(3, 4), (5, 1)]."""
    initial_weights: list
    """Weights before training (list of matrices)."""
    weights: list = field(default_factory=list)
    """Weights after the last epoch run (list of matrices)."""
    train_loss: list = field(default_factory=list)
    """Mean J over the training set after each epoch."""
    train_accuracy: list = field(default_factory=list)
    """Training accuracy after each epoch (fraction)."""
    test_loss: list = field(default_factory=list)
    """Mean J over the test set after each epoch (equals train for tasks without a split)."""
    test_accuracy: list = field(default_factory=list)
    """Test accuracy after each epoch (fraction)."""
    forward_passes: int = 0
    """Single-pattern forward passes spent on training."""
    trace: Trace | None = None
    """Per-pattern trace, if requested."""

    @property
    def epochs_run(self) -> int:
        """Number of epochs completed (less than requested if a callback stopped the run)."""
        return len(self.train_loss)

    @property
    def flat_weights(self) -> np.ndarray:
        """Final weights as one vector in the flat order."""
        return flatten(self.weights)


# --------------------------------------------------------------------------- validation


def _check_positive(owner: str, name: str, value, fix: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) or value <= 0:
        raise field_error(owner, name, "must be a positive finite number", value, fix)
    return float(value)


def _check_w_max(owner: str, w_max) -> float | None:
    if w_max is None:
        return None
    return _check_positive(owner, "w_max", w_max, "use w_max=1.0 (the pair's bound) or None for no bound")


def _check_rule(owner: str, rule) -> str:
    if rule not in RULES:
        raise field_error(owner, "rule", "unknown WSP rule", rule, f"use one of {', '.join(RULES)}")
    return rule


def _check_epochs(owner: str, epochs) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise field_error(owner, "epochs", "must be a non-negative integer", epochs, "use e.g. epochs=300")
    return int(epochs)


def _check_schedule(owner: str, name: str, schedule) -> Callable[[int], float] | None:
    if schedule is not None and not callable(schedule):
        raise field_error(owner, name, "must be a callable epoch -> factor, or None", schedule,
                          "use e.g. lambda epoch: 0.99 ** epoch")
    return schedule


def _schedule_factor(owner: str, name: str, schedule, epoch: int) -> float:
    if schedule is None:
        return 1.0
    f = schedule(epoch)
    if isinstance(f, bool) or not isinstance(f, (int, float, np.integer, np.floating)) or not np.isfinite(f) or f <= 0:
        raise field_error(owner, name, f"returned a non-positive or non-finite factor at epoch {epoch}", f,
                          "return a positive float")
    return float(f)


def _check_common(owner: str, task, shape, gain, act, w_max, init_scale):
    if not isinstance(task, Task):
        raise field_error(owner, "task", "must be a Task", type(task).__name__, "use load_task(name, seed=...)")
    sizes = check_sizes(shape, owner)
    if sizes[0] != task.n_inputs or sizes[-1] != task.n_outputs:
        raise field_error(owner, "shape", f"must start with {task.n_inputs} inputs and end with {task.n_outputs} outputs "
                          f"for task {task.name!r}", tuple(shape),
                          f"use e.g. ({task.n_inputs}, 8, {task.n_outputs})")
    gain = check_gain(gain, owner)
    check_act(act, owner)
    w_max = _check_w_max(owner, w_max)
    if isinstance(init_scale, bool) or not isinstance(init_scale, (int, float)) or not np.isfinite(init_scale) or init_scale < 0:
        raise field_error(owner, "init_scale", "must be a non-negative finite number", init_scale, "use e.g. init_scale=0.5")
    if w_max is not None and init_scale > w_max:
        raise field_error(owner, "init_scale", f"exceeds w_max={w_max}", init_scale, "use init_scale <= w_max")
    return sizes, gain, w_max


# --------------------------------------------------------------------------- core arithmetic


def _clip(w: np.ndarray, w_max: float | None) -> np.ndarray:
    return w if w_max is None else np.clip(w, -w_max, w_max)


def _loss(flat: np.ndarray, shapes, x: np.ndarray, d: np.ndarray, gain: float, act: str) -> float:
    """J(w) for one pattern, weights given flat (no validation: hot path)."""
    h = x
    for w in unflatten(flat, shapes):
        h = activate(np.append(h, 1.0) @ w, gain=gain, act=act)
    e = d - h
    return 0.5 * float(e @ e)


def draw_signs(rng: np.random.Generator, n: int) -> np.ndarray:
    """One vector of ±1 (float64): ``rng.integers(0, 2, size=n) * 2 - 1``."""
    return (rng.integers(0, 2, size=n) * 2 - 1).astype(np.float64)


def wsp_step(
    weights_flat: np.ndarray,
    shapes: Sequence[tuple[int, int]],
    x: np.ndarray,
    d: np.ndarray,
    s: np.ndarray,
    *,
    alpha: float,
    c: float,
    gain: float,
    act: str,
    rule: str = "maeda",
    w_max: float | None = 1.0,
    clip_perturbed: bool = True,
) -> tuple[np.ndarray, float, float]:
    """One WSP update on one pattern.

    Parameters
    ----------
    weights_flat : ndarray
        All weights in the flat order (see :mod:`components.learning.network`).
    shapes : sequence of (int, int)
        Weight-matrix shapes, from :func:`~components.learning.network.layer_shapes`.
    x, d : ndarray
        Input pattern (n_in,) and target (n_out,).
    s : ndarray
        Perturbation signs (±1), same length as ``weights_flat``.
    alpha : float
        Learning rate (for ``rule="sign"``: the fixed step size).
    c : float
        Perturbation size (dimensionless weight units).
    gain, act :
        Neuron gain and activation, as in :func:`~components.learning.network.forward`.
    rule : {"maeda", "spsa", "sign"}
    w_max : float or None
        Weight bound; None for none.
    clip_perturbed : bool
        Clip the perturbed weights to the bound too (see the module docstring).

    Returns
    -------
    new_flat : ndarray
        Updated weights (a new array).
    J0, J1 : float
        The two errors measured (for "spsa": J(w - c s) and J(w + c s)).
    """
    owner = "wsp_step"
    alpha = _check_positive(owner, "alpha", alpha, "use e.g. alpha=0.1")
    c = _check_positive(owner, "c", c, "use e.g. c=0.02")
    gain = check_gain(gain, owner)
    check_act(act, owner)
    rule = _check_rule(owner, rule)
    w_max = _check_w_max(owner, w_max)
    w = np.asarray(weights_flat, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    if w.shape != (n_weights(shapes),) or s.shape != w.shape:
        raise ConfigError(f"wsp_step: weights_flat {w.shape} and s {s.shape} must both be ({n_weights(shapes)},) for shapes {list(shapes)}")
    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    return _wsp_step(w, shapes, x, d, s, alpha, c, gain, act, rule, w_max, clip_perturbed)


def _wsp_step(w, shapes, x, d, s, alpha, c, gain, act, rule, w_max, clip_perturbed):
    """Unvalidated :func:`wsp_step` (the training loop validates once)."""
    perturb = (lambda v: _clip(v, w_max)) if clip_perturbed else (lambda v: v)
    if rule == "spsa":
        J0 = _loss(perturb(w - c * s), shapes, x, d, gain, act)
        J1 = _loss(perturb(w + c * s), shapes, x, d, gain, act)
        step = alpha * (J1 - J0) / (2.0 * c)
    else:
        J0 = _loss(w, shapes, x, d, gain, act)
        J1 = _loss(perturb(w + c * s), shapes, x, d, gain, act)
        if rule == "maeda":
            step = alpha * (J1 - J0) / c
        else:  # "sign"
            step = alpha * float(np.sign(J1 - J0))
    return _clip(w - step * s, w_max), J0, J1


# --------------------------------------------------------------------------- evaluation


def evaluate(weights: Sequence[np.ndarray], task: Task, *, gain: float, act: str) -> tuple[float, float, float, float]:
    """(train_loss, train_accuracy, test_loss, test_accuracy) of ``weights`` on ``task``.

    Losses are the mean of J over the patterns.
    """
    out_tr, _ = forward(weights, task.x_train, gain=gain, act=act)
    out_te, _ = forward(weights, task.x_test, gain=gain, act=act)
    return (
        float(np.mean(pattern_loss(out_tr, task.y_train))),
        accuracy(out_tr, task.labels_train, task),
        float(np.mean(pattern_loss(out_te, task.y_test))),
        accuracy(out_te, task.labels_test, task),
    )


class _Recorder:
    """Shared bookkeeping of the training loops: epochs, NaN check, trace, callback."""

    def __init__(self, history: History, task: Task, gain: float, act: str, trace: bool, callback):
        self.h, self.task, self.gain, self.act, self.callback = history, task, gain, act, callback
        self.rows: dict[str, list] | None = {k: [] for k in ("epoch", "pattern", "signs", "J0", "J1", "weights")} if trace else None

    def step(self, epoch: int, pattern: int, flat: np.ndarray, J0=None, J1=None, signs=None) -> None:
        if self.rows is None:
            return
        for key, val in (("epoch", epoch), ("pattern", pattern), ("signs", signs), ("J0", J0), ("J1", J1),
                         ("weights", flat.copy())):
            self.rows[key].append(val)

    def end_epoch(self, epoch: int, flat: np.ndarray) -> bool:
        """Record the epoch; return True if the callback asks to stop."""
        if not np.all(np.isfinite(flat)):
            raise SimulationError(f"{self.h.algorithm}: weights became non-finite in epoch {epoch}; "
                                  "lower alpha or bound the weights with w_max")
        weights = [w.copy() for w in unflatten(flat, self.h.shapes)]
        self.h.weights = weights
        tl, ta, vl, va = evaluate(weights, self.task, gain=self.gain, act=self.act)
        self.h.train_loss.append(tl)
        self.h.train_accuracy.append(ta)
        self.h.test_loss.append(vl)
        self.h.test_accuracy.append(va)
        return bool(self.callback(epoch, self.h)) if self.callback is not None else False

    def finish(self, flat: np.ndarray) -> History:
        self.h.weights = [w.copy() for w in unflatten(flat, self.h.shapes)]
        if self.rows is not None:
            tr = Trace()
            for key, vals in self.rows.items():
                if vals and vals[0] is not None:
                    setattr(tr, key, np.array(vals))
            self.h.trace = tr
        return self.h


def _setup(owner, algorithm, task, shape, seed, run_seed, epochs, gain, act, w_max, init_scale, config):
    sizes, gain, w_max = _check_common(owner, task, shape, gain, act, w_max, init_scale)
    epochs = _check_epochs(owner, epochs)
    tree = SeedTree(seed, run_seed)
    w0 = init_weights(sizes, seed=seed, scale=init_scale)
    shapes = layer_shapes(sizes)
    history = History(algorithm=algorithm, shapes=shapes, initial_weights=[w.copy() for w in w0],
                      config=dict(config, seed=seed, run_seed=run_seed, epochs=epochs, shape=sizes, gain=gain,
                                  act=act, w_max=w_max, init_scale=init_scale))
    return tree, shapes, flatten(w0), gain, w_max, epochs, history


# --------------------------------------------------------------------------- WSP


def wsp_train(
    task: Task,
    shape: Sequence[int],
    *,
    seed: int,
    epochs: int,
    alpha: float,
    c: float,
    gain: float = 2.0,
    act: str = "tanh",
    rule: str = "maeda",
    w_max: float | None = 1.0,
    lr_schedule: Callable[[int], float] | None = None,
    c_schedule: Callable[[int], float] | None = None,
    init_scale: float = 0.5,
    clip_perturbed: bool = True,
    run_seed: int | None = None,
    trace: bool = False,
    callback: Callable[[int, History], bool | None] | None = None,
) -> History:
    """Train by weight simultaneous perturbation, one pattern at a time.

    Parameters
    ----------
    task : Task
        From :func:`~components.learning.datasets.load_task`.
    shape : sequence of int
        Layer widths ``(n_in, hidden..., n_out)`` matching the task.
    seed : int
        Root seed (initial weights: build phase; order and signs: run phase).
    epochs : int
        Passes over the training set.
    alpha : float
        Learning rate (``rule="sign"``: fixed step in weight units).
    c : float
        Perturbation size (weight units).
    gain : float
        Neuron gain R_f/R_in.
    act : {"tanh", "clip", "linear"}
    rule : {"maeda", "spsa", "sign"}
    w_max : float or None
        Weight bound (1.0 for the memristor pair), None for none.
    lr_schedule, c_schedule : callable or None
        ``epoch -> factor`` multiplying alpha and c in that epoch.
    init_scale : float
        Initial weights uniform in [-init_scale, init_scale].
    clip_perturbed : bool
        Clip the perturbed weights to the bound (perturbation written into devices).
    run_seed : int, optional
        Seed of the run-phase streams (default ``seed``): same chip, fresh order and signs.
    trace : bool
        Record every step (weights after it, J0, J1, signs, pattern) in ``History.trace``.
    callback : callable, optional
        ``callback(epoch, history)`` after each epoch; a truthy return stops training.

    Returns
    -------
    History

    Notes
    -----
    Stream conventions and the step arithmetic are in the module docstring;
    the event-level controller replicates them.
    """
    owner = "wsp_train"
    alpha = _check_positive(owner, "alpha", alpha, "use e.g. alpha=0.1")
    c = _check_positive(owner, "c", c, "use e.g. c=0.02")
    rule = _check_rule(owner, rule)
    _check_schedule(owner, "lr_schedule", lr_schedule)
    _check_schedule(owner, "c_schedule", c_schedule)
    tree, shapes, w, gain, w_max, epochs, history = _setup(
        owner, f"wsp-{rule}", task, shape, seed, run_seed, epochs, gain, act, w_max, init_scale,
        dict(alpha=alpha, c=c, rule=rule, clip_perturbed=clip_perturbed))
    rec = _Recorder(history, task, gain, act, trace, callback)
    n_w = w.size

    order_rng = tree.run_stream("controller", "order")
    sign_rng = tree.run_stream("controller", "perturbation")
    for epoch in range(epochs):
        alpha_e = alpha * _schedule_factor(owner, "lr_schedule", lr_schedule, epoch)
        c_e = c * _schedule_factor(owner, "c_schedule", c_schedule, epoch)
        order = order_rng.permutation(task.n_train)
        for i in order:
            s = draw_signs(sign_rng, n_w)
            w, J0, J1 = _wsp_step(w, shapes, task.x_train[i], task.y_train[i], s,
                                  alpha_e, c_e, gain, act, rule, w_max, clip_perturbed)
            history.forward_passes += 2
            rec.step(epoch, int(i), w, J0, J1, s)
        if rec.end_epoch(epoch, w):
            break
    return rec.finish(w)


# --------------------------------------------------------------------------- baselines


def serial_wp_train(
    task: Task,
    shape: Sequence[int],
    *,
    seed: int,
    epochs: int,
    alpha: float,
    c: float,
    gain: float = 2.0,
    act: str = "tanh",
    w_max: float | None = 1.0,
    lr_schedule: Callable[[int], float] | None = None,
    init_scale: float = 0.5,
    clip_perturbed: bool = True,
    run_seed: int | None = None,
    trace: bool = False,
    callback: Callable[[int, History], bool | None] | None = None,
) -> History:
    """Serial weight perturbation (Jabri & Flower 1991).

    Per pattern: J0 = J(w); for each weight i, J_i = J(P(w + c e_i)) with e_i
    the i-th unit vector; g_i = (J_i - J0) / c (forward-difference gradient);
    then every weight at once: w <- clip(w - alpha * g).  Costs n_weights + 1
    forward passes per pattern, against 2 for WSP.  Parameters as in
    :func:`wsp_train`.  Trace rows carry J0 only.
    """
    owner = "serial_wp_train"
    alpha = _check_positive(owner, "alpha", alpha, "use e.g. alpha=0.1")
    c = _check_positive(owner, "c", c, "use e.g. c=0.02")
    _check_schedule(owner, "lr_schedule", lr_schedule)
    tree, shapes, w, gain, w_max, epochs, history = _setup(
        owner, "serial-wp", task, shape, seed, run_seed, epochs, gain, act, w_max, init_scale,
        dict(alpha=alpha, c=c, clip_perturbed=clip_perturbed))
    rec = _Recorder(history, task, gain, act, trace, callback)
    perturb = (lambda v: _clip(v, w_max)) if clip_perturbed else (lambda v: v)

    order_rng = tree.run_stream("controller", "order")
    for epoch in range(epochs):
        alpha_e = alpha * _schedule_factor(owner, "lr_schedule", lr_schedule, epoch)
        for p in order_rng.permutation(task.n_train):
            x, d = task.x_train[p], task.y_train[p]
            J0 = _loss(w, shapes, x, d, gain, act)
            g = np.empty_like(w)
            for i in range(w.size):
                wi = w.copy()
                wi[i] += c
                g[i] = (_loss(perturb(wi), shapes, x, d, gain, act) - J0) / c
            w = _clip(w - alpha_e * g, w_max)
            history.forward_passes += w.size + 1
            rec.step(epoch, int(p), w, J0=J0)
        if rec.end_epoch(epoch, w):
            break
    return rec.finish(w)


def rwc_train(
    task: Task,
    shape: Sequence[int],
    *,
    seed: int,
    epochs: int,
    delta: float,
    gain: float = 2.0,
    act: str = "tanh",
    w_max: float | None = 1.0,
    lr_schedule: Callable[[int], float] | None = None,
    init_scale: float = 0.5,
    run_seed: int | None = None,
    trace: bool = False,
    callback: Callable[[int, History], bool | None] | None = None,
) -> History:
    """Random weight change (Hirotsu & Brooke 1993; Adhikari et al. 2015).

    Signs ``s`` come from ``SeedTree(seed, run_seed).run_stream("rwc", "signs")``
    (one vector drawn before the first pattern).  Per pattern::

        J_before = J(w);  w <- clip(w + delta * s);  J_after = J(w)
        if not J_after < J_before:  s <- new random signs

    The change is never undone: a bad step stays and only the direction is
    redrawn.  ``lr_schedule`` scales ``delta``.  Trace rows carry the signs
    used, J0 = J_before and J1 = J_after.
    """
    owner = "rwc_train"
    delta = _check_positive(owner, "delta", delta, "use e.g. delta=0.005")
    _check_schedule(owner, "lr_schedule", lr_schedule)
    tree, shapes, w, gain, w_max, epochs, history = _setup(
        owner, "rwc", task, shape, seed, run_seed, epochs, gain, act, w_max, init_scale, dict(delta=delta))
    rec = _Recorder(history, task, gain, act, trace, callback)

    order_rng = tree.run_stream("controller", "order")
    sign_rng = tree.run_stream("rwc", "signs")
    s = draw_signs(sign_rng, w.size)
    for epoch in range(epochs):
        delta_e = delta * _schedule_factor(owner, "lr_schedule", lr_schedule, epoch)
        for p in order_rng.permutation(task.n_train):
            x, d = task.x_train[p], task.y_train[p]
            J_before = _loss(w, shapes, x, d, gain, act)
            w = _clip(w + delta_e * s, w_max)
            J_after = _loss(w, shapes, x, d, gain, act)
            history.forward_passes += 2
            rec.step(epoch, int(p), w, J_before, J_after, s)
            if not J_after < J_before:
                s = draw_signs(sign_rng, w.size)
        if rec.end_epoch(epoch, w):
            break
    return rec.finish(w)


def backprop_gradient(weights: Sequence[np.ndarray], x: np.ndarray, d: np.ndarray, *, gain: float, act: str) -> list[np.ndarray]:
    """dJ/dW_l for one pattern, J = 0.5 * sum_k (d_k - o_k)^2, by backpropagation.

    Returns one array per layer, shaped like ``weights``.  For ``act="clip"``
    the slope on a rail is taken as 0.
    """
    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    if x.ndim != 1:
        raise ConfigError(f"backprop_gradient: x must be one pattern (1-D) (got shape {x.shape})")
    out, hidden = forward(weights, x, gain=gain, act=act)
    inputs = [x] + hidden                      # input of layer l is inputs[l]
    outputs = hidden + [out]                   # output of layer l is outputs[l]
    grads: list[np.ndarray] = [np.empty(0)] * len(weights)
    # delta_l = dJ/da_l; at the output dJ/do = -(d - o)
    delta = -(d - out) * activation_slope(out, gain=gain, act=act)
    for l in range(len(weights) - 1, -1, -1):
        grads[l] = np.outer(np.append(inputs[l], 1.0), delta)
        if l > 0:
            delta = (weights[l][:-1] @ delta) * activation_slope(outputs[l - 1], gain=gain, act=act)
    return grads


def backprop_train(
    task: Task,
    shape: Sequence[int],
    *,
    seed: int,
    epochs: int,
    alpha: float,
    gain: float = 2.0,
    act: str = "tanh",
    w_max: float | None = 1.0,
    lr_schedule: Callable[[int], float] | None = None,
    init_scale: float = 0.5,
    run_seed: int | None = None,
    trace: bool = False,
    callback: Callable[[int, History], bool | None] | None = None,
) -> History:
    """Ideal software backpropagation, online SGD on the same network.

    Per pattern: w <- clip(w - alpha * dJ/dw) with the gradient of
    :func:`backprop_gradient`.  Same pattern order stream as WSP.  Trace rows
    carry J0 = J(w) before the update.
    """
    owner = "backprop_train"
    alpha = _check_positive(owner, "alpha", alpha, "use e.g. alpha=0.1")
    _check_schedule(owner, "lr_schedule", lr_schedule)
    tree, shapes, w, gain, w_max, epochs, history = _setup(
        owner, "backprop", task, shape, seed, run_seed, epochs, gain, act, w_max, init_scale, dict(alpha=alpha))
    rec = _Recorder(history, task, gain, act, trace, callback)

    order_rng = tree.run_stream("controller", "order")
    for epoch in range(epochs):
        alpha_e = alpha * _schedule_factor(owner, "lr_schedule", lr_schedule, epoch)
        for p in order_rng.permutation(task.n_train):
            x, d = task.x_train[p], task.y_train[p]
            mats = unflatten(w, shapes)
            J0 = _loss(w, shapes, x, d, gain, act) if trace else None
            g = flatten(backprop_gradient(mats, x, d, gain=gain, act=act))
            w = _clip(w - alpha_e * g, w_max)
            history.forward_passes += 1
            rec.step(epoch, int(p), w, J0=J0)
        if rec.end_epoch(epoch, w):
            break
    return rec.finish(w)
