"""Perturbation sign generators: a seeded software stream, or parallel LFSRs as hardware would.

Both return one ±1 per synapse per pattern, as float64.
"""

from __future__ import annotations

import numpy as np

from mssim.errors import ConfigError


class StreamSigns:
    """Signs from a seeded NumPy stream: ``rng.integers(0, 2, n) * 2 - 1``.

    This is exactly the convention of :mod:`components.learning.reference`, so
    an ideal chip reproduces the plain-numpy WSP run bit for bit.  The signs of
    up to :attr:`BATCH` patterns are drawn at once (``integers(0, 2, (B, n))``
    gives the same numbers, and leaves the stream in the same state, as B draws of
    n: tests/test_signs.py), each pattern's row handed out as a new array view.
    """

    #: At most this many patterns' signs per draw (and at most ~1 MiB of them).
    BATCH = 256

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.rng = rng
        self.n = n
        self._rows = max(1, min(self.BATCH, (1 << 17) // max(1, n)))
        self._buf = np.zeros((0, n))
        self._next = 0

    def draw(self) -> np.ndarray:
        i = self._next
        if i >= self._buf.shape[0]:
            self._buf = (self.rng.integers(0, 2, size=(self._rows, self.n)) * 2 - 1).astype(np.float64)
            i = 0
        self._next = i + 1
        return self._buf[i]


class LFSRSigns:
    """One 16-bit maximal-length Fibonacci LFSR per synapse (taps 16, 14, 13, 11).

    Each synapse's register is seeded (non-zero) from the run stream and shifts
    once per pattern; its output bit is the sign.  This is what a chip with a
    local pseudo-random source per synapse produces: not independent draws,
    but a sequence with period 65535 per synapse.
    """

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        if n < 1:
            raise ConfigError(f"LFSRSigns.n: must be positive (got {n})")
        self.state = rng.integers(1, 1 << 16, size=n, dtype=np.uint32)
        self.n = n

    def draw(self) -> np.ndarray:
        s = self.state
        bit = ((s >> 0) ^ (s >> 2) ^ (s >> 3) ^ (s >> 5)) & 1
        self.state = (s >> 1) | (bit << 15)
        return bit.astype(np.float64) * 2.0 - 1.0
