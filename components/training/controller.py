"""The perturbation controller: a SimPy state machine that trains the chip by timed voltage events.

Per pattern (weight simultaneous perturbation, Maeda's one-sided rule)::

    apply pattern (row voltages, target)            t
    wait t_settle                                   t + t_settle
    hold J0 in the sample-and-hold
    perturb every synapse by c·s_i                  electrical injection, or a short written pulse
    wait t_settle
    read J1; comparator decides sign(J1 − J0); the PWM turns |J1 − J0| into a width
    one parallel update pulse to every synapse, polarity −sign(J1 − J0)·s_i
    wait the gap, next pattern

Every duration is a parameter; every analog value is what the circuit blocks
produce at that instant (unsettled if sampled early).  Pattern order and
perturbation signs come from the run streams ``("controller", "order")`` and
``("controller", "perturbation")``: the conventions of
:mod:`components.learning.reference`, so an ideal chip reproduces the plain
numpy WSP run.

Written-perturbation mode: the perturbation pulse (width ``t_pert``, polarity
``s_i``) moves each weight by about ``c·s_i``; the single update pulse then
both undoes it and applies the step: the wanted change ``−s_i·(c + α·ΔJ/c)``
is formed by adding the offset ``c²/α`` (in J volts) to J1 before the
comparator and the PWM.  A device that does not move exactly ``c`` leaves the
difference behind, as the hardware would.

Baselines in the same framework: serial weight perturbation (one synapse at a
time, ``n + 1`` settles and ``n`` write pulses per pattern) and random weight
change (one parallel pulse of fixed width and random polarity per pattern,
kept while the error falls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from mssim import BuildContext, Component, Port
from mssim.errors import ConfigError

from ..errorcircuits import PWMParams
from ..synapses import WEIGHT_INCREASING_POLARITY as WIP
from .signs import LFSRSigns, StreamSigns


@dataclass
class ControllerConfig:
    """Resolved controller settings (durations in ticks, rates in SI)."""

    sizes: tuple[int, ...]
    algorithm: str  # "wsp" | "serial_wp" | "rwc"
    rule: str  # "maeda" | "spsa" | "sign"
    perturbation: str  # "electrical" | "written"
    signs: str  # "stream" | "lfsr"
    epochs: int
    alpha: float
    c: float
    lr_decay: float
    c_decay: float
    t_settle: int
    t_pert: int
    gap: int
    v_write: float
    v_pert: float
    kappa: float  # |dw/dt| (1/s) during an update pulse at v_write, from calibration
    kappa_pert: float  # |dw/dt| (1/s) during a perturbation pulse at v_pert
    j_scale: float  # J volts per unit of normalised J
    v_read: float
    v_sat: float
    pwm: PWMParams
    eval_every: int = 1
    width_scale: float = 1.0  # multiplies every update width (timing.width_scale)


class Controller(Component):
    """The training controller block.

    Ports: outputs ``x`` (row voltages of the first crossbar, bias line last), ``target`` (target
    voltages for the error circuit), ``hold`` (the sample-and-hold control), ``phase`` (a digital
    code of the step phase, for waveforms) and ``pol0`` .. ``pol{L-1}`` (per-synapse write
    polarity bits); inputs ``decision`` (the comparator) and ``width`` (the PWM).

    The chip (:class:`~components.training.chip.Chip`) is handed over at construction; the
    controller acts on its analog engine, comparator, PWM and write-pulse generator by calls at
    the event instants.  The nets of its ports carry values only while a step is being recorded
    (waveforms); the engine is the one integrator either way, so recording changes nothing.
    """

    feedthrough = False
    PHASES = {"idle": 0, "apply": 1, "sample_j0": 2, "perturb": 3, "sample_j1": 4, "update": 5, "gap": 6}

    def __init__(self, cfg: ControllerConfig, task, chip, *, on_epoch: Callable[[int], Any] | None = None,
                 on_pattern: Callable[[int], Any] | None = None) -> None:
        super().__init__("controller")
        if cfg.algorithm not in ("wsp", "serial_wp", "rwc"):
            raise ConfigError(f"training.algorithm: the chip runs 'wsp', 'serial_wp' or 'rwc' (got {cfg.algorithm!r})")
        if cfg.algorithm == "wsp" and cfg.rule == "spsa" and cfg.perturbation == "written":
            raise ConfigError("training.rule: 'spsa' needs training.perturbation = 'electrical' (a written two-sided "
                              "perturbation is not modelled)")
        self.cfg = cfg
        self.task = task
        self.chip = chip
        self.engine = chip.engine
        self.on_epoch = on_epoch
        self.on_pattern = on_pattern
        self.shapes = [(cfg.sizes[l] + 1, cfg.sizes[l + 1]) for l in range(len(cfg.sizes) - 1)]
        self.n_weights = sum(a * b for a, b in self.shapes)
        self.pwm = chip.pwm
        self.patterns_done = 0
        self.update_pulses = 0
        self.pert_pulses = 0
        self.device_pulses = 0
        self.epoch = 0
        #: First epoch to run (a resumed run starts after its checkpoint's epoch; see training/checkpoint.py).
        self.start_epoch = 0
        self.finished = False
        self.stop_requested = False
        #: Called with the epoch number at the start of every epoch (fault injection, schedules).
        self.epoch_start_hooks: list[Callable[[int], Any]] = []
        #: Called before every write pulse as ``f(kind, width_ticks, amplitude)``; return None to
        #: drop the pulse, or ``(width_ticks, amplitude)`` to change it (pulse faults).
        self.pulse_filters: list[Callable[[str, int, float], tuple[int, float] | None]] = []
        self.dropped_pulses = 0
        #: Update-pulse widths (ticks) of the present epoch, as the PWM chose them (0 = none).
        self.widths: list[int] = []
        #: ... and of the whole run.
        self.all_widths: list[int] = []
        self.recording = False
        self._v = np.empty(cfg.sizes[0] + 1)
        self._rwc_s = None

    def ports(self) -> list[Port]:
        n0, nL = self.cfg.sizes[0], self.cfg.sizes[-1]
        ps = [Port("x", "voltage", n0 + 1, "out"), Port("target", "voltage", nL, "out"),
              Port("hold", "digital", 1, "out"), Port("phase", "digital", 1, "out"),
              Port("decision", "digital", 1, "in"), Port("width", "signal", 1, "in")]
        ps += [Port(f"pol{l}", "digital", a * b, "out") for l, (a, b) in enumerate(self.shapes)]
        return ps

    def build(self, ctx: BuildContext) -> None:
        super().build(ctx)
        self._hold = ctx.net("hold")
        self._phase = ctx.net("phase")
        self._pol = [ctx.net(f"pol{l}") for l in range(len(self.shapes))]
        self._x = ctx.net("x")
        self._target = ctx.net("target")
        self.order_rng = ctx.run_rng("order")
        sign_rng = ctx.run_rng("perturbation")
        self.signs = LFSRSigns(sign_rng, self.n_weights) if self.cfg.signs == "lfsr" else StreamSigns(sign_rng, self.n_weights)
        self.rwc_rng = ctx.sim.seeds.run_stream("rwc", "signs")

    # -- small actions -----------------------------------------------------------------
    def _set_phase(self, name: str) -> None:
        if self.recording:
            self._phase.set(float(self.PHASES[name]))

    def apply(self, x: np.ndarray, d: np.ndarray) -> None:
        """Drive the row voltages ``x·v_read`` (bias line at +v_read) and the target voltages ``d·v_sat``."""
        cfg = self.cfg
        v = self._v
        np.multiply(x, cfg.v_read, out=v[:-1])
        v[-1] = cfg.v_read
        dv = np.asarray(d, dtype=float) * cfg.v_sat
        self.engine.set_inputs(v, dv)
        if self.recording:
            self._x.set(v.copy())
            self._target.set(dv)

    def inject(self, delta_flat: np.ndarray | None) -> None:
        """Electrically inject a weight perturbation (flat, reference order) or remove it (``None``)."""
        self.engine.perturb(delta_flat)

    def pulse(self, width_ticks: int, amplitude: float, kind: str, direction_flat: np.ndarray, then: int = 0):
        """Fire one global write pulse (``direction_flat``: +1 = increase this weight, 0 = leave it)
        and wait until it (and its fall) is over.  ``then``: ticks the caller waits next (the gap);
        when the pulse runs in one go they are waited with it, one event instead of two, and the
        pulse's info has ``"waited_then": True``."""
        if width_ticks <= 0:
            return
        pol = direction_flat * WIP
        if self.recording:  # the stored polarity bits, latched before the pulse
            k = 0
            for net, (a, b) in zip(self._pol, self.shapes):
                net.set(pol[k: k + a * b].copy())
                k += a * b
        for f in self.pulse_filters:
            r = f(kind, int(width_ticks), float(amplitude))
            if r is None:
                self.dropped_pulses += 1
                self.ctx.log("pulse_dropped", pulse_kind=kind, width_ticks=int(width_ticks))
                return
            width_ticks, amplitude = r
            if width_ticks <= 0:
                return
        writer, eng = self.chip.writer, self.engine
        plan = writer.plan(int(width_ticks), amplitude)
        dur = writer.duration_ticks(plan[0], plan[1])
        if not self.recording and eng.can_fuse(dur + then):  # nothing happens in between: one go, same bits
            info, pieces = writer.play_at_once(*plan)
            if dur:
                eng.write_at_once(pol, pieces, dur)
            if dur + then:
                yield self.ctx.env.timeout(dur + then)
            info["waited_then"] = True
        else:
            eng.begin_write(pol)
            info = yield writer.start(plan)
            eng.end_write()
        if kind == "update":
            self.update_pulses += 1
        else:
            self.pert_pulses += 1
        self.device_pulses += int(np.count_nonzero(direction_flat))
        return info

    def hold_j0(self) -> None:
        """The sample-and-hold holds J now (J0)."""
        self.engine.hold()
        if self.recording:
            self._hold.set(1.0)

    def held_j0(self) -> float:
        """The S&H output now (V): what the comparator and the PWM see as J0 (droop included)."""
        return self.engine.held()

    def release(self) -> None:
        self.engine.release()
        if self.recording:
            self._hold.set(0.0)

    def read_j(self) -> float:
        """The live J (V) from the error circuit now (with this instant's op-amp noise)."""
        return self.engine.sample_j()

    def width_for(self, dw: float, kappa: float) -> int:
        """Ticks of flat top that move a weight by ``dw`` at rate ``kappa``: the PWM's clock rule."""
        return self.pwm.quantise(abs(dw) / kappa)

    # -- the process -------------------------------------------------------------------
    def run(self, ctx: BuildContext):
        cfg = self.cfg
        task = self.task
        n_train = task.x_train.shape[0]
        step = {"wsp": self._step_wsp, "serial_wp": self._step_serial, "rwc": self._step_rwc}[cfg.algorithm]
        self._set_phase("idle")
        for epoch in range(self.start_epoch, cfg.epochs):
            self.epoch = epoch
            self.widths = []
            alpha = cfg.alpha * cfg.lr_decay ** epoch
            c = cfg.c * cfg.c_decay ** epoch
            ctx.log("epoch_start", epoch=epoch, alpha=alpha, c=c)
            for hook in self.epoch_start_hooks:
                hook(epoch)
            order = self.order_rng.permutation(n_train)
            for p in order:
                if self.on_pattern is not None:
                    self.on_pattern(self.patterns_done)
                yield from step(task.x_train[p], task.y_train[p], alpha, c)
                self.patterns_done += 1
            if self.on_epoch is not None and self.on_epoch(epoch):
                ctx.log("early_stop", epoch=epoch)
                break
            if self.stop_requested:
                break
        self._set_phase("idle")
        self.finished = True

    # -- WSP -----------------------------------------------------------------------------
    def _step_wsp(self, x, d, alpha: float, c: float):
        """One pattern: apply, settle, hold J0, perturb, settle, read J1, decide, one update pulse.

        The comparator and the PWM decide at the instant J1 is read, on the live J1 and the held
        J0 as the S&H presents it then (after its droop); a written perturbation's undo is folded
        into the update by the offset ``c²/α`` (module docstring).
        """
        cfg, env, chip = self.cfg, self.ctx.env, self.chip
        written = cfg.perturbation == "written"
        s = self.signs.draw()
        fused = None
        eng = self.engine
        if not (written or self.recording) and eng.can_fuse(2 * cfg.t_settle):
            # nothing else happens until J1 is read: the whole measurement in one compiled call
            # (the same steps and bits as the events below)
            v = self._v.copy()
            np.multiply(x, cfg.v_read, out=v[:-1])
            v[-1] = cfg.v_read
            fused = eng.sample_two(v, np.asarray(d, dtype=float) * cfg.v_sat, c * s, cfg.t_settle,
                                   pert0=-c * s if cfg.rule == "spsa" else None)
        if fused is not None:
            j1, j0 = fused
            yield env.timeout(2 * cfg.t_settle)
        else:
            self._set_phase("apply")
            self.apply(x, d)
            if cfg.rule == "spsa":
                self.inject(-c * s)
            yield env.timeout(cfg.t_settle)
            self._set_phase("sample_j0")
            self.hold_j0()
            self._set_phase("perturb")
            if written:
                yield from self.pulse(self.width_for(c, cfg.kappa_pert), cfg.v_pert, "pert", s)
            else:
                self.inject(c * s)
            yield env.timeout(cfg.t_settle)
            self._set_phase("sample_j1")
            j1 = self.read_j()
            j0 = self.held_j0()
            if not written:
                self.inject(None)
            self.release()
        # Decision and width.  ``m`` is the wanted signed change along s (in weight units):
        # maeda  m = -(c_w + alpha*dJ/c),  spsa  m = -alpha*dJ/(2c),  sign  m = -(c_w + alpha*sign(dJ)).
        c_w = c if written else 0.0
        if cfg.rule == "sign":
            dec = chip.comparator.compare(j1, j0)
            m = c_w + alpha * dec
            direction = -math.copysign(1.0, m) if m != 0 else 0.0
            width = self.width_for(m * cfg.width_scale, cfg.kappa)
        else:
            # The PWM's gain was set for (cfg.alpha, cfg.c); schedules scale its input.
            scale = (alpha / cfg.alpha) * (cfg.c / c)
            if cfg.rule == "spsa":
                scale *= 0.5
            offset = (c * c / alpha) * cfg.j_scale if written else 0.0
            dec = chip.comparator.compare(j1 + offset, j0)
            direction = -float(dec)
            width = self.pwm.width_ticks((j1 + offset - j0) * scale)
        w_ = width if direction != 0.0 else 0
        self.widths.append(w_)
        self.all_widths.append(w_)
        self._set_phase("update")
        info = None
        if width > 0 and direction != 0.0:
            info = yield from self.pulse(width, cfg.v_write, "update", direction * s, then=cfg.gap)
        self._set_phase("gap")
        if cfg.gap and not (info and info.get("waited_then")):
            yield env.timeout(cfg.gap)

    # -- serial weight perturbation -------------------------------------------------------
    def _step_serial(self, x, d, alpha: float, c: float):
        cfg, env = self.cfg, self.ctx.env
        n = self.n_weights
        self._set_phase("apply")
        self.apply(x, d)
        yield env.timeout(cfg.t_settle)
        self._set_phase("sample_j0")
        self.hold_j0()
        grads = np.empty(n)
        e = np.zeros(n)
        self._set_phase("perturb")
        for i in range(n):
            e[i] = c
            self.inject(e)
            yield env.timeout(cfg.t_settle)
            grads[i] = (self.read_j() - self.held_j0()) / cfg.j_scale / c
            e[i] = 0.0
        self.inject(None)
        self.release()
        self._set_phase("update")
        mask = np.zeros(n)
        for i in range(n):  # one synapse at a time: its own width and polarity
            dw = -alpha * grads[i]
            width = self.width_for(dw, cfg.kappa)
            if width == 0:
                continue
            mask[i] = math.copysign(1.0, dw)
            yield from self.pulse(width, cfg.v_write, "update", mask.copy())
            mask[i] = 0.0
        self._set_phase("gap")
        if cfg.gap:
            yield env.timeout(cfg.gap)

    # -- random weight change --------------------------------------------------------------
    def _step_rwc(self, x, d, alpha: float, c: float):
        """RWC: delta = alpha (fixed step per pattern); keep the signs while J falls."""
        cfg, env = self.cfg, self.ctx.env
        if self._rwc_s is None:
            self._rwc_s = (self.rwc_rng.integers(0, 2, size=self.n_weights) * 2 - 1).astype(np.float64)
        self._set_phase("apply")
        self.apply(x, d)
        yield env.timeout(cfg.t_settle)
        self._set_phase("sample_j0")
        self.hold_j0()
        self._set_phase("update")
        yield from self.pulse(self.width_for(alpha, cfg.kappa), cfg.v_write, "update", self._rwc_s)
        yield env.timeout(cfg.t_settle)
        self._set_phase("sample_j1")
        j1 = self.read_j()
        j0 = self.held_j0()
        self.release()
        if not j1 < j0:
            self._rwc_s = (self.rwc_rng.integers(0, 2, size=self.n_weights) * 2 - 1).astype(np.float64)
        self._set_phase("gap")
        if cfg.gap:
            yield env.timeout(cfg.gap)
