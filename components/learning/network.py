"""The plain-numpy multilayer network the hardware is checked against.

Layers l = 0..L-1.  ``sizes = (n_0, n_1, ..., n_L)`` gives the widths (inputs
first, outputs last); layer l has a weight matrix ``W_l`` of shape
``(n_l + 1, n_{l+1})``.  Its **last row is the bias**: biases are ordinary
weights on a constant input of +1, exactly as on the chip, where the bias row
of a crossbar is driven by a fixed read voltage.

Forward pass (one pattern or a batch)::

    a_l = [h_{l-1}, 1] @ W_l          (h_{-1} = x)
    h_l = act(gain * a_l)

Every layer, the output layer included, applies ``act``; ``gain`` is the
neuron gain (R_f / R_in of the summing amplifier).  Activations:

* ``"tanh"``   h = tanh(gain * a)
* ``"clip"``   h = clip(gain * a, -1, 1)   (op-amp saturating at its rails)
* ``"linear"`` h = gain * a

Weights are dimensionless.  On the chip w = (M2 - M1)/(M1 + M2) lies in
(-1, 1); the reference clips to [-w_max, w_max] (w_max = 1 by default, None for
no bound).

Flat order
----------
Whenever weights form one vector (perturbation signs, traces, the step API),
the order is layer by layer, each ``W_l`` flattened row-major (C order): all
of ``W_0[0, :]``, then ``W_0[1, :]`` ... then the bias row of ``W_0``, then
``W_1[0, :]`` and so on.  :func:`flatten` and :func:`unflatten` convert.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mssim.errors import ConfigError, field_error
from mssim.rng import SeedTree

__all__ = [
    "ACTIVATIONS",
    "layer_shapes",
    "n_weights",
    "flatten",
    "unflatten",
    "init_weights",
    "activate",
    "activation_slope",
    "forward",
    "pattern_loss",
    "check_gain",
    "check_act",
    "check_sizes",
]

#: Accepted activation names.
ACTIVATIONS: tuple[str, ...] = ("tanh", "clip", "linear")


def check_act(act: str, owner: str = "forward") -> str:
    """Return ``act`` if it names an activation, else raise ``ConfigError``."""
    if act not in ACTIVATIONS:
        raise field_error(owner, "act", "unknown activation", act, f"use one of {', '.join(ACTIVATIONS)}")
    return act


def check_gain(gain: float, owner: str = "forward") -> float:
    """Return ``gain`` as float if positive and finite, else raise ``ConfigError``."""
    if isinstance(gain, bool) or not isinstance(gain, (int, float, np.floating, np.integer)) or not np.isfinite(gain) or gain <= 0:
        raise field_error(owner, "gain", "must be a positive finite number", gain, "use e.g. gain=2.0 (R_f/R_in)")
    return float(gain)


def check_sizes(sizes: Sequence[int], owner: str = "network") -> tuple[int, ...]:
    """Validate layer widths ``(n_in, hidden..., n_out)``; at least two positive ints."""
    try:
        out = tuple(int(n) for n in sizes)
    except (TypeError, ValueError):
        raise field_error(owner, "shape", "must be a sequence of layer widths", sizes, "use e.g. (2, 4, 1)") from None
    if len(out) < 2 or any(n <= 0 for n in out) or any(isinstance(n, bool) for n in sizes):
        raise field_error(owner, "shape", "needs at least two positive widths (inputs, ..., outputs)", sizes,
                          "use e.g. (2, 4, 1)")
    return out


def layer_shapes(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Weight-matrix shapes for layer widths: ``(2, 4, 1) -> [(3, 4), (5, 1)]``."""
    sizes = check_sizes(sizes)
    return [(n_in + 1, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def n_weights(shapes: Sequence[tuple[int, int]]) -> int:
    """Total number of weights (biases included) for matrix ``shapes``."""
    return int(sum(r * c for r, c in shapes))


def flatten(weights: Sequence[np.ndarray]) -> np.ndarray:
    """One float64 vector of all weights in the flat order (layer by layer, C order)."""
    return np.concatenate([np.asarray(w, dtype=np.float64).ravel(order="C") for w in weights])


def unflatten(flat: np.ndarray, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Split a flat vector back into matrices of ``shapes`` (views where possible)."""
    flat = np.asarray(flat, dtype=np.float64)
    total = n_weights(shapes)
    if flat.ndim != 1 or flat.size != total:
        raise ConfigError(f"unflatten: expected a 1-D vector of {total} weights for shapes {list(shapes)} (got shape {flat.shape})")
    out, start = [], 0
    for r, c in shapes:
        out.append(flat[start : start + r * c].reshape(r, c))
        start += r * c
    return out


def init_weights(
    shape: Sequence[int],
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    scale: float = 0.5,
) -> list[np.ndarray]:
    """Initial weights, uniform in [-scale, scale].

    Parameters
    ----------
    shape : sequence of int
        Layer widths ``(n_in, hidden..., n_out)``.
    seed : int, optional
        Root seed; the draw comes from ``SeedTree(seed).build_stream("network", "init")``.
    rng : numpy.random.Generator, optional
        Use this generator instead (give exactly one of ``seed`` and ``rng``).
    scale : float
        Half-width of the uniform distribution (dimensionless, >= 0).

    Notes
    -----
    One call ``rng.uniform(-scale, scale, size=n_weights)`` fills all weights
    in the flat order, so hardware initialisation can replicate it.
    """
    if (seed is None) == (rng is None):
        raise ConfigError("init_weights: give exactly one of seed= and rng=")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not np.isfinite(scale) or scale < 0:
        raise field_error("init_weights", "scale", "must be a non-negative finite number", scale, "use e.g. scale=0.5")
    if rng is None:
        rng = SeedTree(seed).build_stream("network", "init")
    shapes = layer_shapes(shape)
    flat = rng.uniform(-float(scale), float(scale), size=n_weights(shapes))
    return [w.copy() for w in unflatten(flat, shapes)]


def activate(a: np.ndarray, *, gain: float, act: str) -> np.ndarray:
    """Neuron output ``act(gain * a)`` (no validation; see :func:`forward`)."""
    z = gain * a
    if act == "tanh":
        return np.tanh(z)
    if act == "clip":
        return np.clip(z, -1.0, 1.0)
    return z


def activation_slope(h: np.ndarray, *, gain: float, act: str) -> np.ndarray:
    """d h / d a expressed through the output h = act(gain * a).

    tanh: gain * (1 - h^2); clip: gain where |h| < 1 else 0 (the rail has
    zero slope); linear: gain.
    """
    if act == "tanh":
        return gain * (1.0 - h * h)
    if act == "clip":
        return np.where(np.abs(h) < 1.0, gain, 0.0)
    return np.full_like(h, gain)


def _with_bias(h: np.ndarray) -> np.ndarray:
    """Append the constant +1 bias input along the last axis."""
    ones = np.ones(h.shape[:-1] + (1,), dtype=np.float64)
    return np.concatenate([h, ones], axis=-1)


def forward(
    weights: Sequence[np.ndarray],
    x: np.ndarray,
    *,
    gain: float,
    act: str,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Run the network on one pattern (1-D ``x``) or a batch (2-D ``x``).

    Returns
    -------
    outputs : ndarray
        ``h_{L-1}``, shape (n_out,) or (batch, n_out).
    hidden : list of ndarray
        Outputs of the hidden layers ``[h_0, ..., h_{L-2}]`` (empty for a
        single-layer network).
    """
    gain = check_gain(gain)
    check_act(act)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ConfigError(f"forward: x must be 1-D (one pattern) or 2-D (a batch) (got shape {x.shape})")
    if not weights:
        raise ConfigError("forward: weights is empty; build them with init_weights")
    h = x
    layers = []
    for l, w in enumerate(weights):
        if w.ndim != 2 or w.shape[0] != h.shape[-1] + 1:
            raise ConfigError(f"forward: W_{l} has shape {w.shape} but its input has {h.shape[-1]} values "
                              f"(+1 bias row expected: {h.shape[-1] + 1} rows)")
        h = activate(_with_bias(h) @ w, gain=gain, act=act)
        layers.append(h)
    return layers[-1], layers[:-1]


def pattern_loss(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """J = 0.5 * sum_k (d_k - o_k)^2 per pattern (a scalar for one pattern)."""
    e = np.asarray(targets, dtype=np.float64) - np.asarray(outputs, dtype=np.float64)
    return 0.5 * np.sum(e * e, axis=-1)
