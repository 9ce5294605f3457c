"""DeviceArray: a vector of memristors of one model, each with its own parameters.

Build phase (``__init__``): draw the device-to-device spread into flat
parameter rows, the initial states and the endurance limits.  Run phase: the
``apply_*`` methods hand whole arrays to one numba kernel call; per-call Python
work is a few argument conversions, no per-device loops.
"""

from __future__ import annotations

import math
import time

import numpy as np

from mssim.errors import ConfigError, SimulationError

from . import kernels as K
from .params import MODEL_YAKOPCIC, DeviceParams, spread_rows

_PAR_MIN = 4096  # use the multi-threaded kernels from this many devices/pairs
_EMPTY_IDX = np.zeros(0, dtype=np.int64)
FLAG_STUCK, FLAG_OPEN = 1, 2


def _as_f64(a, name):
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return arr


class _ThreadPick:
    """Chooses between a kernel's multi-threaded and single-threaded twin (bit-identical results) by their
    measured cost per element: on a machine whose cores other processes hold, the parallel kernel's
    fork/join waits for a descheduled thread and loses to one thread (2-5x on the shared 2-core machine).
    Each twin runs twice first (the first call of each, which may load or compile it, is not counted);
    afterwards the cheaper one runs and the other is re-tried every ``EXPLORE`` calls, so the choice
    follows the load."""

    EXPLORE = 16

    def __init__(self):
        self.cost = {True: 0.0, False: 0.0}
        self.runs = {True: 0, False: 0}
        self.calls = 0

    def parallel(self) -> bool:
        self.calls += 1
        if self.calls <= 4:
            return self.calls % 2 == 1
        best = self.cost[True] <= self.cost[False]
        return (not best) if self.calls % self.EXPLORE == 0 else best

    def record(self, par: bool, per_element: float) -> None:
        self.runs[par] += 1
        if self.runs[par] == 1:
            return
        c = self.cost[par]
        self.cost[par] = per_element if c == 0.0 else 0.7 * c + 0.3 * per_element


