"""Parameter dataclasses for the memristor models, their presets, and the flat
per-device parameter rows the numba kernels read.

Every class is ``@dataclass(frozen=True, kw_only=True)`` and validates itself in
``__post_init__``; errors name the field (``TEAMParams.i_on: must be negative
(got 8.9e-06); use i_on < 0``).  Values are plain SI floats.  Fields ending in
``_d2d`` are relative (log-normal) device-to-device spreads drawn once at build
time; ``dx_c2c`` is the cycle-to-cycle spread of every state change.

Internally every model is advanced in a *normalised* state ``u`` in [0, 1] with
``u = 0`` the ON (low-resistance) bound and ``u = 1`` the OFF bound, and a
positive voltage on the device's + terminal pushes ``u`` up (toward OFF), as in
TEAM.  See docs/devices.md for the mapping of each paper's state onto ``u``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from mssim.errors import ConfigError, field_error
from mssim.units import nm, pm, uA

# ----------------------------------------------------------------------------
# codes shared with the kernels
MODEL_HP, MODEL_TEAM, MODEL_VTEAM, MODEL_YAKOPCIC = 0, 1, 2, 3
WINDOWS = ("none", "joglekar", "biolek", "prodromakis", "kvatinsky")
WIN_NONE, WIN_JOGLEKAR, WIN_BIOLEK, WIN_PRODROMAKIS, WIN_KVATINSKY = range(5)
IV_KINDS = ("linear", "exponential")
STUCK_KINDS = ("current", "on", "off")

# Layout of one parameter row (float64).  Resistive models (HP/TEAM/VTEAM):
P_RON, P_ROFF, P_IV = 0, 1, 2          # ohm, ohm, 0 linear / 1 exponential
P_KUP, P_KDOWN = 3, 4                  # rate constants in normalised units (1/s); HP: k in 1/C
P_AUP, P_ADOWN = 5, 6                  # exponents alpha_off, alpha_on
P_THUP, P_THDOWN = 7, 8                # thresholds i_off/v_off (>0), i_on/v_on (<0)
P_WIN, P_WP, P_WJ = 9, 10, 11          # window code, exponent p, Prodromakis j
P_XON, P_XOFF, P_AON, P_AOFF, P_WC = 12, 13, 14, 15, 16  # Kvatinsky window, metres
# Yakopcic reuses the row:
Y_A1, Y_A2, Y_B, Y_VP, Y_VN, Y_AP, Y_AN, Y_XP, Y_XN, Y_ALP, Y_ALN, Y_ETA = range(12)
NPARAM = 17


def _finite(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise field_error(owner, name, "must be a number", value)
    if not math.isfinite(float(value)):
        raise field_error(owner, name, "must be finite", value)


def _positive(owner, name, value):
    _finite(owner, name, value)
    if value <= 0:
        raise field_error(owner, name, "must be positive", value)


def _nonneg(owner, name, value):
    _finite(owner, name, value)
    if value < 0:
        raise field_error(owner, name, "must not be negative", value)


def _choice(owner, name, value, allowed):
    if value not in allowed:
        raise field_error(owner, name, f"must be one of {', '.join(allowed)}", value)


@dataclass(frozen=True, kw_only=True)
class DeviceParams:
    """Options common to every model (all non-idealities default to off)."""

    dx_c2c: float = 0.0
    """Cycle-to-cycle noise: relative std of every state change per pulse (dimensionless)."""
    g_read_noise: float = 0.0
    """Read noise: relative std of a conductance read-out (dimensionless)."""
    retention_tau: float = math.inf
    """Retention drift time constant during ``idle`` (s); ``inf`` = no drift."""
    retention_target: float = 0.5
    """Normalised state (0 = ON bound, 1 = OFF bound) the state relaxes to while idle."""
    endurance_cycles: float = math.inf
    """Switching events before a device wears out and sticks; ``inf`` = no wear-out."""
    endurance_d2d: float = 0.0
    """Relative (log-normal) device-to-device spread of ``endurance_cycles``."""
    endurance_stuck: str = "current"
    """State a worn-out device sticks at: ``current``, ``on`` or ``off``."""
    switch_dx: float = 0.01
    """Normalised state change in one ``apply_*`` call that counts as a switching event."""
    v_read: float = 0.1
    """Read voltage (V) used by ``resistance()`` for models whose I-V is nonlinear."""

    def _check_common(self) -> None:
        o = type(self).__name__
        _nonneg(o, "dx_c2c", self.dx_c2c)
        _nonneg(o, "g_read_noise", self.g_read_noise)
        if not (isinstance(self.retention_tau, (int, float)) and self.retention_tau > 0):
            raise field_error(o, "retention_tau", "must be positive (inf disables drift)", self.retention_tau)
        _finite(o, "retention_target", self.retention_target)
        if not 0.0 <= self.retention_target <= 1.0:
            raise field_error(o, "retention_target", "must lie in [0, 1] (normalised state)", self.retention_target)
        if not (isinstance(self.endurance_cycles, (int, float)) and self.endurance_cycles > 0):
            raise field_error(o, "endurance_cycles", "must be positive (inf disables wear-out)", self.endurance_cycles)
        _nonneg(o, "endurance_d2d", self.endurance_d2d)
        _choice(o, "endurance_stuck", self.endurance_stuck, STUCK_KINDS)
        _positive(o, "switch_dx", self.switch_dx)
        _positive(o, "v_read", self.v_read)
        for f in fields(self):
            if f.name.endswith("_d2d"):
                _nonneg(o, f.name, getattr(self, f.name))
                if getattr(self, f.name) > 1.0:
                    raise field_error(o, f.name, "relative spread must be at most 1", getattr(self, f.name))

    def c2c_scale(self, du):
        """Relative cycle-to-cycle spread of each state change ``du`` (``dx_c2c`` for every model but the
        table model, whose SET and RESET spreads come from its data)."""
        return self.dx_c2c

    def c2c_spreads(self) -> tuple[float, float]:
        """``(spread of changes with du < 0, spread of the others)``: :meth:`c2c_scale` as two numbers,
        for compiled code."""
        return self.dx_c2c, self.dx_c2c

    def with_values(self, **changes) -> "DeviceParams":
        """Return a validated copy with some fields changed (unknown names raise ConfigError)."""
        names = {f.name for f in fields(self)}
        for k in changes:
            if k not in names:
                raise ConfigError(f"{type(self).__name__}.{k}: unknown parameter; known: {', '.join(sorted(names))}")
        return replace(self, **changes)

    # subclasses implement: model_code, spread_fields, row(values) ...


def _check_window(o, window, p, j, allowed=WINDOWS[:4]):
    _choice(o, "window", window, allowed)
    _finite(o, "p", p)
    if p < 1 or float(p) != int(p):
        raise field_error(o, "p", "window exponent must be a positive integer", p)
    _positive(o, "j", j)


@dataclass(frozen=True, kw_only=True)
class HPParams(DeviceParams):
    """HP linear ion drift (Strukov et al., Nature 453, 80, 2008) with windows.

    v = [R_on·w + R_off·(1 − w)]·i_HP, dw/dt = k·i_HP·f(w), w = x/D, k = µ_v·R_on/D².
    mssim's + terminal is the paper's − terminal (i_HP = −i), so positive current
    into + lowers w and *raises* the resistance, matching TEAM.  ``x`` reported by
    :class:`DeviceArray` is the paper's w in [0, 1] (1 = ON).
    """

    r_on: float = 100.0
    """ON resistance (ohm)."""
    r_off: float = 16e3
    """OFF resistance (ohm)."""
    d: float = 10 * nm
    """Film thickness D (m)."""
    mu_v: float = 1e-14
    """Dopant mobility µ_v (m²/(V·s))."""
    window: str = "none"
    """Window: none, joglekar, biolek, prodromakis."""
    p: float = 1
    """Window exponent p (positive integer)."""
    j: float = 1.0
    """Prodromakis scale j (dimensionless)."""
    r_on_d2d: float = 0.0
    """Relative spread of r_on."""
    r_off_d2d: float = 0.0
    """Relative spread of r_off."""
    mu_v_d2d: float = 0.0
    """Relative spread of mu_v."""

    model_code = MODEL_HP

    def __post_init__(self):
        o = "HPParams"
        _positive(o, "r_on", self.r_on)
        _positive(o, "r_off", self.r_off)
        if self.r_on >= self.r_off:
            raise field_error(o, "r_on", "must be below r_off", self.r_on, f"use r_on < r_off = {self.r_off!r}")
        _positive(o, "d", self.d)
        _positive(o, "mu_v", self.mu_v)
        _check_window(o, self.window, self.p, self.j)
        self._check_common()

    @classmethod
    def biolek2009(cls, **kw) -> "HPParams":
        """Biolek, Biolek & Biolkova, Radioengineering 18(2), 2009 SPICE defaults
        (R_on 100 Ω, R_off 16 kΩ, D 10 nm, µ_v 1e-14 m²/(V·s)); also MemTorch's set."""
        return cls(**kw)

    def row(self, v: dict, n: int = 1) -> np.ndarray:
        r = np.zeros((NPARAM, n))
        r[P_RON], r[P_ROFF] = v["r_on"], v["r_off"]
        # du/dt = k·i·f(u), u = 1 - w; k in 1/C
        r[P_KUP] = v["mu_v"] * v["r_on"] / self.d ** 2
        r[P_WIN], r[P_WP], r[P_WJ] = WINDOWS.index(self.window), self.p, self.j
        return r

    def to_u(self, x):
        return 1.0 - np.asarray(x, float)

    def from_u(self, u, rows=None):
        return 1.0 - u

    x_bounds = (0.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class TEAMParams(DeviceParams):
    """TEAM, ThrEshold Adaptive Memristor (Kvatinsky et al., IEEE TCAS-I 60(1), 211, 2013).

    dx/dt = k_off·(i/i_off − 1)^alpha_off·f_off(x) for i > i_off > 0,
    0 for i_on <= i <= i_off, k_on·(i/i_on − 1)^alpha_on·f_on(x) for i < i_on < 0.
    x grows toward x_off (R_off).  A positive current into the + terminal raises R.
    """

    r_on: float = 100.0
    """ON resistance (ohm), reached at x = x_on."""
    r_off: float = 16e3
    """OFF resistance (ohm), reached at x = x_off."""
    x_on: float = 0.0
    """State bound at R_on (m)."""
    x_off: float = 3 * nm
    """State bound at R_off (m)."""
    k_on: float = -4.68e-13
    """ON rate constant (m/s), negative."""
    k_off: float = 1.46e-9
    """OFF rate constant (m/s), positive."""
    alpha_on: float = 10.0
    """ON exponent (dimensionless)."""
    alpha_off: float = 10.0
    """OFF exponent (dimensionless)."""
    i_on: float = -8.9 * uA
    """ON current threshold (A), negative."""
    i_off: float = 115 * uA
    """OFF current threshold (A), positive."""
    iv: str = "linear"
    """I-V relation: linear or exponential."""
    window: str = "none"
    """Window: none, joglekar, biolek, prodromakis, kvatinsky."""
    p: float = 1
    """Window exponent p for Joglekar/Biolek/Prodromakis (positive integer)."""
    j: float = 1.0
    """Prodromakis scale j."""
    a_on: float = 1.8 * nm
    """Kvatinsky window ON edge (m)."""
    a_off: float = 1.2 * nm
    """Kvatinsky window OFF edge (m)."""
    w_c: float = 107 * pm
    """Kvatinsky window width (m)."""
    r_on_d2d: float = 0.0
    """Relative spread of r_on."""
    r_off_d2d: float = 0.0
    """Relative spread of r_off."""
    k_on_d2d: float = 0.0
    """Relative spread of k_on."""
    k_off_d2d: float = 0.0
    """Relative spread of k_off."""
    i_on_d2d: float = 0.0
    """Relative spread of i_on."""
    i_off_d2d: float = 0.0
    """Relative spread of i_off."""

    model_code = MODEL_TEAM
    _th = ("i_on", "i_off")

    def __post_init__(self):
        o = type(self).__name__
        on, off = self._th
        _positive(o, "r_on", self.r_on)
        _positive(o, "r_off", self.r_off)
        if self.r_on >= self.r_off:
            raise field_error(o, "r_on", "must be below r_off", self.r_on, f"use r_on < r_off = {self.r_off!r}")
        _finite(o, "x_on", self.x_on)
        _finite(o, "x_off", self.x_off)
        if self.x_on >= self.x_off:
            raise field_error(o, "x_on", "must be below x_off", self.x_on, f"use x_on < x_off = {self.x_off!r}")
        _finite(o, "k_on", self.k_on)
        if self.k_on >= 0:
            raise field_error(o, "k_on", "must be negative", self.k_on, "use k_on < 0")
        _positive(o, "k_off", self.k_off)
        _positive(o, "alpha_on", self.alpha_on)
        _positive(o, "alpha_off", self.alpha_off)
        _finite(o, on, getattr(self, on))
        if getattr(self, on) >= 0:
            raise field_error(o, on, "must be negative", getattr(self, on), f"use {on} < 0")
        _positive(o, off, getattr(self, off))
        _choice(o, "iv", self.iv, IV_KINDS)
        _check_window(o, self.window, self.p, self.j, WINDOWS)
        _finite(o, "a_on", self.a_on)
        _finite(o, "a_off", self.a_off)
        _positive(o, "w_c", self.w_c)
        self._check_common()

    @classmethod
    def hp_tio2(cls, **kw) -> "TEAMParams":
        """TEAM kinetics fitted to the HP TiO2 device (Kvatinsky et al., TCAS-I 2013,
        fit of Pickett et al., J. Appl. Phys. 106, 074508, 2009): k_off 1.46e-9 m/s,
        k_on −4.68e-13 m/s, alpha 10/10, i_off 115 µA, i_on −8.9 µA, Kvatinsky
        window edges a_off 1.2 nm, a_on 1.8 nm, w_c 107 pm.

        *Unverified*: x_on/x_off and R_on/R_off of the fit; we use x in [0, 3 nm]
        with the HP resistances 100 Ω / 16 kΩ, linear I-V and no window (hard
        bounds), because the Kvatinsky edges above confine x to ~[1.4, 1.6] nm on
        this range.  Select ``window="kvatinsky"`` to use them anyway."""
        return cls(**kw)

    @classmethod
    def symmetric(cls, **kw) -> "TEAMParams":
        """A TEAM-class device with *balanced* SET/RESET kinetics, for on-chip training studies.

        Not fitted to a measured device (an assumption, labelled as such): the HP
        resistances 100 Ω / 16 kΩ and x in [0, 3 nm] of :meth:`hp_tio2`, with equal
        thresholds |i_on| = i_off = 20 µA, equal rates |k_on| = k_off = 3 µm/s and
        equal exponents alpha = 3, linear I-V, no window.  With both devices of the
        paper's pair moving at the same rate in opposite directions, their sum stays
        constant and a write pulse changes the weight symmetrically; compare with
        :meth:`hp_tio2`, whose 13:1 threshold asymmetry (8.9 µA vs 115 µA) lets only
        the ON-going device of a pair move, so every write drifts both devices ON.
        Reads at 20 mV into a 16 kΩ pair (2.5 µA) stay far below both thresholds.
        """
        base = dict(i_on=-20 * uA, i_off=20 * uA, k_on=-3e-6, k_off=3e-6, alpha_on=3.0, alpha_off=3.0)
        base.update(kw)
        return cls(**base)

    def row(self, v: dict, n: int = 1) -> np.ndarray:
        on, off = self._th
        r = np.zeros((NPARAM, n))
        span = self.x_off - self.x_on
        r[P_RON], r[P_ROFF] = v["r_on"], v["r_off"]
        r[P_IV] = IV_KINDS.index(self.iv)
        r[P_KUP], r[P_KDOWN] = v["k_off"] / span, v["k_on"] / span
        r[P_AUP], r[P_ADOWN] = self.alpha_off, self.alpha_on
        r[P_THUP], r[P_THDOWN] = v[off], v[on]
        r[P_WIN], r[P_WP], r[P_WJ] = WINDOWS.index(self.window), self.p, self.j
        r[P_XON], r[P_XOFF], r[P_AON], r[P_AOFF], r[P_WC] = self.x_on, self.x_off, self.a_on, self.a_off, self.w_c
        return r

    def to_u(self, x):
        return (np.asarray(x, float) - self.x_on) / (self.x_off - self.x_on)

    def from_u(self, u, rows=None):
        return self.x_on + u * (self.x_off - self.x_on)

    @property
    def x_bounds(self):
        return (self.x_on, self.x_off)


@dataclass(frozen=True, kw_only=True)
class VTEAMParams(TEAMParams):
    """VTEAM, voltage-threshold TEAM (Kvatinsky et al., IEEE TCAS-II 62(8), 786, 2015).

    dx/dt = k_off·(v/v_off − 1)^alpha_off·f_off(x) for v > v_off > 0,
    k_on·(v/v_on − 1)^alpha_on·f_on(x) for v < v_on < 0, else 0.
    """

    r_on: float = 50.0
    """ON resistance (ohm)."""
    r_off: float = 1e3
    """OFF resistance (ohm)."""
    k_on: float = -10.0
    """ON rate constant (m/s), negative."""
    k_off: float = 5e-4
    """OFF rate constant (m/s), positive."""
    alpha_on: float = 3.0
    """ON exponent."""
    alpha_off: float = 1.0
    """OFF exponent."""
    v_on: float = -0.2
    """ON voltage threshold (V), negative."""
    v_off: float = 0.02
    """OFF voltage threshold (V), positive."""
    i_on: float = -8.9 * uA
    """Unused by VTEAM (kept so the class shares TEAM's layout)."""
    i_off: float = 115 * uA
    """Unused by VTEAM."""
    v_on_d2d: float = 0.0
    """Relative spread of v_on."""
    v_off_d2d: float = 0.0
    """Relative spread of v_off."""

    model_code = MODEL_VTEAM
    _th = ("v_on", "v_off")

    @classmethod
    def kvatinsky2015(cls, **kw) -> "VTEAMParams":
        """Commonly used VTEAM set (Kvatinsky et al., TCAS-II 2015 examples): R_on 50 Ω,
        R_off 1 kΩ, D 3 nm, k_on −10 m/s, k_off 5e-4 m/s, alpha_on 3, alpha_off 1,
        v_on −0.2 V, v_off 0.02 V, linear I-V.  Copies disagree on which alpha is
        which; we use alpha_on = 3, alpha_off = 1 (*unverified* against the paper)."""
        return cls(**kw)


@dataclass(frozen=True, kw_only=True)
class YakopcicParams(DeviceParams):
    """Yakopcic generalised memristor model (Yakopcic et al., IEEE EDL 32(10), 1436, 2011).

    I = a1·x·sinh(b·V) (V >= 0), a2·x·sinh(b·V) (V < 0); dx/dt = eta·g(V)·f(x).
    The paper's x grows toward ON with positive V; mssim's + terminal is the
    paper's − terminal (V_paper = −v), so positive v raises the resistance.
    ``x`` reported by :class:`DeviceArray` is the paper's x in [0, 1].
    """

    a1: float = 0.17
    """Conductance scale for V >= 0 (A)."""
    a2: float = 0.17
    """Conductance scale for V < 0 (A)."""
    b: float = 0.05
    """I-V curvature (1/V)."""
    vp: float = 0.16
    """Positive threshold (V)."""
    vn: float = 0.15
    """Negative threshold magnitude (V)."""
    ap: float = 4000.0
    """Positive switching magnitude (1/s)."""
    an: float = 4000.0
    """Negative switching magnitude (1/s)."""
    xp: float = 0.3
    """State beyond which positive motion decays (dimensionless)."""
    xn: float = 0.5
    """1 − xn is the state below which negative motion decays."""
    alphap: float = 1.0
    """Positive decay rate (dimensionless)."""
    alphan: float = 5.0
    """Negative decay rate (dimensionless)."""
    eta: float = 1.0
    """Direction of motion (+1 or −1)."""
    a1_d2d: float = 0.0
    """Relative spread of a1."""
    a2_d2d: float = 0.0
    """Relative spread of a2."""
    vp_d2d: float = 0.0
    """Relative spread of vp."""
    vn_d2d: float = 0.0
    """Relative spread of vn."""

    model_code = MODEL_YAKOPCIC

    def __post_init__(self):
        o = "YakopcicParams"
        for n in ("a1", "a2", "b", "vp", "vn", "ap", "an", "alphap", "alphan"):
            _positive(o, n, getattr(self, n))
        for n in ("xp", "xn"):
            _finite(o, n, getattr(self, n))
            if not 0.0 <= getattr(self, n) < 1.0:
                raise field_error(o, n, "must lie in [0, 1)", getattr(self, n))
        if self.eta not in (1, -1, 1.0, -1.0):
            raise field_error(o, "eta", "must be +1 or -1", self.eta)
        self._check_common()

    @classmethod
    def oblea2010(cls, **kw) -> "YakopcicParams":
        """Yakopcic et al., EDL 2011 fit to the Oblea et al. Ge2Se3 device (IJCNN 2010):
        a1 = a2 = 0.17, b 0.05, Vp 0.16, Vn 0.15, Ap = An = 4000, xp 0.3, xn 0.5,
        alphap 1, alphan 5, eta 1 (x0 = 0.11 in the paper)."""
        return cls(**kw)

    def row(self, v: dict, n: int = 1) -> np.ndarray:
        r = np.zeros((NPARAM, n))
        r[Y_A1], r[Y_A2], r[Y_B], r[Y_VP], r[Y_VN] = v["a1"], v["a2"], self.b, v["vp"], v["vn"]
        r[Y_AP], r[Y_AN], r[Y_XP], r[Y_XN] = self.ap, self.an, self.xp, self.xn
        r[Y_ALP], r[Y_ALN], r[Y_ETA] = self.alphap, self.alphan, self.eta
        return r

    def to_u(self, x):
        return 1.0 - np.asarray(x, float)

    def from_u(self, u, rows=None):
        return 1.0 - u

    x_bounds = (0.0, 1.0)


MODELS: dict[str, type[DeviceParams]] = {
    "hp": HPParams,
    "team": TEAMParams,
    "vteam": VTEAMParams,
    "yakopcic": YakopcicParams,
}  # "table" (measured data, components.devices.table) is added at the end of this module

PRESETS: dict[str, dict[str, str]] = {
    "hp": {"biolek2009": "biolek2009"},
    "team": {"hp_tio2": "hp_tio2", "symmetric": "symmetric"},
    "vteam": {"kvatinsky2015": "kvatinsky2015"},
    "yakopcic": {"oblea2010": "oblea2010"},
}
DEFAULT_PRESET = {"hp": "biolek2009", "team": "symmetric", "vteam": "kvatinsky2015", "yakopcic": "oblea2010"}


def preset(model: str, name: str | None = None, **changes) -> DeviceParams:
    """Return the preset ``name`` of ``model`` (``hp``, ``team``, ``vteam``, ``yakopcic``).

    ``name=None`` gives the model's default preset.  Keyword arguments override fields.
    """
    if model not in MODELS:
        raise ConfigError(f"device model: unknown model {model!r}; choose one of {', '.join(MODELS)}")
    name = DEFAULT_PRESET[model] if name is None else name
    if name not in PRESETS[model]:
        raise ConfigError(f"{MODELS[model].__name__} preset: unknown preset {name!r}; choose one of {', '.join(PRESETS[model])}")
    return getattr(MODELS[model], PRESETS[model][name])(**changes)


def spread_rows(params: DeviceParams, n: int, rng: np.random.Generator | None) -> np.ndarray:
    """Draw the device-to-device spread and return the (n, NPARAM) parameter rows.

    Each ``<field>_d2d`` multiplies ``<field>`` by exp(sigma·N(0, 1)) independently
    per device (median-preserving log-normal; sign kept).  For resistive models a
    device whose drawn r_off would not exceed r_on gets r_off = 1.01·r_on.
    """
    base = {f.name: getattr(params, f.name) for f in fields(params)}
    spread = {}
    for f in fields(params):
        if f.name.endswith("_d2d") and f.name != "endurance_d2d":
            sigma = getattr(params, f.name)
            target = f.name[: -len("_d2d")]
            if sigma > 0:
                if rng is None:
                    raise ConfigError(f"{type(params).__name__}.{f.name}: a device-to-device spread needs build_rng")
                spread[target] = base[target] * np.exp(sigma * rng.standard_normal(n))
    vals = dict(base)
    vals.update(spread)
    if spread and params.model_code != MODEL_YAKOPCIC:
        vals["r_off"] = np.maximum(vals["r_off"], 1.01 * vals["r_on"])
    return np.ascontiguousarray(params.row(vals, n).T)


# The measured-data model lives in its own module (it needs the classes above).
from .table import MODEL_TABLE, TableParams  # noqa: E402,F401

MODELS["table"] = TableParams
PRESETS["table"] = {"measured": "measured"}
DEFAULT_PRESET["table"] = "measured"
