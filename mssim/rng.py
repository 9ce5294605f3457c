"""Seeded random streams, derived by name rather than by creation order.

One root seed per run.  Every stream is derived from ``(phase, component path,
purpose)`` by hashing, so adding a component never changes another component's
numbers, and the order in which streams are requested does not matter.

Two phases keep build-time randomness (device-to-device spread, initial
states) apart from run-time randomness (cycle-to-cycle noise, perturbation
signs): ``SeedTree(seed, run_seed=other)`` retrains the same chip with fresh
noise.  The global NumPy and ``random`` generators are never touched.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .errors import ConfigError

BUILD = "build"
RUN = "run"


def _entropy(*parts: object) -> list[int]:
    h = hashlib.blake2b(digest_size=32)
    for p in parts:
        b = str(p).encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    d = h.digest()
    return [int.from_bytes(d[i : i + 4], "little") for i in range(0, 32, 4)]


class SeedTree:
    """Source of named, independent random streams for one run.

    Parameters
    ----------
    seed : int
        Root seed (non-negative integer).  Determines build-time streams.
    run_seed : int, optional
        Seed for run-time streams; defaults to ``seed``.
    """

    def __init__(self, seed: int, run_seed: int | None = None) -> None:
        for label, val in (("seed", seed), ("run_seed", run_seed)):
            if val is None:
                continue
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 0:
                raise ConfigError(f"SeedTree.{label}: must be a non-negative integer (got {val!r})")
        self.seed = int(seed)
        self.run_seed = int(seed if run_seed is None else run_seed)

    def stream(self, path: str, purpose: str, phase: str = RUN) -> np.random.Generator:
        """Return a fresh ``numpy.random.Generator`` for ``(phase, path, purpose)``.

        Calling twice with the same arguments gives two generators producing the
        same numbers; callers keep the generator they get.
        """
        if phase == BUILD:
            root = self.seed
        elif phase == RUN:
            root = self.run_seed
        else:
            raise ConfigError(f"SeedTree.stream: phase must be 'build' or 'run' (got {phase!r})")
        ss = np.random.SeedSequence(_entropy("mssim", phase, root, path, purpose))
        return np.random.Generator(np.random.PCG64(ss))

    def build_stream(self, path: str, purpose: str) -> np.random.Generator:
        """Shorthand for ``stream(path, purpose, BUILD)``."""
        return self.stream(path, purpose, BUILD)

    def run_stream(self, path: str, purpose: str) -> np.random.Generator:
        """Shorthand for ``stream(path, purpose, RUN)``."""
        return self.stream(path, purpose, RUN)

    def __repr__(self) -> str:
        return f"SeedTree(seed={self.seed}, run_seed={self.run_seed})"
