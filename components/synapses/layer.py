"""``CrossbarLayer``: an n_in × n_out array of synaptic units with vectorised read and write.

Ports (docs/synapses.md)::

    in        voltage  n_in          row read voltages (V_in_i = x_i·v_read, scaled by the driver)
    write     voltage  1             global write-pulse waveform (optional, default 0)
    polarity  digital  n_in·n_out    per-unit write polarity +1/−1/0, row-major, latched at pulse start
                                     (optional, default 0)
    out       current  n_out         current into each neuron summing node held at 0 V
    g         signal   n_out         total source conductance seen by each summing node

Physics in one place: :mod:`components.synapses.topologies` (closed forms, ideal lines)
and :mod:`components.synapses.lines` (exact solve with line resistance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from components.devices import DeviceArray, DeviceParams
from components.devices import params as DP
from components.devices.array import _PAR_MIN
from mssim.component import AnalogBlock, Port
from mssim.errors import ConfigError, SimulationError, field_error
from mssim.rng import SeedTree
from mssim.units import TICK

_NO_DRAWS = np.zeros(0)
#: write pulses select the multi-threaded device kernels from this many units
_PAR_PAIRS = _PAR_MIN // 2

from . import topologies as T
from .writes import snap_polarity, write_calls, write_pieces_kernel, write_then_state
from .lines import LineNetwork
from .params import SynapseParams

#: Write polarity that *increases* the normalised weight of every unit type.  A positive
#: pulse with polarity +1 drives current into M1's + terminal (M1 toward OFF) and into M2's
#: − terminal (M2 toward ON), which lowers w; so 'increase w' is polarity −1 for a positive
#: pulse (equivalently polarity +1 with a negative pulse).
WEIGHT_INCREASING_POLARITY = -1


@dataclass(frozen=True)
class LayerEnergy:
    """Energy (J) delivered to the layer since build, split by path."""

    read: float
    write: float

    @property
    def total(self) -> float:
        """read + write (J)."""
        return self.read + self.write


def _posint(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise field_error(owner, name, "must be a positive integer", value)
    return int(value)


class CrossbarLayer(AnalogBlock):
    """A crossbar of synaptic units feeding ``n_out`` neuron summing nodes.

    Parameters
    ----------
    name : str
        Component name (also the key of its random streams).
    n_in : int
        Rows, including a bias row if the caller wants one (drive it with a constant).
    n_out : int
        Columns (neurons).
    device_params : DeviceParams
        Memristor model and parameters (``TEAMParams.hp_tio2()`` ...).
    synapse_params : SynapseParams, optional
        Unit type and circuit values; default ``SynapseParams()`` (the paper's pair).
    device_options : dict, optional
        Extra keyword arguments for :class:`~components.devices.DeviceArray`
        (``rtol``, ``atol``, ``rate_cap``).

    Notes
    -----
    Device slot ``d`` of unit ``(i, j)`` is device ``d·n_in·n_out + i·n_out + j`` of
    :attr:`device_array` (:meth:`device_indices` returns them).  The layer is usable
    outside a circuit after :meth:`build_detached`.
    """

    feedthrough = True

    def __init__(self, name: str, n_in: int, n_out: int, device_params: DeviceParams,
                 synapse_params: SynapseParams | None = None, *, device_options: dict | None = None,
                 driver=None) -> None:
        super().__init__(name)
        #: An external integrator (the chip's :class:`~components.engine.AnalogEngine`) that owns this
        #: layer's time: it applies the reads and writes; the layer's own net events stay off.
        self.driver = driver
        self._pert_version = 0
        self.n_in = _posint("CrossbarLayer", "n_in", n_in)
        self.n_out = _posint("CrossbarLayer", "n_out", n_out)
        if not isinstance(device_params, DeviceParams):
            raise field_error("CrossbarLayer", "device_params", "must be a device parameter object such as "
                              "TEAMParams.hp_tio2()", type(device_params).__name__)
        sp_ = SynapseParams() if synapse_params is None else synapse_params
        if not isinstance(sp_, SynapseParams):
            raise field_error("CrossbarLayer", "synapse_params", "must be a SynapseParams", type(sp_).__name__)
        self.device_params = device_params
        self.synapse_params = sp_
        self.device_options = dict(device_options or {})
        self.topology = T.TOPOLOGIES[sp_.unit]
        self.n_units = self.n_in * self.n_out
        self.device_array: DeviceArray | None = None
        self.energy_read_j = 0.0
        self.energy_write_j = 0.0
        self._net_in = self._net_write = self._net_pol = self._net_out = self._net_g = None
        self._writing = False
        self._pol = np.zeros((self.n_in, self.n_out))
        self._write_end = None
        self._wake = None
        self._h_hint = {"read": math.inf, "write": math.inf}
        self._cache_key = None
        self._write_plan = None
        self._fast_write = None  # write_for_engine's read-state constants of the unit
        self._cache = None
        self._lines = None
        self._write_idx_all = None  # write_pieces: device indices when every unit is written
        self._perturbation = None
        self._read_memo = None

    # ================================================================ build
    def ports(self) -> list[Port]:
        return [Port("in", "voltage", self.n_in, "in"),
                Port("write", "voltage", 1, "in", optional=True, default=0.0),
                Port("polarity", "digital", self.n_units, "in", optional=True, default=0.0),
                Port("out", "current", self.n_out, "out"),
                Port("g", "signal", self.n_out, "out")]

    def build(self, ctx) -> None:
        """Create the devices (streams ``d2d``, ``init`` at build, ``c2c`` at run), subscribe, publish."""
        super().build(ctx)
        self._make_devices(ctx.build_rng, ctx.run_rng)
        if self.driver is not None:
            return  # the driver reads and writes the devices; no net events
        self._net_in, self._net_write, self._net_pol = ctx.net("in"), ctx.net("write"), ctx.net("polarity")
        self._net_out, self._net_g = ctx.net("out"), ctx.net("g")
        self._net_in.on_after_change(self._on_in)
        self._net_write.on_after_change(self._on_write)
        self._publish()

    def build_detached(self, seed: int = 0, run_seed: int | None = None) -> "CrossbarLayer":
        """Build the devices outside a circuit (same streams as in a circuit with this seed).

        Use :meth:`read`, :meth:`apply_read`, :meth:`write` and the weight helpers directly.
        Returns ``self``.
        """
        tree = SeedTree(seed, run_seed)
        self._make_devices(lambda p: tree.build_stream(self.name, p), lambda p: tree.run_stream(self.name, p))
        return self

    def _make_devices(self, build_rng, run_rng) -> None:
        sp_, k = self.synapse_params, self.topology.n_dev
        self.device_array = DeviceArray(self.device_params, k * self.n_units, build_rng=build_rng("d2d"),
                                        run_rng=run_rng("c2c"), **self.device_options)
        arr = self.device_array
        # per-device resistance bounds (after the d2d spread) and nominal bounds
        x_keep = arr.x
        u_hi = 1.0 if self.device_params.model_code != DP.MODEL_YAKOPCIC else 0.99  # Yakopcic x = 0 is open
        arr.x = self.device_params.from_u(np.zeros(arr.n))
        self._r_lo_dev = arr.resistance().reshape(k, self.n_in, self.n_out)
        arr.x = self.device_params.from_u(np.full(arr.n, u_hi))
        self._r_hi_dev = arr.resistance().reshape(k, self.n_in, self.n_out)
        arr.x = x_keep
        p = self.device_params
        if hasattr(p, "r_on") and hasattr(p, "r_off"):
            self.r_lo, self.r_hi = float(p.r_on), float(p.r_off)
        else:
            self.r_lo, self.r_hi = float(np.median(self._r_lo_dev)), float(np.median(self._r_hi_dev))
        self.g_ref = sp_.g_ref if sp_.g_ref is not None else 0.5 * (1.0 / self.r_lo + 1.0 / self.r_hi)
        if sp_.r_sum is not None and not 2 * self.r_lo < sp_.r_sum < 2 * self.r_hi:
            raise ConfigError(f"SynapseParams.r_sum: must lie strictly between 2·R_on = {2 * self.r_lo:g} and "
                              f"2·R_off = {2 * self.r_hi:g} ohm for this device (got {sp_.r_sum:g})")
        self.w_min, self.w_max = T.w_range(sp_.unit, self.r_lo, self.r_hi, self.g_ref, sp_.r_sum)
        self._thresholds = None
        if arr.model in (DP.MODEL_TEAM, DP.MODEL_VTEAM, DP.MODEL_TABLE):  # threshold models (TEAM: current)
            up = np.ascontiguousarray(arr.P[:, DP.P_THUP])
            dn = np.ascontiguousarray(arr.P[:, DP.P_THDOWN])
            if np.all(up == up[0]) and np.all(dn == dn[0]):  # no threshold spread: compare scalars
                up, dn = float(up[0]), float(dn[0])
            self._thresholds = (up, dn, arr.model == DP.MODEL_TEAM)
        if sp_.r_line > 0:
            self._lines = LineNetwork(sp_.unit, self.n_in, self.n_out, sp_.r_line, sp_.r_in, self.g_ref)
        self._program_rng = build_rng("program")
        rng = build_rng("init")
        if sp_.init == "random":
            W0 = rng.uniform(-sp_.w_init_scale, sp_.w_init_scale, (self.n_in, self.n_out))
            W0 = np.clip(W0, self.w_min, self.w_max)
        else:
            W0 = np.clip(np.zeros((self.n_in, self.n_out)), self.w_min, self.w_max)
        self.set_weights(W0, clip=True, _spread_rng=rng if sp_.init_spread > 0 else None)

    def _sync(self) -> None:
        """In a running circuit, bring the devices up to now before a direct call changes them."""
        if self.driver is not None:
            if self.ctx is not None:
                self.driver.advance_to(self.ctx.env.now)
                self.driver.flush_writes()
        elif self._net_out is not None:
            self.advance_to(self.ctx.env.now)

    def run(self, ctx):  # noqa: D102 - see the class docstring of run below
        if self.driver is not None:
            return
        yield from self._run(ctx)

    def _need_devices(self):
        if self.device_array is None:
            raise SimulationError(f"CrossbarLayer {self.name!r}: not built; add it to a circuit and build, "
                                  "or call build_detached()")
        return self.device_array

    # ================================================================ state helpers
    def device_indices(self, slot: int) -> np.ndarray:
        """Indices into :attr:`device_array` of device ``slot`` (0 = M1, ...) of every unit, (n_in, n_out)."""
        if not 0 <= slot < self.topology.n_dev:
            raise ConfigError(f"CrossbarLayer.device_indices.slot: must lie in [0, {self.topology.n_dev}) for unit "
                              f"{self.topology.name!r} (got {slot!r})")
        return slot * self.n_units + np.arange(self.n_units).reshape(self.n_in, self.n_out)

    def _conductances(self, read_noise: bool = False) -> np.ndarray:
        arr = self._need_devices()
        return arr.conductance(read_noise=read_noise).reshape(self.topology.n_dev, self.n_in, self.n_out)

    def _state(self):
        """(g, G, g_src) for the present device states, cached until a state or fault flag changes."""
        arr = self._need_devices()
        key = self._cache_key
        # The device array's version changes with every state or fault update (this runs on
        # every read, so no array comparison here).
        if key is not None and key[0] is arr and key[1] == arr.version:
            return self._cache
        sp_ = self.synapse_params
        by_current = self._thresholds is not None and self._thresholds[2]
        if self._lines is not None:
            g = self._conductances()
            G, usrc, dvc, Q, amax, amin = T.unit_terms(sp_.unit, g, sp_.r_in, self.g_ref, sp_.buffer, by_current)
            self._lines.factor(g)
            G = self._lines.gain()
            gsrc = usrc.sum(axis=0)
        else:  # one compiled call: conductances, unit terms, column source conductances
            bufs = self._state_buffers()
            T._state_terms(arr.model, arr.P, arr.U, arr.flags, arr.params.v_read, T.UNIT_CODES[sp_.unit],
                           float(sp_.r_in), float(self.g_ref or 0.0), bool(sp_.buffer), bool(by_current), *bufs)
            return self._keep_state(*bufs)
        return self._keep_state(g, G, usrc, dvc, Q, amax, amin, gsrc)

    def _state_buffers(self):
        """Fresh ``(g, G, usrc, dvc, Q, amax, amin, gsrc)`` for :func:`topologies._state_terms`."""
        k, n_in, n_out = self.topology.n_dev, self.n_in, self.n_out
        return (np.empty(k * n_in * n_out), np.empty((n_in, n_out)), np.empty((n_in, n_out)), np.empty((k, n_in, n_out)),
                np.empty(n_in), np.empty(n_in), np.empty(n_in), np.empty(n_out))

    def _keep_state(self, g, G, usrc, dvc, Q, amax, amin, gsrc):
        """Cache the read state just computed for the devices' present version."""
        arr = self.device_array
        self._terms = (usrc, dvc, Q, amax, amin)
        if self._perturbation is not None:
            # Electrically injected perturbation: each unit adds dW·(dG/dw); for the pair,
            # dG/dw is the unit's Norton conductance (1/R_in when buffered).
            G = G + self._perturbation * usrc
        self._cache = (g.reshape(self.topology.n_dev, self.n_in, self.n_out), G, gsrc)
        self._cache_key = (arr, arr.version)
        return self._cache

    def resistances(self) -> tuple[np.ndarray, ...]:
        """Device resistances (ohm), one (n_in, n_out) array per slot: ``(M1, M2)`` for a pair,
        ``(M1, M2, M3, M4)`` for a bridge, ``(M,)`` for a reference unit."""
        R = self._need_devices().resistance().reshape(self.topology.n_dev, self.n_in, self.n_out)
        return tuple(R[d] for d in range(self.topology.n_dev))

    def weights(self) -> np.ndarray:
        """Effective normalised weights (n_in, n_out) from the device states (formula of the unit;
        for the pair w = (M2 − M1)/(M1 + M2), unloaded)."""
        g = self._state()[0]
        return T.weights(self.synapse_params.unit, g, 1.0 / self.r_hi, 1.0 / self.r_lo, self.g_ref)

    def effective_gain_matrix(self, read_noise: bool = False) -> np.ndarray:
        """Transfer conductance G (n_in, n_out), in siemens, with out = v_in @ G (loading and line
        resistance included).  ``read_noise`` draws the device read noise (run stream ``c2c``)."""
        if read_noise and self.device_params.g_read_noise > 0:
            sp_ = self.synapse_params
            g = self._conductances(read_noise=True)
            if self._lines is not None:
                net = LineNetwork(sp_.unit, self.n_in, self.n_out, sp_.r_line, sp_.r_in, self.g_ref)
                net.factor(g)
                return net.gain().copy()
            return T.gain(sp_.unit, g, sp_.r_in, self.g_ref, sp_.buffer)
        return self._state()[1].copy()

    def set_perturbation(self, delta_w) -> None:
        """Inject (or with ``None`` remove) an electrical weight perturbation ``delta_w`` (n_in, n_out).

        Models WSP's electrically injected perturbation: each unit's output current gains
        ``v_in·delta_w·dG/dw`` without any device being written.  Takes effect at once: the
        output nets are republished.
        """
        self._sync()
        if delta_w is None:
            self._perturbation = None
        else:
            d = np.asarray(delta_w, dtype=float)
            if d.shape != (self.n_in, self.n_out) or not np.all(np.isfinite(d)):
                raise ConfigError(f"CrossbarLayer.set_perturbation.delta_w: must be a finite ({self.n_in}, {self.n_out}) "
                                  f"array (got shape {d.shape})")
            self._perturbation = d
        self._cache_key = None
        self._pert_version += 1
        if self._net_out is not None and not self._writing:
            self._publish()

    def column_conductance(self) -> np.ndarray:
        """Σ_i of each unit's Norton conductance into summing node j (S), shape (n_out,).

        Line resistance is neglected here (it is not neglected in the output current)."""
        return self._state()[2].copy()

    def read(self, v_in) -> np.ndarray:
        """Output currents (A) for row voltages ``v_in`` (n_in,), without advancing any state."""
        v = self._check_v(v_in, "read.v_in")
        return v @ self._state()[1]

    @property
    def energy_j(self) -> LayerEnergy:
        """Energy (J) delivered since build: ``.read``, ``.write``, ``.total``."""
        return LayerEnergy(self.energy_read_j, self.energy_write_j)

    def set_weights(self, W, *, clip: bool = False, _spread_rng=None) -> None:
        """Program the devices so that :meth:`weights` returns ``W`` (n_in, n_out).

        The inverse of the unit's weight formula with the divider sums held at ``r_sum`` (default
        the mid-range sum; see :func:`components.synapses.topologies.resistances_for`).  Weights outside
        ``[w_min, w_max]`` raise ``ConfigError`` unless ``clip=True``.  Stuck devices keep their
        states.  Per-device d2d bounds are respected by clipping each resistance to its
        device's own range (so with spread the realised weight can differ slightly).
        """
        arr = self._need_devices()
        self._sync()
        W = np.asarray(W, dtype=float)
        if W.shape != (self.n_in, self.n_out):
            raise ConfigError(f"CrossbarLayer.set_weights.W: shape must be ({self.n_in}, {self.n_out}) "
                              f"(got {W.shape})")
        if not np.all(np.isfinite(W)):
            raise ConfigError("CrossbarLayer.set_weights.W: must be finite")
        lo, hi = self.w_min, self.w_max
        if not clip and (W.min() < lo - 1e-12 or W.max() > hi + 1e-12):
            raise ConfigError(f"CrossbarLayer.set_weights.W: weights must lie in [{lo:.6g}, {hi:.6g}] for unit "
                              f"{self.topology.name!r} with these devices (got {W.min():.6g}..{W.max():.6g}); "
                              "scale them or pass clip=True")
        W = np.clip(W, lo, hi)
        R = T.resistances_for(self.topology.name, W, self.r_lo, self.r_hi, self.g_ref, self.synapse_params.r_sum)
        if _spread_rng is not None:
            R = R * np.exp(self.synapse_params.init_spread * _spread_rng.standard_normal(R.shape))
        R = np.clip(R, self._r_lo_dev, self._r_hi_dev)
        stuck = arr.stuck_mask
        x_old = arr.x if stuck.any() else None
        arr.set_resistance(R.ravel())
        if x_old is not None:
            x_new = arr.x
            x_new[stuck] = x_old[stuck]
            arr.x = x_new
        if self._net_out is not None and not self._writing:
            self._publish()

    # ================================================================ engine interface
    @property
    def version(self) -> tuple[int, int]:
        """Changes whenever the layer's transfer may have changed (device states, faults,
        perturbation): the engine re-reads :meth:`engine_read_state` only then."""
        return (self._need_devices().version, self._pert_version)

    def engine_read_state(self, read_noise: bool = False, perturbation: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(G, g_src)``: transfer conductances (n_in, n_out) and source conductance per column
        (S), with the layer's own electrical perturbation unless ``perturbation=False``, and a fresh
        draw of the device read noise if ``read_noise``.  Read-only; do not modify."""
        g, G, gsrc = self._state()
        if not perturbation and self._perturbation is not None:
            G = G - self._perturbation * self.unit_source_conductance()
        if read_noise and self.device_params.g_read_noise > 0:
            G = self.effective_gain_matrix(read_noise=True)
            if perturbation and self._perturbation is not None:
                G = G + self._perturbation * self.unit_source_conductance()
        return G, gsrc

    def engine_terms(self, read_noise: bool = False):
        """Everything the chip's engine reads from this crossbar, in one call:
        ``(G, g_src, usrc, Q, amax, amin, mode)``, as :meth:`engine_read_state`,
        :meth:`unit_source_conductance` and :meth:`read_terms` give them."""
        G, gsrc = self.engine_read_state(read_noise=read_noise)
        return (G, gsrc, self._terms[0]) + self.read_terms()

    def unit_source_conductance(self) -> np.ndarray:
        """Norton conductance of each unit into its summing node (S), (n_in, n_out): an electrically
        injected perturbation ``dW`` adds ``v_in·dW·usrc`` to the unit's output current."""
        self._state()
        return self._terms[0]

    def read_terms(self):
        """``(Q, amax, amin, mode)`` for an external integrator that accounts reads itself: per-row
        read power per volt² ``Q`` (W/V², exact for ideal lines), per-row extremes of the threshold
        quantity per volt of row input (``None`` without thresholds), and ``mode``: 0 = reads never
        move a device (read disturb off), 1 = they cannot unless a threshold is reached over the
        row-voltage range, 2 = devices must be integrated (threshold-less model, or line
        resistance): call :meth:`read_interval`."""
        sp_ = self.synapse_params
        if self._lines is not None:
            return None, None, None, 2
        Q, ext = self._coeffs()
        if not sp_.read_disturb:
            return Q, None, None, 0
        if ext is None:
            return Q, None, None, 2
        return Q, ext[0], ext[1], 1

    def _coeffs(self):
        """Per-row read coefficients for the present states (ideal lines): power per volt² of each
        row ``Q`` (W/V²), and the extremes over the row's devices of the threshold quantity
        (device voltage, or current for TEAM) per volt of row input (``None`` without thresholds)."""
        self._state()
        _, _, Q, amax, amin = self._terms
        return Q, ((amax, amin) if self._thresholds is not None else None)

    def read_interval(self, m1, m2, vmin, vmax, duration_s: float) -> float:
        """Advance the devices through a read interval of ``duration_s`` seconds; returns the energy (J).

        ``m1`` is the mean row voltage over the interval (n_in,); ``m2`` the mean of its square,
        ``vmin``/``vmax`` its extremes (``None`` for all three: the row voltages were constant at
        ``m1``).  With ideal lines the power is ``Σ_i Q_i·v_i²``, so the energy is exact from
        ``m2``; devices that cannot move (TEAM/VTEAM below both thresholds over the whole range,
        or reads that do not disturb) only idle.  Otherwise (threshold-less models, a threshold
        reached, line resistance) the devices are integrated under the mean voltages.
        """
        T_ = float(duration_s)
        if T_ <= 0.0:
            return 0.0
        arr = self._need_devices()
        v = np.asarray(m1, dtype=float)
        const = m2 is None
        if not (v.any() or (not const and np.any(m2))):
            arr.idle(T_)
            return 0.0
        sp_ = self.synapse_params
        if self._lines is None:
            Q, ext = self._coeffs()
            quiet = not sp_.read_disturb
            if not quiet and ext is not None:
                up, dn, _ = self._thresholds
                lo_v = v if const else np.asarray(vmin, dtype=float)
                hi_v = v if const else np.asarray(vmax, dtype=float)
                amax, amin = ext
                top = np.maximum(np.maximum(amax * hi_v, amax * lo_v), np.maximum(amin * hi_v, amin * lo_v))
                bot = np.minimum(np.minimum(amax * hi_v, amax * lo_v), np.minimum(amin * hi_v, amin * lo_v))
                quiet = bool(np.all(top <= up) and np.all(bot >= dn))
            if quiet:
                e = T_ * float(np.dot(Q, v * v if const else m2))
                arr.idle(T_)
                self.energy_read_j += e
                return e
        return self._read_piece(v, v, T_)

    def idle(self, duration_s: float) -> None:
        """Let ``duration_s`` pass with no drive (retention drift only)."""
        self._need_devices().idle(duration_s)

    # ---------------------------------------------------------------- faults (public methods)
    def set_stuck(self, index, state: str = "current") -> None:
        """Freeze devices (flat indices into :attr:`device_array`) at ``"on"``, ``"off"`` or their
        present state; takes effect now."""
        self._sync()
        self._need_devices().set_stuck(index, state)
        self._changed()

    def set_open(self, index) -> None:
        """Make devices (flat indices) open circuits; takes effect now."""
        self._sync()
        self._need_devices().set_open(index)
        self._changed()

    def scale_resistance(self, index, factor) -> None:
        """Multiply the resistance of devices ``index`` by ``factor`` within each device's range;
        stuck and open devices keep theirs (drift, :meth:`DeviceArray.drift`).  Takes effect now."""
        self._sync()
        self._need_devices().drift(np.asarray(index, dtype=np.int64), factor)
        self._changed()

    def _changed(self) -> None:
        self._cache_key = None
        if self.driver is None and self._net_out is not None and not self._writing:
            self._publish()

    def program_weights(self, W) -> None:
        """Program weights ``W`` as the chip's initial state, with the programming error
        ``synapse_params.init_spread`` drawn from the layer's build stream ``program``."""
        sp_ = self.synapse_params
        rng = self._program_rng if sp_.init_spread > 0 else None
        self.set_weights(W, _spread_rng=rng)

    # ================================================================ physics: reads
    def _check_v(self, v, what):
        v = np.asarray(v, dtype=float)
        if v.ndim == 0:
            v = np.full(self.n_in, float(v))
        if v.shape != (self.n_in,):
            raise ConfigError(f"CrossbarLayer.{what}: shape must be ({self.n_in},) (got {v.shape})")
        if not np.all(np.isfinite(v)):
            raise ConfigError(f"CrossbarLayer.{what}: must be finite")
        return v

    def _read_voltages(self, v):
        """(device voltages (k, U) flat, non-device power W) at row inputs ``v`` with frozen states."""
        g, G, _ = self._state()
        sp_ = self.synapse_params
        if self._lines is not None:
            V = self._lines.solve(v)
            dv = self._lines.device_voltages(V)
            p_dev = float(np.sum(dv * dv * g))
            p_other = self._lines.driver_power(V, v) - p_dev
        else:
            G0 = None if self._perturbation is not None else G  # device voltages follow the devices only
            dv = T.device_voltages(sp_.unit, g, v, sp_.r_in, G0, sp_.buffer)
            p_other = T.load_power(sp_.unit, g, v, sp_.r_in, self.g_ref, G0, sp_.buffer)
        return dv.reshape(-1), p_other

    def _quiet(self, a, b, g) -> bool:
        """True if devices driven by voltages ``a``→``b`` (frozen states) cannot move: TEAM/VTEAM
        below both thresholds everywhere on the segment (linear in time, so the ends bound it)."""
        th = self._thresholds
        if th is None:
            return False
        up, dn, by_current = th
        if by_current:
            gg = g.reshape(-1)
            a, b = a * gg, b * gg
        if isinstance(up, float):  # no threshold spread: four reductions
            return bool(a.max() <= up and a.min() >= dn and b.max() <= up and b.min() >= dn)
        return bool(np.all((a <= up) & (a >= dn) & (b <= up) & (b >= dn)))

    def apply_read(self, v0, v1, duration_s: float) -> float:
        """Apply row voltages ramping ``v0`` → ``v1`` (n_in,) for ``duration_s`` seconds.

        Every device is advanced under its own (loaded) read voltage, so threshold-less
        models drift (read disturb).  Returns the energy (J), also added to ``energy_j.read``.
        Does not touch simulation time or the output nets.
        """
        va = self._check_v(v0, "apply_read.v0")
        vb = self._check_v(v1, "apply_read.v1")
        T_ = _duration(duration_s, "apply_read.duration_s")
        self._need_devices()
        self._sync()
        e = self._read_piece(va, vb, T_)
        if self._net_out is not None and not self._writing:
            self._publish()
        return e

    def _read_piece(self, va, vb, T_):
        if T_ <= 0.0:
            return 0.0
        arr = self.device_array
        if not (va.any() or vb.any()):
            arr.idle(T_)
            return 0.0
        topo = self.topology
        state_dep = topo.state_dependent_read or self._lines is not None
        sp_ = self.synapse_params

        same = np.array_equal(va, vb)
        if same:
            # Hot path: a constant read that cannot move any device (TEAM/VTEAM below threshold, or
            # idealised reads).  Its power depends only on the input and the states, so it is
            # remembered until either changes; the energy is then exact, power × duration.
            st = self._state()
            vkey = va.tobytes()
            memo = self._read_memo
            if memo is not None and memo[0] is st and memo[1] == vkey:
                quiet, power = memo[2], memo[3]
            else:
                da, pa = self._read_voltages(va)
                g = st[0]
                quiet = (not sp_.read_disturb) or self._quiet(da, da, g)
                power = pa + float(np.sum(g.reshape(-1) * da * da))
                self._read_memo = (st, vkey, quiet, power)
            if quiet:
                arr.idle(T_)
                e = T_ * power
                self.energy_read_j += e
                return e

        def step(f0, f1, h):
            xa = va + (vb - va) * f0
            da, pa = self._read_voltages(xa)
            if same:
                db, pb, pm = da, pa, pa
            else:
                xb = va + (vb - va) * f1
                db, pb = self._read_voltages(xb)
                pm = self._read_voltages(0.5 * (xa + xb))[1]
            e_other = h * (pa + 4 * pm + pb) / 6  # Simpson: exact for the quadratic power
            g = self._cache[0]
            if not sp_.read_disturb or self._quiet(da, db, g):
                gg = g.reshape(-1)
                return e_other + h * float(np.sum(gg * (da * da + da * db + db * db))) / 3, False
            return e_other + float(np.sum(arr.apply_voltage(da, db, h))), True

        if not state_dep or not sp_.read_disturb:
            e = step(0.0, 1.0, T_)[0]
        else:
            e = self._substep(T_, step, "read", sp_.disturb_rtol)
        arr.idle(T_)
        self.energy_read_j += e
        return e

    def _substep(self, T_, step, kind, rtol) -> float:
        """Advance ``T_`` seconds in steps with states frozen per step, each step sized so the
        largest relative resistance change stays near ``rtol`` (freezing error ~ rtol²)."""
        arr = self.device_array
        t, e = 0.0, 0.0
        hint = self._h_hint[kind]
        h = min(T_, hint if hint < math.inf else T_ / 16)  # first call: 16 steps, then adapt
        while t < T_ * (1 - 1e-12):
            h = min(h, T_ - t)
            g0 = self._state()[0].reshape(-1)  # conductances at the step start (also used by step)
            de, moved = step(t / T_, min(1.0, (t + h) / T_), h)
            e += de
            change = 0.0
            if moved:
                g1 = arr.conductance()
                ok = (g0 > 0) & (g1 > 0)
                change = float(np.max(np.abs(g0[ok] / g1[ok] - 1.0))) if ok.any() else 0.0
            t += h
            if change == 0.0:
                h *= 4.0
            else:
                h *= min(4.0, max(0.25, 0.9 * rtol / change))
        self._h_hint[kind] = h
        return e

    # ================================================================ physics: writes
    def _polarity_array(self, polarity):
        if polarity is None:
            return np.ones((self.n_in, self.n_out))
        p = np.asarray(polarity, dtype=float)
        if p.shape == (self.n_units,):
            p = p.reshape(self.n_in, self.n_out)
        if p.shape != (self.n_in, self.n_out):
            raise ConfigError(f"CrossbarLayer.write.polarity: shape must be ({self.n_in}, {self.n_out}) or "
                              f"({self.n_units},) (got {p.shape})")
        return snap_polarity(np.ascontiguousarray(p)).reshape(self.n_in, self.n_out)

    def write(self, v0: float, v1: float, duration_s: float, polarity=None) -> float:
        """Apply one write-pulse segment ``v0`` → ``v1`` (V) for ``duration_s`` to every unit in
        parallel, each with its own ``polarity`` (+1/−1/0, shape (n_in, n_out) or flat row-major;
        default all +1).  Same physics as the ``write`` port.  Returns the energy (J), also added
        to ``energy_j.write``.  Does not touch simulation time."""
        for nm, val in (("v0", v0), ("v1", v1)):
            if isinstance(val, bool) or not isinstance(val, (int, float, np.floating)) or not math.isfinite(val):
                raise ConfigError(f"CrossbarLayer.write.{nm}: must be a finite number of volts (got {val!r})")
        T_ = _duration(duration_s, "write.duration_s")
        self._need_devices()
        self._sync()
        e = self._write_piece(float(v0), float(v1), T_, self._polarity_array(polarity))
        if self._net_out is not None and not self._writing:
            self._publish()
        return e

    def write_for_engine(self, pcs: np.ndarray, flat: np.ndarray) -> float:
        """The chip engine's write of one whole pulse: :meth:`write_pieces` with the pieces as an
        array (rows ``v0, v1, seconds``) and the polarity codes already ±1/0 (flat), the engine
        having brought everything up to now.  Where the crossbar is small, has ideal lines and no
        retention, the write and the new read state are one compiled call; otherwise
        :meth:`write_pieces`.  Returns the energy (J)."""
        arr = self.device_array
        if (self._lines is not None or self.n_units >= _PAR_PAIRS or math.isfinite(self.device_params.retention_tau)
                or arr is None):
            return self.write_pieces(pcs, flat.reshape(self.n_in, self.n_out))
        fx = self._fast_write
        if fx is None:
            sp_ = self.synapse_params
            by_current = self._thresholds is not None and self._thresholds[2]
            fx = self._fast_write = (T.UNIT_CODES[sp_.unit], float(sp_.r_in), float(self.g_ref or 0.0),
                                     bool(sp_.buffer), bool(by_current))
        code, r_in, g_ref, buffered, by_current = fx
        plan = self._write_plan_arrays()
        grounded, one_pass = self._write_mode()
        dx_dn, dx_up = arr.params.c2c_spreads()
        draws = _NO_DRAWS
        if dx_dn > 0 or dx_up > 0:
            draws = self._c2c_draws(plan, *write_calls(pcs, flat), dx_dn, dx_up)
        bufs = self._state_buffers()
        e, calls = write_then_state(pcs, flat, self.n_units, plan[0], plan[1], plan[2], arr.model, arr.P, arr.U, arr.dU,
                                    arr.flags, arr.switch_count, arr._limit, arr._stuck_u, arr.params.switch_dx,
                                    arr.rtol, arr.atol, arr.rate_cap, arr.exact_flows, arr.path_counts, dx_dn, dx_up,
                                    draws, grounded, one_pass, arr._uniform, arr.params.v_read, code, r_in, g_ref,
                                    buffered, by_current, *bufs)
        if calls < 0:  # no unit selected: the pulse passes the devices by
            arr.idle(float(pcs[:, 2].sum()))
            return 0.0
        arr.version += calls
        self._keep_state(*bufs)
        self.energy_write_j += e
        return e

    def _write_mode(self) -> tuple[bool, bool]:
        """``(grounded, one_pass)``: the middle node held at 0 V during a write
        (``synapse.params.write_mid = "ground"``); one pass per pair through all the pieces
        (:meth:`DeviceArray.apply_pair_pieces`: one series pair per unit and no lone device)."""
        topo = self.topology
        grounded = self.synapse_params.write_mid == "ground"
        return grounded, len(topo.write_pairs) == 1 and not topo.write_single and not grounded

    def _write_plan_arrays(self):
        """The unit's write slots as index arrays (pairs' positive slots, their negative slots, lone
        slots), made once."""
        plan = self._write_plan
        if plan is None:
            topo = self.topology
            plan = self._write_plan = (np.array([p for p, _ in topo.write_pairs], dtype=np.int64),
                                       np.array([n for _, n in topo.write_pairs], dtype=np.int64),
                                       np.array(topo.write_single, dtype=np.int64))
        return plan

    def _c2c_draws(self, plan, m, k, dx_dn, dx_up):
        """The cycle-to-cycle normals of a pulse with ``k`` driving pieces through ``m`` units: one
        per device call (pairs: both devices), from the device array's run stream."""
        n_draw = k * m * (2 * plan[0].size + plan[2].size) if (dx_dn > 0 or dx_up > 0) else 0
        return self.device_array.run_rng.standard_normal(n_draw) if n_draw else _NO_DRAWS

    def write_pieces(self, pieces, polarity) -> float:
        """Apply a whole write pulse, given as pieces ``(v0, v1, duration_s)`` in order, to every unit
        with its own ``polarity`` (shape (n_in, n_out), +1/-1/0): the same physics as calling
        :meth:`write` per piece, with the selection of units done once.  Returns the energy (J)."""
        arr = self._need_devices()
        self._sync()
        pol = self._polarity_array(polarity)
        if self._lines is not None:
            return sum(self._write_piece(float(a), float(b), float(t), pol) for a, b, t in pieces)
        total = 0.0
        for _, _, t in pieces:
            total += t
        flat = pol.ravel()
        if not flat.any():
            arr.idle(total)
            return 0.0
        pcs = np.asarray(pieces, dtype=float).reshape(-1, 3)
        m, k = write_calls(pcs, flat)
        topo = self.topology
        grounded, one_pass = self._write_mode()
        dx_dn, dx_up = arr.params.c2c_spreads()
        if m >= _PAR_PAIRS:  # large: the device kernels' multi-threaded twins, called from here
            U = self.n_units
            if m == U:  # every unit written (the usual WSP update): the same index arrays each time
                if self._write_idx_all is None:
                    every = np.arange(U, dtype=np.int64)
                    self._write_idx_all = ([(ps * U + every, ns * U + every) for ps, ns in topo.write_pairs],
                                           [s_ * U + every for s_ in topo.write_single])
                idx_pairs, idx_single = self._write_idx_all
                sign = flat
            else:
                sel = np.flatnonzero(flat)
                sign = flat[sel]
                idx_pairs = [(ps * U + sel, ns * U + sel) for ps, ns in topo.write_pairs]
                idx_single = [s_ * U + sel for s_ in topo.write_single]
            live = [(float(wa), float(wb), float(T_)) for wa, wb, T_ in pcs if T_ > 0.0 and not (wa == 0.0 and wb == 0.0)]
            e = 0.0
            if one_pass and live:
                e = float(arr.apply_pair_pieces(live, sign, *idx_pairs[0]).sum())
            for wa, wb, T_ in (() if one_pass else live):
                sa, sb = sign * wa, sign * wb
                for ip, inn in idx_pairs:
                    if grounded:  # middle node held at 0 V: each device gets half the pulse
                        e += float(arr.apply_voltage(0.5 * sa, 0.5 * sb, T_, ip).sum())
                        e += float(arr.apply_voltage(-0.5 * sa, -0.5 * sb, T_, inn).sum())
                    else:
                        e += float(arr.apply_pair(sa, sb, T_, ip, inn).sum())
                for i_ in idx_single:
                    e += float(arr.apply_voltage(sa, sb, T_, i_).sum())
        else:
            plan = self._write_plan_arrays()
            draws = self._c2c_draws(plan, m, k, dx_dn, dx_up)
            e, calls = write_pieces_kernel(pcs, flat, self.n_units, plan[0], plan[1], plan[2], arr.model, arr.P,
                                           arr.U, arr.dU, arr.flags, arr.switch_count, arr._limit, arr._stuck_u,
                                           arr.params.switch_dx, arr.rtol, arr.atol, arr.rate_cap, arr.exact_flows,
                                           arr.path_counts, dx_dn, dx_up, draws, grounded, one_pass, arr._uniform)
            arr.version += calls
        if math.isfinite(self.device_params.retention_tau):
            arr.idle(total)
        self.energy_write_j += e
        return e

    def _write_piece(self, wa, wb, T_, pol) -> float:
        arr = self.device_array
        if T_ <= 0.0:
            return 0.0
        sel = pol != 0
        if not sel.any() or (wa == 0.0 and wb == 0.0):
            arr.idle(T_)
            return 0.0
        flat_sel = np.flatnonzero(sel.ravel())
        sign = pol.ravel()[flat_sel]
        U = self.n_units
        topo = self.topology

        def step(f0, f1, h, ratio=None):
            a = wa + (wb - wa) * f0
            b = wa + (wb - wa) * f1
            sa, sb = sign * a, sign * b
            if ratio is not None:
                sa, sb = sa * ratio, sb * ratio
            en = 0.0
            for ps, ns in topo.write_pairs:
                if self.synapse_params.write_mid == "ground":  # middle node held at 0 V
                    en += float(np.sum(arr.apply_voltage(0.5 * sa, 0.5 * sb, h, ps * U + flat_sel)))
                    en += float(np.sum(arr.apply_voltage(-0.5 * sa, -0.5 * sb, h, ns * U + flat_sel)))
                else:
                    en += float(np.sum(arr.apply_pair(sa, sb, h, ps * U + flat_sel, ns * U + flat_sel)))
            for s in topo.write_single:
                en += float(np.sum(arr.apply_voltage(sa, sb, h, s * U + flat_sel)))
            return en, a, b

        if self._lines is None:
            e = step(0.0, 1.0, T_)[0]
        else:
            def line_step(f0, f1, h):
                # IR drop with the states frozen at the sub-step start; energy = what the write
                # drivers deliver to devices and wires, V(t)²·Y_total integrated exactly.
                g = self._conductances()
                ratio, y_total = self._lines.write_ratio(T.write_conductance(topo.name, g), sel)
                _, a, b = step(f0, f1, h, ratio.ravel()[flat_sel])
                return y_total * h * (a * a + a * b + b * b) / 3.0, True
            e = self._substep(T_, line_step, "write", self.synapse_params.disturb_rtol)
        arr.idle(T_)
        self.energy_write_j += e
        return e

    # ================================================================ event plumbing
    def _publish(self) -> None:
        """Drive ``out`` (following the ``in`` segment, same ramp) and ``g`` from the present states."""
        out, gnet, now = self._net_out, self._net_g, self.ctx.env.now
        _, G, gsrc = self._state()
        if self.device_params.g_read_noise > 0:
            G = self.effective_gain_matrix(read_noise=True)
        if not np.array_equal(gnet.value(now), gsrc):
            gnet.set(gsrc.copy())
        if self._writing:
            self._set_if_changed(out, np.zeros(self.n_out), now)
            return
        t0, v0, t1, v1 = self._net_in.segment
        end = v1 @ G
        if t1 > now:
            self._set_if_changed(out, self._net_in.value(now) @ G, now)
            out.ramp(end, t1 - now)
        else:
            self._set_if_changed(out, end, now)

    @staticmethod
    def _set_if_changed(net, value, now):
        t0, v0, t1, v1 = net.segment
        if t1 <= now and np.array_equal(v1, value):
            return
        if t1 > now or not np.array_equal(net.value(now), value):
            net.set(value)

    def _on_in(self, _net) -> None:
        if not self._writing:
            self._publish()

    def _on_write(self, net) -> None:
        now = self.ctx.env.now
        t0, v0, t1, v1 = net.segment
        active = v0[0] != 0.0 or v1[0] != 0.0
        if active and not self._writing:
            self._pol = self._polarity_array(self._net_pol.value(now))
            self._writing = True
            self._publish()
        elif not active and self._writing:
            self._writing = False
            self._publish()
        self._write_end = t1 if (active and v1[0] == 0.0 and t1 > now) else None
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def _run(self, ctx):
        """The layer's one process: ends a write whose last segment ramps to 0 V (no net change
        marks that moment)."""
        env = ctx.env
        while True:
            end = self._write_end
            if end is not None and end <= env.now:
                self._write_end = None
                if self._writing:
                    self.advance_to(env.now)
                    self._writing = False
                    self._publish()
                continue
            self._wake = env.event()
            if end is None:
                yield self._wake
            else:
                yield env.any_of([self._wake, env.timeout(end - env.now)])

    def advance(self, t_from: int, t_to: int) -> None:
        """Integrate the devices from ``t_from`` to ``t_to`` under the present ``in``/``write`` segments."""
        if self.driver is not None:
            return  # the driver applies reads and writes itself
        inn, wr = self._net_in, self._net_write
        cuts = {t_from, t_to}
        for net in (inn, wr):
            t1 = net.segment[2]
            if t_from < t1 < t_to:
                cuts.add(t1)
        pts = sorted(cuts)
        for a, b in zip(pts[:-1], pts[1:]):
            dt = (b - a) * TICK
            if self._writing:
                self._write_piece(float(wr.value(a)[0]), float(wr.value(b)[0]), dt, self._pol)
            else:
                self._read_piece(np.array(inn.value(a)), np.array(inn.value(b)), dt)


def _duration(d, what):
    if isinstance(d, bool) or not isinstance(d, (int, float, np.floating)) or not math.isfinite(d) or d < 0:
        raise ConfigError(f"CrossbarLayer.{what}: must be a non-negative finite number of seconds (got {d!r})")
    return float(d)
