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


def learning_curve(history: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Train/test loss and accuracy against epoch."""
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
    a2.set_ylim(0, 101)
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy (%)")
    a2.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
        fig.colorbar(im, ax=axes[0, l])
        if conductances:
            for r, (g, label) in enumerate(zip(conductances[l], ("G(M1)", "G(M2)")), start=1):
                im = axes[r, l].imshow(np.asarray(g).T * 1e6, cmap="viridis", aspect="auto", interpolation="nearest")
                axes[r, l].set_title(f"layer {l}: {label} (uS)")
                fig.colorbar(im, ax=axes[r, l])
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def weight_histogram(weights: Sequence[np.ndarray], path: str | Path) -> Path:
    """Histogram of the final weights, per layer."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for l, w in enumerate(weights):
        ax.hist(np.ravel(w), bins=40, range=(-1, 1), alpha=0.6, label=f"layer {l}")
    ax.set_xlabel("weight")
    ax.set_ylabel("count")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def step_waveforms(signals: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "one training step") -> Path:
    """Stacked waveforms ``name -> (t_seconds, values (n, k))`` of one training step."""
    plt = _plt()
    n = len(signals)
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.5 * n + 0.6), sharex=True, squeeze=False)
    for ax, (name, (t, v)) in zip(axes[:, 0], signals.items()):
        v = np.asarray(v)
        if v.ndim == 1:
            v = v[:, None]
        for k in range(min(v.shape[1], 12)):
            ax.step(np.asarray(t) * 1e6, v[:, k], where="post", lw=1)
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
    axes[-1, 0].set_xlabel("time (us)")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
