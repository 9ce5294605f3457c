"""``table``: a memristor built from measured potentiation/depression curves.

The data (a CSV, format below and in docs/devices.md) are the conductance after each pulse of SET
trains (toward ON, conductance rising) and RESET trains (toward OFF), each train at one stated
amplitude and width, repeated over one or more cycles.  From them:

* **mean curves** ``G_set(n)`` and ``G_reset(n)``: the mean over cycles of the conductance after
  ``n`` pulses; each must be strictly monotone;
* **device range** ``[g_min, g_max]``: the lowest and highest mean conductance; the state is
  ``u = (g_max − G)/(g_max − g_min)`` (0 = ON, 1 = OFF, like every mssim model) and the
  conductance is linear in ``u``;
* **rate law** (continuous time): with ``n(G)`` the pulse number of the mean curve at ``G``
  (piecewise-linear interpolation), the device moves along its mean curve at

      dn/dt = s(v) / w,        s(v) = ((|v| − v_th)/(A − v_th))^alpha  for |v| > v_th, else 0,

  where ``A`` and ``w`` are the measured amplitude and width of that direction and
  ``v_th = th·A``.  Equivalently dG/dt = ΔG(G)·s(v)/w with ΔG(G) the tabulated mean step of the
  pulse interval containing ``G``.  Hence one rectangular pulse of amplitude ``A`` and width ``w``
  from a point of the mean curve lands exactly on the next point (the data's mean step), and a
  pulse of amplitude ``V`` and width ``t`` advances the pulse number by ``(t/w)·s(V)`` (edges add
  their own ∫ s(v(t)) dt / w).  Outside the tabulated range of a curve the rate of its nearest
  interval is used; the state stops at ``g_min``/``g_max``.
* **cycle-to-cycle spread** from the scatter: each measured step is compared with the model's mean
  step from the same starting conductance, ``ε = ΔG_measured/ΔG_model(G_start) − 1``; the spread
  of a direction is the robust standard deviation 1.4826·median(|ε − median ε|).  It becomes the
  relative spread of every state change of that direction (``dx_c2c`` is the larger of the two and
  gates the draw; each direction is scaled by its own value).

Polarity: a positive voltage on the + terminal moves the state toward OFF (RESET), a negative one
toward ON (SET), as for every mssim model; the CSV states amplitudes as magnitudes.

CSV format (``#`` lines are comments; ``key = value`` comment lines carry the conditions)::

    # set_amplitude = 1 V
    # set_width = 100 ns
    # reset_amplitude = 1 V
    # reset_width = 100 ns
    direction,cycle,pulse,conductance_S        (or resistance_ohm instead of conductance_S)
    set,0,0,6.3e-05
    set,0,1,7.1e-05
    ...

``pulse`` 0 is the state before the first pulse of the train; every cycle of a direction has the
same pulses 0, 1, ..., N (N >= MIN_PULSES).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from mssim.errors import ConfigError, field_error
from mssim.units import parse_quantity

from .params import (NPARAM, P_ADOWN, P_AUP, P_IV, P_RON, P_ROFF, P_THDOWN, P_THUP, DeviceParams, _finite,
                     _positive)

MODEL_TABLE = 4
#: ``P_IV`` code of a device whose conductance (not resistance) is linear in the state.
IV_LINEAR_G = 2.0
#: Fewest pulses per train (mean steps per direction).
MIN_PULSES = 4
#: Folder of the shipped device tables (a bare file name not found in the current folder is looked up here).
DATA_DIR = Path(__file__).resolve().parent / "data"
META_KEYS = {"set_amplitude": "V", "set_width": "s", "reset_amplitude": "V", "reset_width": "s"}

# Row layout beyond the common NPARAM columns: per direction the amplitude, width, 1/(A − v_th),
# the number of knots and the knots in u (ascending) -- set knots first, then reset knots.
T_AMP_SET, T_AMP_RESET, T_W_SET, T_W_RESET, T_INV_SET, T_INV_RESET, T_N_SET, T_N_RESET = range(NPARAM, NPARAM + 8)
T_KNOTS = NPARAM + 8


# ------------------------------------------------------------------------------------------ law
@njit(cache=True, inline="always")
def _interval(P, k, first, n, u, downward):
    """Index j of the knot interval [knot_j, knot_j+1] that motion from u enters (clamped to the ends)."""
    lo = 0
    hi = n - 2
    if hi < 0:
        return 0
    # the interval entered: for upward motion knot_j <= u < knot_j+1, downward knot_j < u <= knot_j+1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        km = P[k, first + mid]
        if (u >= km) if not downward else (u > km):
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(cache=True, _nrt=False)
def table_rate(P, k, u, v):
    """du/dt (1/s) of table device k at normalised state u under device voltage v (before the cap)."""
    if v > P[k, P_THUP]:
        n = int(P[k, T_N_RESET])
        first = T_KNOTS + int(P[k, T_N_SET])
        j = _interval(P, k, first, n, u, False)
        step = P[k, first + j + 1] - P[k, first + j]
        s = (v - P[k, P_THUP]) * P[k, T_INV_RESET]
        a = P[k, P_AUP]
        return step / P[k, T_W_RESET] * (s if a == 1.0 else s ** a)
    if v < P[k, P_THDOWN]:
        n = int(P[k, T_N_SET])
        first = T_KNOTS
        j = _interval(P, k, first, n, u, True)
        step = P[k, first + j + 1] - P[k, first + j]
        s = (P[k, P_THDOWN] - v) * P[k, T_INV_SET]
        a = P[k, P_ADOWN]
        return -step / P[k, T_W_SET] * (s if a == 1.0 else s ** a)
    return 0.0


@njit(cache=True, inline="always")
def _int_pos(c0, c1, T, a):
    """Exact integral over [0, T] of max(0, c(t))**a for c linear from c0 to c1."""
    if c0 <= 0.0 and c1 <= 0.0:
        return 0.0
    if c1 == c0:
        return T * c0 ** a
    return T / (c1 - c0) * (max(c1, 0.0) ** (a + 1.0) - max(c0, 0.0) ** (a + 1.0)) / (a + 1.0)


@njit(cache=True, _nrt=False)
def _walk(P, k, first, n, u, dp):
    """Move u by dp knot intervals along the ascending knots P[k, first:first+n] (end intervals extended)."""
    j = _interval(P, k, first, n, u, dp < 0.0)
    k0 = P[k, first + j]
    p = j + (u - k0) / (P[k, first + j + 1] - k0) + dp
    j = int(math.floor(p))
    if j < 0:
        j = 0
    elif j > n - 2:
        j = n - 2
    k0 = P[k, first + j]
    return k0 + (p - j) * (P[k, first + j + 1] - k0)


@njit(cache=True, _nrt=False)
def table_flow(P, k, u, a0, a1, T, cap):
    """Exact end state of table device k after the voltage ramp a0 -> a1 (V) over T (s), or -1.0 if the
    rate cap would bind.  The pulse number moves by ∫ s(v(t)) dt / w in each direction (the law depends
    on the drive only), the SET part first when the ramp rises (it is below the SET threshold first)."""
    ns = int(P[k, T_N_SET])
    nr = int(P[k, T_N_RESET])
    a_up = P[k, P_AUP]
    a_dn = P[k, P_ADOWN]
    th_up = P[k, P_THUP]
    th_dn = P[k, P_THDOWN]
    inv_up = P[k, T_INV_RESET]
    inv_dn = P[k, T_INV_SET]
    up = _int_pos((a0 - th_up) * inv_up, (a1 - th_up) * inv_up, T, a_up) / P[k, T_W_RESET]
    dn = _int_pos((th_dn - a0) * inv_dn, (th_dn - a1) * inv_dn, T, a_dn) / P[k, T_W_SET]
    if up > 0.0:
        peak = max(max(a0, a1) - th_up, 0.0) * inv_up
        big = 0.0
        for q in range(nr - 1):
            big = max(big, P[k, T_KNOTS + ns + q + 1] - P[k, T_KNOTS + ns + q])
        if big / P[k, T_W_RESET] * peak ** a_up > cap:
            return -1.0
    if dn > 0.0:
        peak = max(th_dn - min(a0, a1), 0.0) * inv_dn
        big = 0.0
        for q in range(ns - 1):
            big = max(big, P[k, T_KNOTS + q + 1] - P[k, T_KNOTS + q])
        if big / P[k, T_W_SET] * peak ** a_dn > cap:
            return -1.0
    for q in range(2):
        do_set = (q == 0) == (a0 <= a1)
        if do_set and dn > 0.0:
            u = min(max(_walk(P, k, T_KNOTS, ns, u, -dn), 0.0), 1.0)
        elif not do_set and up > 0.0:
            u = min(max(_walk(P, k, T_KNOTS + ns, nr, u, up), 0.0), 1.0)
    return u


# ------------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class MeasuredTable:
    """A parsed, checked device table (conductances in S, times in s, volts)."""

    path: str
    sha256: str
    set_amplitude: float
    set_width: float
    reset_amplitude: float
    reset_width: float
    set_curves: np.ndarray      # (cycles, N + 1) conductance after n pulses
    reset_curves: np.ndarray
    unit: str                   # "conductance_S" or "resistance_ohm" as given

    @property
    def set_mean(self) -> np.ndarray:
        return self.set_curves.mean(axis=0)

    @property
    def reset_mean(self) -> np.ndarray:
        return self.reset_curves.mean(axis=0)

    @property
    def g_min(self) -> float:
        return float(min(self.set_mean.min(), self.reset_mean.min()))

    @property
    def g_max(self) -> float:
        return float(max(self.set_mean.max(), self.reset_mean.max()))


def resolve_data_path(data: str) -> Path:
    """The file a ``data`` value names: the path as given (relative to the current folder), or, for a
    bare file name that does not exist there, the shipped table of that name.  (Scenario files also
    find a table next to themselves: :func:`components.training.config.load` resolves that first.)"""
    p = Path(os.path.expanduser(data))
    if p.is_file():
        return p.resolve()
    if p.name == data and (DATA_DIR / data).is_file():
        return DATA_DIR / data
    shipped = ", ".join(sorted(f.name for f in DATA_DIR.glob("*.csv"))) if DATA_DIR.is_dir() else "none"
    if p.is_dir():
        raise field_error("TableParams", "data", f"{data} is a folder; give the CSV file", data)
    raise field_error("TableParams", "data", "no such file", data,
                      f"give the path of a CSV of pulse trains (relative to the current folder or to the "
                      f"scenario file) or a shipped table name ({shipped})")


_CACHE: dict = {}


def load_table(data: str) -> MeasuredTable:
    """Parse and check a device table (cached by path, size and modification time)."""
    if not isinstance(data, str) or not data.strip():
        raise field_error("TableParams", "data", "must name a CSV file of pulse trains", data,
                          "set device.params.data = \"my_device.csv\" (or the shipped \"example_table.csv\")")
    path = resolve_data_path(data)
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    raw = path.read_bytes()
    tab = _parse(raw, str(path), data)
    _CACHE.clear()
    _CACHE[key] = tab
    return tab


def _err(data, what, fix=None):
    return ConfigError(f"TableParams.data: {data}: {what}" + (f"; {fix}" if fix else ""))


def _parse(raw: bytes, path: str, data: str) -> MeasuredTable:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _err(data, "not a UTF-8 text file", "give a CSV file") from None
    meta: dict[str, float] = {}
    body = []
    for ln, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            c = s.lstrip("#").strip()
            if "=" in c:
                k, v = (x.strip() for x in c.split("=", 1))
                if k in META_KEYS:
                    v = v.split("(")[0].strip()
                    try:
                        val = parse_quantity(v, META_KEYS[k], name=k)
                    except ConfigError as exc:
                        raise _err(data, f"line {ln}: {k}: {exc}", f"write e.g. '# {k} = "
                                   f"{'1 V' if META_KEYS[k] == 'V' else '100 ns'}'") from None
                    if not (math.isfinite(val) and val > 0):
                        raise _err(data, f"line {ln}: {k} must be positive (got {v!r})",
                                   "give the magnitude (amplitudes are magnitudes; the polarity is mssim's)")
                    meta[k] = val
            continue
        body.append((ln, s))
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise _err(data, f"missing {', '.join(missing)}",
                   "state the measurement conditions in comment lines such as '# set_amplitude = 1 V' and "
                   "'# set_width = 100 ns' (also reset_amplitude, reset_width)")
    if not body:
        raise _err(data, "no data rows", "add a header 'direction,cycle,pulse,conductance_S' and the pulse trains")
    header = [h.strip() for h in next(csv.reader(io.StringIO(body[0][1])))]
    need = {"direction", "cycle", "pulse"}
    units = [u for u in ("conductance_S", "resistance_ohm") if u in header]
    if not need <= set(header) or len(units) != 1:
        raise _err(data, f"line {body[0][0]}: wrong columns {header}",
                   "the header must be direction,cycle,pulse and exactly one of conductance_S or resistance_ohm")
    ci = {h: header.index(h) for h in (*need, units[0])}
    trains: dict[tuple[str, str], dict[int, float]] = {}
    for ln, s in body[1:]:
        row = [x.strip() for x in next(csv.reader(io.StringIO(s)))]
        if len(row) != len(header):
            raise _err(data, f"line {ln}: {len(row)} fields, the header has {len(header)}",
                       "give one value per column on every row")
        d = row[ci["direction"]].lower()
        if d not in ("set", "reset"):
            raise _err(data, f"line {ln}: direction {row[ci['direction']]!r}",
                       "use 'set' (conductance rising, toward ON) or 'reset' (falling, toward OFF)")
        try:
            n = int(row[ci["pulse"]])
            val = float(row[ci[units[0]]])
        except ValueError:
            raise _err(data, f"line {ln}: pulse must be an integer and {units[0]} a number (got {row})",
                       "write plain numbers such as 3 and 1.2e-4 (SI units, no unit suffix)") from None
        if not (math.isfinite(val) and val > 0):
            raise _err(data, f"line {ln}: {units[0]} must be positive and finite (got {val!r})",
                       "give conductances in siemens (or resistances in ohm) as measured")
        tr = trains.setdefault((d, row[ci["cycle"]]), {})
        if n in tr:
            raise _err(data, f"line {ln}: pulse {n} of {d} cycle {row[ci['cycle']]} appears twice",
                       "number the cycles of a direction apart (cycle column)")
        tr[n] = val if units[0] == "conductance_S" else 1.0 / val
    curves = {}
    for d in ("set", "reset"):
        cyc = [(c, t) for (dd, c), t in trains.items() if dd == d]
        if not cyc:
            raise _err(data, f"no {d} train", "give both SET and RESET pulse trains")
        lengths = set()
        rows = []
        for c, t in cyc:
            ns = sorted(t)
            if ns != list(range(len(ns))):
                raise _err(data, f"{d} cycle {c}: pulses must run 0, 1, 2, ... without gaps (got {ns[:5]}...)",
                           "pulse 0 is the state before the first pulse")
            lengths.add(len(ns))
            rows.append([t[n] for n in ns])
        if len(lengths) != 1:
            raise _err(data, f"the {d} cycles have different lengths ({sorted(lengths)} points)",
                       "give every cycle of a direction the same number of pulses")
        npts = lengths.pop()
        if npts - 1 < MIN_PULSES:
            raise _err(data, f"too few points: the {d} trains have {npts - 1} pulses",
                       f"give at least {MIN_PULSES} pulses per train")
        arr = np.array(rows, dtype=float)
        mean = arr.mean(axis=0)
        steps = np.diff(mean)
        bad = np.flatnonzero(steps <= 0) if d == "set" else np.flatnonzero(steps >= 0)
        if bad.size:
            j = int(bad[0])
            raise _err(data, f"the mean {d} curve is not monotone: its conductance "
                             f"{'falls' if d == 'set' else 'rises'} from pulse {j} to {j + 1} "
                             f"({mean[j]:.4g} -> {mean[j + 1]:.4g} S)",
                       "average more cycles, cut the saturated tail of the trains, or check the direction labels")
        curves[d] = arr
    return MeasuredTable(path=path, sha256=hashlib.sha256(raw).hexdigest(), unit=units[0],
                         set_amplitude=meta["set_amplitude"], set_width=meta["set_width"],
                         reset_amplitude=meta["reset_amplitude"], reset_width=meta["reset_width"],
                         set_curves=curves["set"], reset_curves=curves["reset"])


# ------------------------------------------------------------------------------------------ params
def _knots(mean: np.ndarray, g_min: float, g_max: float) -> np.ndarray:
    """The mean curve in u, ascending (pulse order for RESET, reversed for SET)."""
    u = (g_max - mean) / (g_max - g_min)
    return np.sort(u)


def mean_step(mean: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The model's mean one-pulse step (S) from conductances ``g`` along a mean curve (either direction):
    the curve's next point in pulse-number coordinates, minus ``g`` (interval rates extend past the ends)."""
    rising = mean[-1] > mean[0]
    x = mean if rising else -mean
    gg = np.asarray(g, float) if rising else -np.asarray(g, float)
    n = np.arange(mean.size, dtype=float)
    # pulse number n(g) with linear extrapolation of the end intervals
    j = np.clip(np.searchsorted(x, gg, side="right") - 1, 0, mean.size - 2)
    nn = j + (gg - x[j]) / (x[j + 1] - x[j])
    n1 = nn + 1.0
    k = np.clip(np.floor(n1).astype(int), 0, mean.size - 2)
    g1 = x[k] + (n1 - k) * (x[k + 1] - x[k])
    out = g1 - gg
    return out if rising else -out