class DeviceArray:
    """``n`` memristors of one model, advanced together.

    Parameters
    ----------
    params : DeviceParams
        Model parameters (``TEAMParams``, ``HPParams``, ``VTEAMParams``, ``YakopcicParams``).
    n : int
        Number of devices.
    build_rng, run_rng : numpy.random.Generator, optional
        Build-phase stream (d2d spread, endurance limits) and run-phase stream
        (cycle-to-cycle and read noise).  Needed only if those options are on.
    x0 : array_like, optional
        Initial state in the model's own units (TEAM/VTEAM: metres; HP: w/D;
        Yakopcic: x).  Scalar or shape (n,).
    r0 : array_like, optional
        Initial resistance (ohm) instead of ``x0`` (resistive models, or at
        ``v_read`` for Yakopcic).  Default: halfway between the bounds.
    rtol, atol : float
        Integrator tolerance per step on the normalised state u in [0, 1].
    rate_cap : float
        Cap on |du/dt| (1/s, normalised units); keeps voltage-driven runaway finite.
    exact_flows : bool
        Use the exact constant-voltage flows of :mod:`components.devices.flows` where they
        apply (default).  ``False`` integrates every segment with the error-controlled
        integrator: the oracle the tests compare the flows with.
    """

    def __init__(self, params: DeviceParams, n: int, build_rng=None, run_rng=None, x0=None, r0=None,
                 rtol: float = 1e-6, atol: float = 1e-9, rate_cap: float = 1e10, exact_flows: bool = True):
        if not isinstance(params, DeviceParams):
            raise ConfigError(f"DeviceArray.params: expected a device parameter object, got {type(params).__name__}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"DeviceArray.n: must be a positive integer (got {n!r})")
        for name, val in (("rtol", rtol), ("atol", atol), ("rate_cap", rate_cap)):
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ConfigError(f"DeviceArray.{name}: must be a positive finite number (got {val!r})")
        if x0 is not None and r0 is not None:
            raise ConfigError("DeviceArray: give x0 or r0, not both")
        self.params = params
        self.model = int(params.model_code)
        self.n = int(n)
        self.rtol, self.atol, self.rate_cap = float(rtol), float(atol), float(rate_cap)
        self.exact_flows = bool(exact_flows)
        #: Devices (apply_voltage/apply_current) or pairs (apply_pair*) advanced per path and segment, summed
        #: over calls: [frozen or read, exact flow or closed form, exact flow then integrator or certificate
        #: refused (fallback), integrator, certified closed form (error within the integrator's tolerance)].
        self.path_counts = np.zeros(5, dtype=np.int64)
        self.run_rng = run_rng
        self.P = spread_rows(params, self.n, build_rng)
        #: Every parameter row is the same (no device-to-device spread): the write kernels then read row 0
        #: for all devices (same values, less memory traffic).  ``P`` is not changed after construction.
        self._uniform = bool(np.all(self.P == self.P[0]))
        self.U = np.empty(self.n)
        #: Incremented whenever a method may have changed ``U`` or ``flags``; caches built on
        #: the states (a crossbar's conductance matrix) compare it.  Code that writes ``U`` or
        #: ``flags`` directly must call :meth:`touch` afterwards.
        self.version = 0
        self.dU = np.zeros(self.n)
        self.flags = np.zeros(self.n, dtype=np.uint8)
        self.switch_count = np.zeros(self.n, dtype=np.int64)
        lim = params.endurance_cycles
        if math.isinf(lim):
            self._limit = np.full(self.n, np.iinfo(np.int64).max, dtype=np.int64)
        else:
            if params.endurance_d2d > 0:
                if build_rng is None:
                    raise ConfigError(f"{type(params).__name__}.endurance_d2d: a spread needs build_rng")
                lim = lim * np.exp(params.endurance_d2d * build_rng.standard_normal(self.n))
            self._limit = np.maximum(1, np.round(np.broadcast_to(lim, (self.n,)))).astype(np.int64)
        self._stuck_u = {"current": -1.0, "on": 0.0, "off": 1.0}[params.endurance_stuck]
        if (params.dx_c2c > 0 or params.g_read_noise > 0) and run_rng is None:
            raise ConfigError(f"{type(params).__name__}: dx_c2c / g_read_noise need run_rng")
        self._buf = np.empty(self.n)
        self._pick = _ThreadPick()
        if r0 is not None:
            self.set_resistance(r0)
        elif x0 is not None:
            self.x = x0
        else:
            self.U[:] = 0.5

    # ------------------------------------------------------------------ state
    @property
    def x(self) -> np.ndarray:
        """State in the model's own units (copy), shape (n,)."""
        return self.params.from_u(self.U.copy())

    @x.setter
    def x(self, value) -> None:
        u = self.params.to_u(value)
        lo, hi = self.params.x_bounds
        if np.any(~np.isfinite(u)) or np.any(u < -1e-12) or np.any(u > 1 + 1e-12):
            raise ConfigError(f"DeviceArray.x0: states must lie within [{lo}, {hi}] (got {np.asarray(value)!r})")
        self.U[:] = np.clip(u, 0.0, 1.0)
        self.version += 1

    @property
    def u(self) -> np.ndarray:
        """Normalised state (0 = ON bound, 1 = OFF bound); a view, do not modify."""
        return self.U

    def _u_of_resistance(self, r, rows) -> np.ndarray:
        """Normalised state reading resistance ``r`` for parameter rows ``rows`` (NaN if out of range)."""
        P = rows
        if self.model == MODEL_YAKOPCIC:
            # R = v/(a x sinh(b v)) -> x; R = inf is x = 0 (no current)
            vr = self.params.v_read
            a = P[:, K.Y_A2]  # paper voltage is -v_read < 0
            with np.errstate(all="ignore"):
                x = vr / (r * a * np.sinh(P[:, K.Y_B] * vr))
            return 1.0 - x
        ron, roff = P[:, K.P_RON], P[:, K.P_ROFF]
        lin = P[:, K.P_IV] == 0
        with np.errstate(all="ignore"):
            if np.any(P[:, K.P_IV] == K.IV_LINEAR_G):  # table model: conductance linear in u
                return (1.0 / ron - 1.0 / r) / (1.0 / ron - 1.0 / roff)
            return np.where(lin, (r - ron) / (roff - ron), np.log(r / ron) / np.log(roff / ron))

    def set_resistance(self, r, index=None) -> None:
        """Set states so that each device (or each of ``index``) reads resistance ``r`` (ohm).

        ``r`` is a scalar or one value per selected device.  Fault flags are not
        changed (a stuck device takes the new state and stays stuck there).  Bumps
        :attr:`version`.
        """
        idx = None if index is None else self._index(index)
        m = self.n if idx is None else idx.size
        try:
            r = np.broadcast_to(np.asarray(r, dtype=float), (m,))
        except ValueError:
            raise ConfigError(f"DeviceArray.set_resistance: r must be scalar or have {m} entries "
                              f"(got shape {np.shape(r)})") from None
        rows = self.P if idx is None else self.P[idx]
        u = self._u_of_resistance(r, rows)
        if np.any(np.isnan(u)) or np.any(u < -1e-9) or np.any(u > 1 + 1e-9):
            raise ConfigError(f"DeviceArray.r0: resistance outside the device range (got {np.asarray(r)!r}); "
                              "use a value between r_on and r_off")
        if idx is None:
            self.U[:] = np.clip(u, 0.0, 1.0)
        else:
            self.U[idx] = np.clip(u, 0.0, 1.0)
        self.version += 1

    def set_state(self, index, x) -> None:
        """Set the state of devices ``index`` to ``x`` (model units, scalar or one per device).

        Fault flags are not changed.  Bumps :attr:`version` (no :meth:`touch` needed).
        """
        idx = self._index(index)
        u = np.broadcast_to(np.asarray(self.params.to_u(x), dtype=float), (idx.size,))
        lo, hi = self.params.x_bounds
        if np.any(~np.isfinite(u)) or np.any(u < -1e-12) or np.any(u > 1 + 1e-12):
            raise ConfigError(f"DeviceArray.set_state: states must lie within [{lo}, {hi}] (got {np.asarray(x)!r})")
        self.U[idx] = np.clip(u, 0.0, 1.0)
        self.version += 1

    def resistance_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-device (lowest, highest) resistance (ohm) over the state range, ignoring faults.

        Yakopcic's OFF bound (x = 0) carries no current: its highest resistance is ``inf``.
        """
        ends = []
        flags = np.zeros(self.n, dtype=np.uint8)
        for u in (0.0, 1.0):
            out = np.empty(self.n)
            K.resistances(self.model, self.P, np.full(self.n, u), flags, self.params.v_read, out)
            ends.append(out)
        return np.minimum(ends[0], ends[1]), np.maximum(ends[0], ends[1])

    def drift(self, index, factor) -> None:
        """Resistance drift: multiply the resistance of devices ``index`` by ``factor``
        (scalar or one per device), clipped to each device's range (:meth:`resistance_bounds`).

        Stuck and open devices are left alone.  Bumps :attr:`version`.
        """
        idx = self._index(index)
        f = np.broadcast_to(np.asarray(factor, dtype=float), (idx.size,))
        if np.any(~np.isfinite(f)) or np.any(f <= 0):
            raise ConfigError(f"DeviceArray.drift: factor must be positive and finite (got {np.asarray(factor)!r})")
        live = self.flags[idx] == 0
        idx, f = idx[live], f[live]
        if idx.size:
            lo, hi = self.resistance_bounds()
            r = np.clip(self.resistance()[idx] * f, lo[idx], hi[idx])
            self.set_resistance(r, idx)
        else:
            self.version += 1

    def touch(self) -> None:
        """Declare that ``U`` or ``flags`` were written directly (invalidates state caches).

        Kept for compatibility; prefer the mutating methods (:meth:`set_state`,
        :meth:`set_resistance`, :meth:`drift`, :meth:`set_stuck`, :meth:`set_open`,
        :meth:`clear_faults`), which bump :attr:`version` themselves."""
        self.version += 1

    def resistance(self) -> np.ndarray:
        """Resistance (ohm) per device; Yakopcic: v_read / i(v_read).

        Open devices, and Yakopcic devices at x = 0 (u = 1, no current at any voltage),
        read ``inf``; :meth:`conductance` is then 0."""
        out = np.empty(self.n)
        K.resistances(self.model, self.P[:1] if self._uniform else self.P, self.U, self.flags, self.params.v_read, out)
        return out

    def conductance(self, read_noise: bool = False) -> np.ndarray:
        """Conductance (S) per device, optionally with relative read noise ``g_read_noise``."""
        g = 1.0 / self.resistance()
        if read_noise and self.params.g_read_noise > 0:
            g *= 1.0 + self.params.g_read_noise * self.run_rng.standard_normal(self.n)
            np.maximum(g, 0.0, out=g)
        return g

    def current(self, v) -> np.ndarray:
        """Current (A) into each device's + terminal for voltage ``v`` (scalar or (n,)) across it."""
        out = np.empty(self.n)
        K.currents(self.model, self.P, self.U, self.flags, _as_f64(v, "v"), out)
        return out

    # ------------------------------------------------------------------ drive
    def _check_duration(self, duration_s):
        if not (isinstance(duration_s, (int, float, np.floating)) and math.isfinite(duration_s)
                and duration_s >= 0):
            raise ConfigError(f"DeviceArray.duration_s: must be a non-negative finite number of seconds "
                              f"(got {duration_s!r})")
        return float(duration_s)

    def _index(self, index):
        if index is None:
            return _EMPTY_IDX
        idx = np.asarray(index)
        if idx.dtype != np.int64:
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise ConfigError(f"DeviceArray.index: indices must lie in [0, {self.n}) (got {idx.min()}..{idx.max()})")
        return idx.reshape(-1)

    def _apply1(self, mode, a0, a1, duration_s, index):
        T = self._check_duration(duration_s)
        idx = self._index(index)
        a0 = _as_f64(a0, "v0")
        a1 = _as_f64(a1, "v1")
        m = idx.size if idx.size else self.n
        for a in (a0, a1):
            if a.size != 1 and a.size != m:
                raise ConfigError(f"DeviceArray.apply: drive must be scalar or have {m} entries (got {a.size})")
        energy = np.empty(m)
        fn = K.apply_single_par if m >= _PAR_MIN else K.apply_single
        fn(self.model, self.P, self.U, self.dU, self.flags, self.switch_count, self._limit, self._stuck_u,
           self.params.switch_dx, idx, a0, a1, T, mode, self.rtol, self.atol, self.rate_cap, self.exact_flows, energy,
           self.path_counts)
        self.version += 1
        if self.params.dx_c2c > 0:
            self._c2c(idx if idx.size else None)
        return energy

    def apply_voltage(self, v0, v1, duration_s, index=None) -> np.ndarray:
        """Drive devices with a voltage ramping linearly from ``v0`` to ``v1`` (V) over ``duration_s``.

        ``v0``/``v1`` are scalars or arrays matching the selected devices; ``index``
        selects devices (default all).  Returns the energy (J) dissipated per device.
        """
        return self._apply1(0, v0, v1, duration_s, index)

    def _pieces(self, pieces, who):
        """(v0, v1, T) arrays of a pulse's PWL pieces ``(v0, v1, duration_s)``, checked: durations by
        :meth:`_check_duration`, voltages finite."""
        v0 = np.array([float(p[0]) for p in pieces])
        v1 = np.array([float(p[1]) for p in pieces])
        T = np.array([self._check_duration(p[2]) for p in pieces])
        if not (np.all(np.isfinite(v0)) and np.all(np.isfinite(v1))):
            raise ConfigError(f"DeviceArray.{who}: voltages must be finite")
        return v0, v1, T

    def apply_voltage_pieces(self, pieces, sign=None, index=None) -> np.ndarray:
        """A voltage pulse given as PWL pieces ``(v0, v1, duration_s)`` (V, V, s) across single devices,
        device j driven with ``sign[j]`` times each piece (default 1): the same as one
        :meth:`apply_voltage` call per piece in order (each piece a cycle for ``dx_c2c`` and endurance,
        the same random draws, the same bits), in one kernel pass.  ``index`` selects devices (default
        all).  Returns the energy (J) per device, summed over the pieces."""
        idx = self._index(index)
        m = idx.size if idx.size else self.n
        sign = np.ones(m) if sign is None else _as_f64(sign, "sign")
        if sign.size != m:
            raise ConfigError(f"DeviceArray.apply_voltage_pieces: sign must have one entry per selected device "
                              f"({m}, got {sign.size})")
        v0, v1, T = self._pieces(pieces, "apply_voltage_pieces")
        if not np.all(np.isfinite(sign)):
            raise ConfigError("DeviceArray.apply_voltage_pieces: signs must be finite")
        if v0.size == 0 or m == 0:
            return np.zeros(m)
        energy = np.empty(m)
        c2c_dn, c2c_up = (float(x) for x in self.params.c2c_spreads())
        noise = self.run_rng.standard_normal((v0.size, m)) if self.params.dx_c2c > 0 else np.zeros((1, 1))
        par = m >= _PAR_MIN and self._pick.parallel()
        t0 = time.perf_counter()
        drv0 = np.ascontiguousarray(np.multiply.outer(v0, sign))  # piece q, device j: sign[j]·v0[q]
        drv1 = np.ascontiguousarray(np.multiply.outer(v1, sign))
        (K.apply_single_pieces if par else K.apply_single_pieces_ser)(
            self.model, self.P, self.U, self.dU, self.flags, self.switch_count, self._limit, self._stuck_u,
            self.params.switch_dx, idx, drv0, drv1, T, self.rtol, self.atol, self.rate_cap, self.exact_flows,
            c2c_dn, c2c_up, noise, energy, np.empty(m), self.path_counts)
        if m >= _PAR_MIN:
            self._pick.record(par, (time.perf_counter() - t0) / m)
        self.version += 1
        return energy

    def apply_current(self, i0, i1, duration_s, index=None) -> np.ndarray:
        """Drive devices with a current (into +) ramping from ``i0`` to ``i1`` (A). Returns energy (J)."""
        return self._apply1(1, i0, i1, duration_s, index)

    def apply_pair(self, v0, v1, duration_s, pos_index, neg_index) -> np.ndarray:
        """Drive series pairs with opposite polarity by a voltage ramp ``v0`` -> ``v1`` (V) across each pair.

        Current ``i`` flows into + of ``pos_index[k]`` and into − of ``neg_index[k]``.
        Index arrays should be int64 (converted otherwise).  Returns energy (J) per pair.
        """
        T = self._check_duration(duration_s)
        pos = pos_index if (isinstance(pos_index, np.ndarray) and pos_index.dtype == np.int64) else \
            self._index(pos_index)
        neg = neg_index if (isinstance(neg_index, np.ndarray) and neg_index.dtype == np.int64) else \
            self._index(neg_index)
        if pos.shape != neg.shape or pos.ndim != 1:
            raise ConfigError(f"DeviceArray.apply_pair: pos_index and neg_index must be 1-D of equal length "
                              f"(got {pos.shape} and {neg.shape})")
        a0 = _as_f64(v0, "v0")
        a1 = _as_f64(v1, "v1")
        m = pos.size
        if (a0.size != 1 and a0.size != m) or (a1.size != 1 and a1.size != m):
            raise ConfigError(f"DeviceArray.apply_pair: voltages must be scalar or have {m} entries")
        energy = np.empty(m)
        fn = K.apply_pairs_par if m >= _PAR_MIN // 2 else K.apply_pairs
        fn(self.model, self.P, self.U, self.dU, self.flags, self.switch_count, self._limit, self._stuck_u,
           self.params.switch_dx, pos, neg, a0, a1, T, self.rtol, self.atol, self.rate_cap, self.exact_flows, energy,
           self.path_counts)
        self.version += 1
        if self.params.dx_c2c > 0:
            self._c2c(np.concatenate([pos, neg]))
        return energy

    def apply_pair_pulse(self, amplitude, width, rise, fall, pos_index, neg_index) -> np.ndarray:
        """One trapezoid pulse through series pairs: 0 -> ``amplitude`` over ``rise``, ``amplitude`` for
        ``width``, back to 0 over ``fall`` (s); ``amplitude`` (V) and ``width`` scalar or one per pair.

        The same as the three ``apply_pair`` calls of those segments (bit for bit with cycle-to-cycle
        noise and wear-out off), in one pass over the pairs: a pulse is one cycle for ``dx_c2c`` and one
        possible switching event for endurance.  Returns the energy (J) per pair.
        """
        rise = self._check_duration(rise)
        fall = self._check_duration(fall)
        pos = pos_index if (isinstance(pos_index, np.ndarray) and pos_index.dtype == np.int64) else \
            self._index(pos_index)
        neg = neg_index if (isinstance(neg_index, np.ndarray) and neg_index.dtype == np.int64) else \
            self._index(neg_index)
        if pos.shape != neg.shape or pos.ndim != 1:
            raise ConfigError(f"DeviceArray.apply_pair_pulse: pos_index and neg_index must be 1-D of equal length "
                              f"(got {pos.shape} and {neg.shape})")
        m = pos.size
        amp = _as_f64(amplitude, "amplitude")
        wid = _as_f64(width, "width")
        if (amp.size != 1 and amp.size != m) or (wid.size != 1 and wid.size != m):
            raise ConfigError(f"DeviceArray.apply_pair_pulse: amplitude and width must be scalar or have {m} entries")
        if not (np.all(np.isfinite(amp)) and np.all(np.isfinite(wid)) and np.all(wid >= 0)):
            raise ConfigError("DeviceArray.apply_pair_pulse: amplitudes must be finite and widths non-negative "
                              "finite seconds")
        energy = np.empty(m)
        K.apply_pair_pulses(self.model, self.P, self.U, self.dU, self.flags, self.switch_count, self._limit,
                            self._stuck_u, self.params.switch_dx, pos, neg, amp, wid, rise, fall, self.rtol,
                            self.atol, self.rate_cap, self.exact_flows, energy, self.path_counts)
        self.version += 1
        if self.params.dx_c2c > 0:
            self._c2c(np.concatenate([pos, neg]))
        return energy

    def apply_pair_pieces(self, pieces, sign, pos_index, neg_index) -> np.ndarray:
        """A write pulse given as PWL pieces ``(v0, v1, duration_s)`` (V, V, s) through series pairs, pair j
        driven with ``sign[j]`` times each piece: the same as one :meth:`apply_pair` call per piece in order
        (each piece a cycle for ``dx_c2c`` and endurance, the same random draws), in one kernel pass.
        Index arrays int64, equal length.  Returns the energy (J) per pair, summed over the pieces."""
        pos = pos_index if (isinstance(pos_index, np.ndarray) and pos_index.dtype == np.int64) else \
            self._index(pos_index)
        neg = neg_index if (isinstance(neg_index, np.ndarray) and neg_index.dtype == np.int64) else \
            self._index(neg_index)
        m = pos.size
        sign = _as_f64(sign, "sign")
        if pos.shape != neg.shape or pos.ndim != 1 or sign.size != m:
            raise ConfigError(f"DeviceArray.apply_pair_pieces: pos_index, neg_index and sign must be 1-D of equal "
                              f"length (got {pos.shape}, {neg.shape} and {sign.shape})")
        v0, v1, T = self._pieces(pieces, "apply_pair_pieces")
        if v0.size == 0 or m == 0:
            return np.zeros(m)
        energy = np.empty(m)
        c2c_dn, c2c_up = (float(x) for x in self.params.c2c_spreads())
        noise = self.run_rng.standard_normal((v0.size, 2 * m)) if self.params.dx_c2c > 0 else np.zeros((1, 1))
        par = m >= _PAR_MIN // 2 and self._pick.parallel()
        t0 = time.perf_counter()
        (K.apply_pair_pieces if par else K.apply_pair_pieces_ser)(
            self.model, self.P, self.U, self.dU, self.flags, self.switch_count, self._limit, self._stuck_u,
            self.params.switch_dx, pos, neg, sign, v0, v1, T, self.rtol, self.atol, self.rate_cap, self.exact_flows,
            self._uniform, c2c_dn, c2c_up, noise, energy, self.path_counts)
        if m >= _PAR_MIN // 2:
            self._pick.record(par, (time.perf_counter() - t0) / m)
        self.version += 1
        return energy

    def _c2c(self, idx):
        """Cycle-to-cycle noise: scale each state change of this call by (1 + dx_c2c·N(0, 1))."""
        sel = slice(None) if idx is None else idx
        du = self.dU[sel]
        noise = self.run_rng.standard_normal(du.shape)
        u = self.U[sel] + du * self.params.c2c_scale(du) * noise
        stuck = (self.flags[sel] & 3) != 0
        self.U[sel] = np.where(stuck, self.U[sel], np.clip(u, 0.0, 1.0))
        self.version += 1

    def idle(self, duration_s) -> None:
        """Let ``duration_s`` pass at 0 V: retention drift u -> target + (u - target)·exp(-t/tau)."""
        T = self._check_duration(duration_s)
        tau = self.params.retention_tau
        if math.isinf(tau) or T == 0.0:
            return
        f = math.exp(-T / tau)
        tgt = self.params.retention_target
        live = (self.flags & 3) == 0
        self.U[live] = tgt + (self.U[live] - tgt) * f
        self.version += 1

    # ------------------------------------------------------------------ faults
    @property
    def stuck_mask(self) -> np.ndarray:
        """Boolean mask of devices whose state is frozen (stuck or worn out)."""
        return (self.flags & FLAG_STUCK) != 0

    @property
    def open_mask(self) -> np.ndarray:
        """Boolean mask of open (non-conducting) devices."""
        return (self.flags & FLAG_OPEN) != 0

    @property
    def healthy_mask(self) -> np.ndarray:
        """Boolean mask of devices with no fault flag (neither stuck nor open)."""
        return self.flags == 0

    @property
    def faults(self) -> np.ndarray:
        """Fault code per device: 0 healthy, 1 stuck, 2 open (3 both)."""
        return self.flags.copy()

    def set_stuck(self, index, state="current") -> None:
        """Freeze devices: ``state`` is ``"on"`` (u = 0), ``"off"`` (u = 1), ``"current"`` or a
        state in model units.  Bumps :attr:`version`."""
        idx = self._index(index)
        if isinstance(state, str):
            if state not in ("on", "off", "current"):
                raise ConfigError(f"DeviceArray.set_stuck: state must be 'on', 'off', 'current' or a number "
                                  f"(got {state!r})")
            if state != "current":
                self.U[idx] = 0.0 if state == "on" else 1.0
        else:
            u = float(self.params.to_u(state))
            if not 0.0 <= u <= 1.0:
                raise ConfigError(f"DeviceArray.set_stuck: state outside the device bounds (got {state!r})")
            self.U[idx] = u
        self.flags[idx] |= FLAG_STUCK
        self.version += 1

    def set_open(self, index) -> None:
        """Make devices open circuits (zero current, infinite resistance, state frozen).  Bumps :attr:`version`."""
        self.flags[self._index(index)] |= FLAG_OPEN
        self.version += 1

    def clear_faults(self, index=None) -> None:
        """Remove stuck/open flags (does not reset switch counts)."""
        self.flags[self._index(index) if index is not None else slice(None)] = 0
        self.version += 1

    def check_finite(self) -> None:
        """Raise SimulationError if any state is NaN (for per-phase checks)."""
        if not np.all(np.isfinite(self.U)):
            raise SimulationError(f"DeviceArray: {int(np.sum(~np.isfinite(self.U)))} device states are not finite")

    def __repr__(self) -> str:
        return f"DeviceArray({type(self.params).__name__}, n={self.n})"
