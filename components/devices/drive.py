"""Drive helpers: apply a whole piecewise-linear waveform to a DeviceArray.

A waveform is its corner list (times, values); each linear piece is one
``apply_*`` call, so the state is advanced exactly as the device layer
advances any segment.  Used by the CLI and by the ngspice cross-checks.
"""

from __future__ import annotations

import numpy as np

from mssim.errors import ConfigError


def apply_waveform(arr, times, values, *, kind: str = "voltage", index=None, pos=None, neg=None):
    """Apply the PWL waveform to ``arr``; return the normalised states after every corner.

    ``kind`` is ``"voltage"`` or ``"current"`` (devices ``index``, default all) or
    ``"pair"`` (series pairs ``pos``/``neg``).  Returns an array of shape
    (len(times), n) of ``arr.u`` copies (corner 0 = initial state) and the total
    energy (J) per driven device or pair.
    """
    times = np.asarray(times, float)
    values = np.asarray(values, float)
    if times.ndim != 1 or times.shape != values.shape:
        raise ConfigError("apply_waveform: times and values must be 1-D of equal length")
    if np.any(np.diff(times) < 0):
        raise ConfigError("apply_waveform: times must not decrease")
    states = np.empty((times.size, arr.n))
    states[0] = arr.u
    energy = 0.0
    if kind == "pair":
        pos = np.asarray(pos, dtype=np.int64)
        neg = np.asarray(neg, dtype=np.int64)
    for k in range(1, times.size):
        dt = times[k] - times[k - 1]
        v0, v1 = values[k - 1], values[k]
        if kind == "voltage":
            energy = energy + arr.apply_voltage(v0, v1, dt, index)
        elif kind == "current":
            energy = energy + arr.apply_current(v0, v1, dt, index)
        elif kind == "pair":
            energy = energy + arr.apply_pair(v0, v1, dt, pos, neg)
        else:
            raise ConfigError(f"apply_waveform.kind: must be 'voltage', 'current' or 'pair' (got {kind!r})")
        states[k] = arr.u
    return states, energy