def scatter(curves: np.ndarray, mean: np.ndarray) -> float:
    """Robust relative spread of the measured steps around the model's mean step from the same start."""
    g0 = curves[:, :-1].ravel()
    dg = np.diff(curves, axis=1).ravel()
    m = mean_step(mean, g0)
    ok = np.abs(m) > 0
    eps = dg[ok] / m[ok] - 1.0
    if eps.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(eps - np.median(eps))))


@dataclass(frozen=True, kw_only=True)
class TableParams(DeviceParams):
    """A device built from measured SET/RESET pulse trains (module docstring: the law and the CSV).

    ``data`` names the CSV; ``th_*`` set the switching threshold as a fraction of the measured
    amplitude, ``alpha_*`` the exponent of the amplitude rule.  ``dx_c2c`` defaults to the data's
    scatter (``c2c_from_data``); set ``c2c_from_data = 0`` to use ``dx_c2c`` as given for both
    directions.
    """

    data: str = ""
    """CSV of SET/RESET pulse trains (path, or a shipped table name such as ``example_table.csv``)."""
    th_set: float = 0.5
    """SET threshold as a fraction of the measured SET amplitude (0 < th_set < 1)."""
    th_reset: float = 0.5
    """RESET threshold as a fraction of the measured RESET amplitude (0 < th_reset < 1)."""
    alpha_set: float = 1.0
    """Exponent of the SET amplitude rule s(v) = ((|v| − v_th)/(A − v_th))^alpha."""
    alpha_reset: float = 1.0
    """Exponent of the RESET amplitude rule."""
    c2c_from_data: float = 1.0
    """Multiplies the scatter measured in the data (1 = as measured, 0 = none: then ``dx_c2c`` applies)."""

    model_code = MODEL_TABLE

    def __post_init__(self):
        o = "TableParams"
        object.__setattr__(self, "_dx_given", self.dx_c2c)
        tab = load_table(self.data)
        for n in ("th_set", "th_reset"):
            _finite(o, n, getattr(self, n))
            if not 0.0 < getattr(self, n) < 1.0:
                raise field_error(o, n, "must lie strictly between 0 and 1 (a fraction of the measured amplitude)",
                                  getattr(self, n))
        _positive(o, "alpha_set", self.alpha_set)
        _positive(o, "alpha_reset", self.alpha_reset)
        _finite(o, "c2c_from_data", self.c2c_from_data)
        if self.c2c_from_data < 0:
            raise field_error(o, "c2c_from_data", "must not be negative", self.c2c_from_data)
        self._check_common()
        object.__setattr__(self, "table", tab)
        sig_set = self.c2c_from_data * scatter(tab.set_curves, tab.set_mean)
        sig_reset = self.c2c_from_data * scatter(tab.reset_curves, tab.reset_mean)
        if self.c2c_from_data == 0:
            sig_set = sig_reset = self.dx_c2c
        elif self.dx_c2c not in (0.0, max(sig_set, sig_reset)):
            raise field_error(o, "dx_c2c", "is taken from the data's scatter", self.dx_c2c,
                              "scale it with c2c_from_data, or set c2c_from_data = 0 to give dx_c2c yourself")
        object.__setattr__(self, "c2c_set", float(sig_set))
        object.__setattr__(self, "c2c_reset", float(sig_reset))
        object.__setattr__(self, "dx_c2c", float(max(sig_set, sig_reset)))

    def with_values(self, **changes) -> "TableParams":
        changes.setdefault("dx_c2c", self._dx_given)  # dx_c2c holds the data's spread; pass the given value
        return super().with_values(**changes)

    @classmethod
    def measured(cls, **kw) -> "TableParams":
        """The table model as the data give it (thresholds at half the measured amplitudes, linear rule)."""
        return cls(**kw)

    # -- what the rest of mssim reads -------------------------------------------------------
    @property
    def r_on(self) -> float:
        """Lowest resistance (ohm): 1/g_max of the mean curves."""
        return 1.0 / self.table.g_max

    @property
    def r_off(self) -> float:
        """Highest resistance (ohm): 1/g_min of the mean curves."""
        return 1.0 / self.table.g_min

    @property
    def v_th_set(self) -> float:
        return self.th_set * self.table.set_amplitude

    @property
    def v_th_reset(self) -> float:
        return self.th_reset * self.table.reset_amplitude

    def c2c_spreads(self) -> tuple[float, float]:
        return self.c2c_set, self.c2c_reset

    def c2c_scale(self, du: np.ndarray) -> np.ndarray | float:
        """Relative spread of each state change ``du`` (SET moves u down, RESET up)."""
        if self.c2c_set == self.c2c_reset:
            return self.c2c_set
        return np.where(du < 0, self.c2c_set, self.c2c_reset)

    def row(self, v: dict, n: int = 1) -> np.ndarray:
        tab = self.table
        ks = _knots(tab.set_mean, tab.g_min, tab.g_max)
        kr = _knots(tab.reset_mean, tab.g_min, tab.g_max)
        r = np.zeros((T_KNOTS + ks.size + kr.size, n))
        r[P_RON], r[P_ROFF], r[P_IV] = 1.0 / tab.g_max, 1.0 / tab.g_min, IV_LINEAR_G
        r[P_THUP], r[P_THDOWN] = self.v_th_reset, -self.v_th_set
        r[P_AUP], r[P_ADOWN] = self.alpha_reset, self.alpha_set
        r[T_AMP_SET], r[T_AMP_RESET] = tab.set_amplitude, tab.reset_amplitude
        r[T_W_SET], r[T_W_RESET] = tab.set_width, tab.reset_width
        r[T_INV_SET] = 1.0 / (tab.set_amplitude - self.v_th_set)
        r[T_INV_RESET] = 1.0 / (tab.reset_amplitude - self.v_th_reset)
        r[T_N_SET], r[T_N_RESET] = ks.size, kr.size
        r[T_KNOTS:T_KNOTS + ks.size] = ks[:, None]
        r[T_KNOTS + ks.size:] = kr[:, None]
        return r

    def to_u(self, x):
        """State ``x`` is the conductance (S)."""
        t = self.table
        return (t.g_max - np.asarray(x, float)) / (t.g_max - t.g_min)

    def from_u(self, u, rows=None):
        t = self.table
        return t.g_max - u * (t.g_max - t.g_min)

    @property
    def x_bounds(self):
        return (self.table.g_min, self.table.g_max)

    def summary(self) -> dict:
        """What the model took from the data (for events.jsonl, metrics.json and ``mssim device table``)."""
        t = self.table
        return {"data": t.path, "sha256": t.sha256, "g_min_S": t.g_min, "g_max_S": t.g_max,
                "r_on_ohm": self.r_on, "r_off_ohm": self.r_off,
                "set_amplitude_V": t.set_amplitude, "set_width_s": t.set_width,
                "reset_amplitude_V": t.reset_amplitude, "reset_width_s": t.reset_width,
                "set_pulses": int(t.set_curves.shape[1] - 1), "reset_pulses": int(t.reset_curves.shape[1] - 1),
                "set_cycles": int(t.set_curves.shape[0]), "reset_cycles": int(t.reset_curves.shape[0]),
                "v_th_set_V": self.v_th_set, "v_th_reset_V": self.v_th_reset,
                "alpha_set": self.alpha_set, "alpha_reset": self.alpha_reset,
                "c2c_set": self.c2c_set, "c2c_reset": self.c2c_reset}
