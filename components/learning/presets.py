"""Default hyper-parameters for WSP (and backprop) on each task.

Found by small grid searches on the plain-numpy reference (weights clipped to
[-1, 1], tanh neurons, bipolar targets ±0.8, Maeda one-sided rule,
``init_scale`` uniform initial weights).  They are starting points for the
hardware runs, not tuned optima; ``benchmarks/bench_reference.py`` reruns the
comparison.

What the searches showed:

* The WSP update noise grows with the number of weights (the gradient
  estimate ``(J1 - J0)/c * s`` has per-weight variance about |g|^2), so alpha
  must shrink as the network grows: 0.01 for XOR/parity (17-21 weights),
  0.003 for iris (35 weights), 1e-4 for digits (~1200 weights).  Too large an
  alpha does not diverge (the weights are bounded) but pins weights at ±1 and
  saturates the neurons, and accuracy collapses after an early peak.
* Neuron gain 2 suits the logic tasks; with 64 inputs (digits) a gain of 1 and
  a small initial spread (0.1) keep the hidden neurons out of saturation.
* c between 0.005 and 0.03 made little difference.

Results with these presets (``benchmarks/bench_reference.py``; seed 0 split;
xor/parity3 have no test split)::

    task     WSP train / test            backprop train / test
    xor      100 % on 99 of 100 seeds    100 % (10/10 seeds)
    parity3  100 % on 50 of 50 seeds     100 % (10/10 seeds)
    iris     97.5 % / 96.3 % (3 seeds)   96.8 % / 96.3 %
    digits   94.0 % / 92.2 % (1 seed)    99.8 % / 97.4 %
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Preset", "PRESETS"]


@dataclass(frozen=True, kw_only=True)
class Preset:
    """WSP and backprop settings for one task (all dimensionless)."""

    shape: tuple[int, ...]
    """Layer widths (inputs, hidden, outputs)."""
    gain: float
    """Neuron gain R_f/R_in."""
    alpha: float
    """WSP learning rate (Maeda rule)."""
    c: float
    """WSP perturbation size (weight units)."""
    epochs: int
    """Training epochs."""
    init_scale: float = 0.5
    """Initial weights uniform in [-init_scale, init_scale]."""
    act: str = "tanh"
    """Neuron activation."""
    w_max: float | None = 1.0
    """Weight bound."""
    bp_alpha: float = 0.05
    """Backprop (online SGD) learning rate for the same network."""

    def wsp_kwargs(self) -> dict:
        """Keyword arguments for :func:`~components.learning.reference.wsp_train` (besides task, shape, seed)."""
        return dict(epochs=self.epochs, alpha=self.alpha, c=self.c, gain=self.gain, act=self.act,
                    w_max=self.w_max, init_scale=self.init_scale)

    def backprop_kwargs(self) -> dict:
        """Keyword arguments for :func:`~components.learning.reference.backprop_train`."""
        return dict(epochs=self.epochs, alpha=self.bp_alpha, gain=self.gain, act=self.act,
                    w_max=self.w_max, init_scale=self.init_scale)


#: Presets by task name.
PRESETS: dict[str, Preset] = {
    "xor": Preset(shape=(2, 4, 1), gain=2.0, alpha=0.01, c=0.01, epochs=1000, bp_alpha=0.1),
    "parity3": Preset(shape=(3, 4, 1), gain=2.0, alpha=0.01, c=0.01, epochs=1500, bp_alpha=0.1),
    "iris": Preset(shape=(4, 4, 3), gain=2.0, alpha=0.003, c=0.01, epochs=200, bp_alpha=0.05),
    "digits": Preset(shape=(64, 16, 10), gain=1.0, alpha=1e-4, c=0.01, epochs=300, init_scale=0.1, bp_alpha=0.02),
}
