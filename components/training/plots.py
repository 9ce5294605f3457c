"""Pictures of a run: learning curves, weight and conductance maps, histograms, step waveforms.

All functions take plain data (dicts, arrays) so ``mssim plot DIR`` can redraw
them from a saved results folder without rerunning anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curve(history: Sequence[dict[str, Any]], path: str | Path, title: str = "",
                   baselines: dict[str, Any] | None = None) -> Path:
    """Train/test loss and accuracy against epoch, with the baselines' final test accuracy
    (``{name: {"test_accuracy": ...}}``) as dotted lines."""
    plt = _plt()
    ep = [int(r["epoch"]) for r in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, style in (("train_loss", "-"), ("test_loss", "--")):
        vals = [float(r[key]) for r in history]
        a1.plot(ep, vals, style, label=key.replace("_", " "))
    a1.set_yscale("log")
    a1.set_xlabel("epoch")
    a1.set_ylabel("mean J per pattern")
    a1.legend()
    for key, style in (("train_accuracy", "-"), ("test_accuracy", "--")):
        vals = [100 * float(r[key]) for r in history]
        a2.plot(ep, vals, style, label=key.replace("_", " "))
    for i, (name, b) in enumerate((baselines or {}).items()):
        if isinstance(b, dict) and "test_accuracy" in b:
            a2.axhline(100 * float(b["test_accuracy"]), ls=":", lw=1, color=f"C{i + 2}", label=f"{name} (test)")
    a2.set_ylim(0, 101)
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy (%)")
    a2.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    return _save(plt, fig, path)


def _save(plt, fig, path) -> Path:
    """Lay out, write and close a figure; returns its path."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _integer_ticks(ax, shape) -> None:
    """Rows and columns are units: integer ticks only (every one on small layers).  The image is
    drawn transposed: x = input row, y = output column."""
    from matplotlib.ticker import MaxNLocator

    n_in, n_out = int(shape[0]), int(shape[1])
    for axis, n in ((ax.xaxis, n_in), (ax.yaxis, n_out)):
        if n <= 12:
            axis.set_ticks(range(n))
        else:
            axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def weight_maps(weights: Sequence[np.ndarray], conductances: Sequence[tuple[np.ndarray, np.ndarray]] | None, path: str | Path) -> Path:
    """Per-layer maps: effective weight, and the conductances of both devices of each unit."""
    plt = _plt()
    n = len(weights)
    rows = 3 if conductances else 1
    fig, axes = plt.subplots(rows, n, figsize=(3.2 * n + 1, 2.6 * rows), squeeze=False)
    for l, w in enumerate(weights):
        im = axes[0, l].imshow(np.asarray(w).T, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        axes[0, l].set_title(f"layer {l}: weight")
        axes[0, l].set_xlabel("input (last = bias)")
        axes[0, l].set_ylabel("output")
        _integer_ticks(axes[0, l], np.asarray(w).shape)
        fig.colorbar(im, ax=axes[0, l])
        if conductances:
            for r, (g, label) in enumerate(zip(conductances[l], ("G(M1)", "G(M2)")), start=1):
                im = axes[r, l].imshow(np.asarray(g).T * 1e6, cmap="viridis", aspect="auto", interpolation="nearest")
                axes[r, l].set_title(f"layer {l}: {label} (µS)")
                axes[r, l].set_xlabel("input (last = bias)")
                axes[r, l].set_ylabel("output")
                _integer_ticks(axes[r, l], np.asarray(g).shape)
                fig.colorbar(im, ax=axes[r, l])
    return _save(plt, fig, path)


def weight_histogram(weights: Sequence[np.ndarray], path: str | Path) -> Path:
    """Histogram of the final weights, per layer."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for l, w in enumerate(weights):
        ax.hist(np.ravel(w), bins=40, range=(-1, 1), alpha=0.6, label=f"layer {l}")
    ax.set_xlabel("weight")
    ax.set_ylabel("count")
    ax.legend()
    return _save(plt, fig, path)


#: (quantity, unit, drawn as) of each recorded signal: "step" for values set at instants (the
#: controller's outputs), "line" for trajectories (ramps and the engine's sub-steps).
SIGNALS = {
    "controller.x": ("row voltage", "V", "step"),
    "controller.target": ("target", "V", "step"),
    "controller.phase": ("phase", "code", "step"),
    "controller.hold": ("hold", "logic", "step"),
    "writer.out": ("write pulse", "V", "line"),
    "error.j": ("J", "V", "line"),
    "sh.out": ("S&H", "V", "line"),
}


def _signal_style(name: str) -> tuple[str, str, str]:
    if name in SIGNALS:
        return SIGNALS[name]
    if name.startswith("neuron") and name.endswith(".out"):
        return (f"{name.split('.')[0]} out", "V", "line")
    if name.startswith("xbar") and name.endswith(".w"):
        return (f"{name.split('.')[0]} weight", "1", "step")
    return (name, "", "line")


def step_waveforms(signals: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "one training step") -> Path:
    """Stacked waveforms ``name -> (t_seconds, values (n, k))`` of one training step: every axis with
    its quantity and unit, a legend on multi-trace panels (first 12 traces), ramps drawn as ramps
    and values set at instants as steps."""
    plt = _plt()
    n = len(signals)
    fig, axes = plt.subplots(n, 1, figsize=(8.5, 1.6 * n + 0.8), sharex=True, squeeze=False)
    for ax, (name, (t, v)) in zip(axes[:, 0], signals.items()):
        v = np.asarray(v, dtype=float)
        t = np.asarray(t, dtype=float) * 1e6
        if v.ndim == 1:
            v = v[:, None]
        qty, unit, how = _signal_style(name)
        k_max = min(v.shape[1], 12)
        for k in range(k_max):
            label = f"{k}" if v.shape[1] > 1 else None
            if how == "step":
                ax.step(t, v[:, k], where="post", lw=1, label=label)
            else:
                ax.plot(t, v[:, k], lw=1, label=label)
        ax.set_ylabel(f"{qty}\n({unit})" if unit else qty, rotation=0, ha="right", va="center", fontsize=8)
        if v.shape[1] > 1:
            ax.legend(fontsize=6, ncol=min(k_max, 6), loc="upper right", title=name, title_fontsize=6)
    axes[-1, 0].set_xlabel("time (µs)")
    fig.suptitle(title)
    return _save(plt, fig, path)


def width_histogram(widths_s: Sequence[float], path: str | Path, t_max_s: float | None = None) -> Path:
    """Histogram of the update-pulse widths (s) the PWM chose; zero widths counted apart."""
    plt = _plt()
    w = np.asarray(widths_s, dtype=float)
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    nz = w[w > 0]
    if nz.size:
        ax.hist(nz * 1e9, bins=40, color="tab:blue")
    if t_max_s:
        ax.axvline(t_max_s * 1e9, color="tab:red", ls="--", lw=1, label="t_max")
        ax.legend(fontsize=8)
    ax.set_xlabel("update pulse width (ns)")
    ax.set_ylabel("pulses")
    ax.set_title(f"{int(np.count_nonzero(w == 0))} of {w.size} rounded to zero", fontsize=9)
    return _save(plt, fig, path)


def energy_breakdown(breakdown: dict[str, float], path: str | Path) -> Path:
    """Horizontal bars of the energy drawn by each block (J)."""
    plt = _plt()
    keys = list(breakdown)
    vals = np.array([float(breakdown[k]) for k in keys])
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(keys) + 1.2))
    ax.barh(keys, vals, color="tab:orange")
    ax.set_xscale("symlog", linthresh=max(float(vals[vals > 0].min()) if np.any(vals > 0) else 1e-15, 1e-15))
    ax.set_xlabel("energy (J)")
    total = float(vals.sum())
    ax.set_title(f"total {total:.3g} J", fontsize=9)
    return _save(plt, fig, path)
