"""Run a scenario end to end and write its results folder.

``run_scenario`` is what ``mssim run`` calls, and what sweeps call per point;
``resume_run`` is ``mssim resume``.  The order of a run is fixed so that a
user's mistake costs nothing:

1. load and validate the scenario (:mod:`components.training.config`);
2. claim the results folder without touching it (:class:`~components.training.results.OutputFolder`
   refuses a non-empty foreign folder, an existing run without ``--overwrite``,
   an unwritable place) and check ``--vcd``, ``--init-weights`` and
   ``--checkpoint-every``;
3. :func:`build_run`: estimate the memory, build the chip (devices, synapses,
   op-amps, circuits, calibration) and check the scenario against it (fault
   targets and times); ``mssim validate`` stops here;
4. take the folder's lock, simulate (checkpointing, and stopping at the first
   non-finite history value), write everything atomically, release the lock.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mssim import __version__
from mssim.errors import ConfigError, SimulationError

from . import checkpoint as ckpt
from . import plots
from .config import Scenario, check_against_chip, load, validate_scenario
from .results import OutputFolder, ResultsWriter, check_finite, fresh_default, is_results_folder
from .trainer import TrainResult, TrainingRun

#: Environment variable that sets the memory cap (bytes, or "16GiB", "500MB"); default: the memory available now.
MEMORY_LIMIT_ENV = "MSSIM_MEMORY_LIMIT"
#: Bytes per synaptic device during training (device state, spread rows, crossbar caches): ~270 measured at build.
BYTES_PER_DEVICE = 400
#: Bytes of the interpreter, numba and the data sets, before the chip.
BYTES_BASE = 250 * 2 ** 20
DEVICES_PER_UNIT = {"pair": 2, "differential": 2, "bridge": 4, "reference": 2}


def default_out(scn: Scenario, source: str | Path | None = None) -> Path:
    """``output.dir`` if set, else ``results/<scenario name>``."""
    if scn.output.dir:
        return Path(scn.output.dir)
    return Path("results") / scn.name


def resolve_out(scn: Scenario, out: str | Path | None, overwrite: bool) -> tuple[Path, str]:
    """The results folder and how to name it in messages.

    ``--out`` or ``output.dir`` as given.  Without either, ``results/<name>``; if that
    already holds something, ``results/<name>-2``, ``-3``, ... (so the README's command
    can be repeated), unless ``overwrite`` asks to replace ``results/<name>``.
    """
    if out is not None:
        if str(out).strip() == "":
            raise ConfigError("--out: the folder name is empty; give a folder such as results/run1")
        return Path(out), "--out"
    if scn.output.dir:
        return Path(scn.output.dir), "output.dir"
    base = Path("results") / scn.name
    return (base if overwrite else fresh_default(base)), "--out"


def _parse_bytes(text: str) -> int:
    from mssim.units import parse_quantity

    t = text.strip().replace("iB", "").replace("B", "")
    mult = 1
    for suffix, m in (("K", 2 ** 10), ("M", 2 ** 20), ("G", 2 ** 30), ("T", 2 ** 40)):
        if t.upper().endswith(suffix):
            t, mult = t[:-1], m
            break
    try:
        v = parse_quantity(t) * mult
    except ConfigError:
        v = float("nan")
    if not (v > 0 and np.isfinite(v)):
        raise ConfigError(f"{MEMORY_LIMIT_ENV}: must be a size such as 16GiB or 500MB (got {text!r})")
    return int(v)


def available_memory() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_memory(scn: Scenario, sizes: Sequence[int]) -> tuple[int, int]:
    """(bytes, devices) a run of this chip needs, estimated before anything is allocated."""
    k = DEVICES_PER_UNIT.get(scn.synapse.unit, 4)
    units = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    devices = k * units
    return BYTES_BASE + BYTES_PER_DEVICE * devices, devices


def check_memory(scn: Scenario, sizes: Sequence[int], source: str) -> None:
    """Refuse a chip whose estimated memory exceeds the cap (``MSSIM_MEMORY_LIMIT``, else the memory available)."""
    need, devices = estimate_memory(scn, sizes)
    env = os.environ.get(MEMORY_LIMIT_ENV)
    cap = _parse_bytes(env) if env else available_memory()
    if cap is None or need <= cap:
        return
    gib = 2 ** 30
    where = f"set {MEMORY_LIMIT_ENV}=<bytes> to raise the cap" if not env else f"raise {MEMORY_LIMIT_ENV}"
    raise ConfigError(f"{source}: network.hidden: the chip {'-'.join(map(str, sizes))} has {devices:,} devices and needs "
                      f"about {need / gib:.1f} GiB, more than the {cap / gib:.1f} GiB "
                      f"{'allowed' if env else 'available'}; use smaller hidden layers, or {where}")


def _prefixed(exc: Exception, source: str) -> str:
    msg = str(exc)
    return msg if msg.startswith(source) else f"{source}: {msg}"


def build_run(scn: Scenario, source: str, *, record_pattern: int | None = None, progress: bool = False) -> TrainingRun:
    """Everything a run does before its first event: memory estimate, the chip (devices, synapses,
    op-amps, circuits, calibration) and the checks against it.  Errors name ``source``."""
    from ..learning.datasets import task_from_config

    try:
        task = task_from_config(scn.data, scn.seed)
    except ConfigError as exc:
        raise ConfigError(_prefixed(exc, source)) from None
    sizes = (task.n_inputs, *scn.network.hidden, task.n_outputs)
    check_memory(scn, sizes, source)
    try:
        run = TrainingRun(scn, record_pattern=record_pattern, progress=progress, task=task)
    except ConfigError as exc:
        raise ConfigError(_prefixed(exc, source)) from None
    except (OverflowError, ZeroDivisionError, FloatingPointError) as exc:
        raise ConfigError(f"{source}: the scenario's values overflow while the chip is built and calibrated "
                          f"({type(exc).__name__}: {exc}); bring extreme values (training.alpha, neuron.v_sat, "
                          "device and synapse parameters) back to physical ranges") from None
    # the checks see the timing as built (designed v_write, clock, t_max)
    check_against_chip(scn.model_copy(update={"timing": run.timing}), source, n_devices=[int(xb.device_array.n) for xb in run.chip.crossbars],
                       n_neurons=[int(nl.n) for nl in run.chip.neurons], n_train=int(task.x_train.shape[0]),
                       n_weights=int(run.chip.n_weights))
    return run


def load_init_weights(path: str | Path, run: TrainingRun) -> np.ndarray:
    """Flat weights from a ``weights.npz`` (``layer0``, ``layer1``, ...) checked against the chip."""
    p = Path(path)
    opt = f"--init-weights {p}"
    if not p.is_file():
        raise ConfigError(f"{opt}: no such file; give the weights.npz of an earlier run")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except Exception as exc:  # numpy raises many kinds for a damaged or foreign file
        raise ConfigError(f"{opt}: not a readable .npz file ({type(exc).__name__}); give the weights.npz of a run") from None
    flat = []
    for l, (a, b) in enumerate(run.chip.spec.shapes):
        w = arrays.get(f"layer{l}")
        if w is None:
            raise ConfigError(f"{opt}: no array 'layer{l}'; the chip has {len(run.chip.spec.shapes)} weight layers")
        if w.shape != (a, b):
            raise ConfigError(f"{opt}: layer{l} has shape {w.shape}, the chip's layer {l} is {(a, b)} (inputs + bias, "
                              "outputs); use weights of the same network")
        if w.dtype.kind not in "fiu" or not np.all(np.isfinite(w)):
            raise ConfigError(f"{opt}: layer{l} holds non-finite or non-numeric values")
        flat.append(w.astype(float).ravel())
    if f"layer{len(run.chip.spec.shapes)}" in arrays:
        raise ConfigError(f"{opt}: has more weight layers than the chip's {len(run.chip.spec.shapes)}")
    return np.concatenate(flat)


def check_vcd(vcd: Path) -> None:
    """Refuse a --vcd path that cannot be written, before the simulation."""
    if str(vcd).strip() == "":
        raise ConfigError("--vcd: the file name is empty; give a file such as step.vcd")
    if vcd.is_dir():
        raise ConfigError(f"--vcd {vcd}: is a folder; give a file name such as {vcd / 'step.vcd'}")
    for anc in vcd.parents:
        if anc.exists():
            if not anc.is_dir():
                raise ConfigError(f"--vcd {vcd}: {anc} is a file, so nothing can be written below it")
            if not os.access(anc, os.W_OK | os.X_OK):
                raise ConfigError(f"--vcd {vcd}: {anc} is not writable; choose another place")
            break


def _guard(run: TrainingRun) -> None:
    """Stop the run at the first non-finite history value, naming the quantity, the epoch and the time."""
    inner = run.controller.on_epoch

    def on_epoch(epoch: int) -> bool:
        stop = inner(epoch) if inner is not None else False
        if run.history and run.history[-1].get("epoch") == epoch + 1:
            for k, v in run.history[-1].items():
                if isinstance(v, (float, np.floating)) and not np.isfinite(v):
                    where = _locate_non_finite(run)
                    raise SimulationError(f"training: {k} became {float(v)!r} at epoch {epoch} (simulated time "
                                          f"{run.sim.now_s:.6g} s{'; first non-finite: ' + where if where else ''}); "
                                          "the run stopped and wrote nothing")
        return bool(stop)

    run.controller.on_epoch = on_epoch


def _locate_non_finite(run: TrainingRun) -> str | None:
    """The first block (and index) holding a non-finite value, for the message of a non-finite result."""
    chip = run.chip
    for l, xb in enumerate(chip.crossbars):
        x = np.asarray(xb.device_array.x)
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:
            return f"xbar{l} device {int(bad[0])} state"
        w = np.asarray(xb.weights())
        bad = np.argwhere(~np.isfinite(w))
        if bad.size:
            return f"xbar{l} weight {tuple(int(i) for i in bad[0])}"
        if not np.isfinite(float(xb.energy_j.total)):
            return f"xbar{l} energy"
    for l, nl in enumerate(chip.neurons):
        if not np.isfinite(float(nl.energy_j)):
            return f"neuron{l} energy"
    for name in ("error", "sh", "writer", "comparator"):
        if not np.isfinite(float(getattr(chip, name).energy_j)):
            return f"{name} energy"
    return None


def _simulate(run: TrainingRun) -> TrainResult:
    """``run.run()`` with the epoch and the simulated time added to a SimulationError that lacks them."""
    try:
        return run.run()
    except SimulationError as exc:
        msg = str(exc)
        if "simulated time" in msg:
            raise
        raise SimulationError(f"{msg} (epoch {run.controller.epoch}, simulated time {run.sim.now_s:.6g} s)") from None
    except (OverflowError, FloatingPointError, ZeroDivisionError) as exc:
        raise SimulationError(f"training: {type(exc).__name__} ({exc}) at epoch {run.controller.epoch} (simulated time "
                              f"{run.sim.now_s:.6g} s); the scenario's values are outside what the chip can "
                              "represent") from None


def baselines(scn: Scenario, run: TrainingRun) -> dict[str, Any]:
    """Plain-numpy ideal WSP and backprop on the same network, data, seeds and epochs (the epochs the
    chip ran: an early stop of the chip stops its baselines at the same epoch)."""
    from ..learning import backprop_train, wsp_train

    out: dict[str, Any] = {}
    tr, ng = scn.training, scn.neuron
    act = ng.activation if ng.activation in ("tanh", "clip", "linear") else "clip"
    epochs = int(run.history[-1]["epoch"]) if run.history else tr.epochs
    common = dict(seed=scn.seed, run_seed=scn.run_seed, epochs=epochs, gain=ng.gain, act=act,
                  init_scale=scn.synapse.w_init, w_max=float(run.chip.crossbars[0].w_max),
                  lr_schedule=(lambda e: tr.lr_decay ** e) if tr.lr_decay != 1.0 else None)
    for name in tr.baselines:
        if name == "ideal_wsp":
            h = wsp_train(run.task, run.sizes, alpha=tr.alpha, c=tr.c, rule=tr.rule,
                          c_schedule=(lambda e: tr.c_decay ** e) if tr.c_decay != 1.0 else None,
                          clip_perturbed=tr.perturbation == "written", **common)
        else:
            from ..learning import PRESETS

            # backprop's own learning rate: the task preset's (found by grid search), else 10 alpha
            bp_alpha = PRESETS[scn.data.task].bp_alpha if scn.data.task in PRESETS else tr.alpha * 10
            h = backprop_train(run.task, run.sizes, alpha=bp_alpha, **common)
        out[name] = {"train_accuracy": float(h.train_accuracy[-1]), "test_accuracy": float(h.test_accuracy[-1]),
                     "train_loss": float(h.train_loss[-1]), "test_loss": float(h.test_loss[-1]),
                     "epochs": int(h.epochs_run)}
    return out


def write_results(out: Path, scn: Scenario, raw: dict[str, Any], res: TrainResult, extra: dict[str, Any] | None = None,
                  vcd: Path | None = None, *, overwrite: bool = False) -> Path:
    """Write a run's folder atomically; returns its path.  Non-finite metrics are refused (SimulationError)."""
    from mssim.probe import write_vcd

    metrics = dict(res.metrics)
    metrics["mssim_version"] = __version__
    if extra:
        metrics.update(extra)
    check_finite(metrics, "metrics")
    check_finite(res.history, "history")
    with ResultsWriter(out, overwrite=overwrite) as w:
        w.write_json("metrics.json", metrics)
        w.write_history(res.history)
        w.write_events(res.events)
        resolved = scn.model_dump(mode="json")
        resolved["mssim_version"] = __version__
        w.write_toml("config.toml", resolved)
        if res.waveforms:  # the recorded step, so that 'mssim plot' can redraw it without a VCD
            np.savez(w.path("step.npz"), **{f"t:{k}": t for k, (t, _) in res.waveforms.items()},
                     **{f"v:{k}": v for k, (_, v) in res.waveforms.items()})
        if res.widths_s is not None:
            np.save(w.path("widths.npy"), res.widths_s)
        if scn.output.plots:
            plots.learning_curve(res.history, w.path("learning_curve.png"), title=scn.name,
                                 baselines=metrics.get("baselines"))
            plots.weight_maps(res.weights, res.conductances, w.path("weights.png"))
            plots.weight_histogram(res.weights, w.path("weight_hist.png"))
            plots.energy_breakdown(metrics["energy_breakdown_j"], w.path("energy.png"))
            if res.widths_s is not None and len(res.widths_s):
                plots.width_histogram(res.widths_s, w.path("widths.png"), metrics.get("t_max_s"))
            if res.waveforms:
                plots.step_waveforms(res.waveforms, w.path("step_waveforms.png"))
        np.savez(w.path("weights.npz"), **{f"layer{l}": x for l, x in enumerate(res.weights)},
                 **{f"layer{l}_G{k + 1}": g for l, gs in enumerate(res.conductances) for k, g in enumerate(gs)})
        if res.probes and (vcd is not None or scn.output.vcd):
            write_vcd(res.probes, w.path("step.vcd"))
    if vcd is not None and res.probes:
        import shutil

        try:
            vcd.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / "step.vcd", vcd)
        except OSError as exc:
            raise ConfigError(f"--vcd {vcd}: cannot be written ({exc.strerror}); the results are complete in {out}, "
                              "step.vcd among them") from None
    return out


def _finish(run: TrainingRun, scn: Scenario, raw: dict[str, Any], folder: OutputFolder, vcd: Path | None,
            n_events_before: int | None = None) -> TrainResult:
    res = _simulate(run)
    if n_events_before is not None and len(res.events) > n_events_before \
            and res.events[n_events_before].get("kind") == "run_start":
        del res.events[n_events_before]  # a resumed run logged its start once already
    extra = {"baselines": baselines(scn, run)} if scn.training.baselines else None
    if extra:
        res.metrics.update(extra)  # printed at the end of the run too
    write_results(folder.out, scn, raw, res, extra, vcd, overwrite=folder.overwrite)
    folder.published = True
    ckpt.checkpoint_path(folder.out).unlink(missing_ok=True)
    return res


def _claim(folder: OutputFolder, *, default_base: Path | None) -> OutputFolder:
    """Take the folder's lock.  For the default ``results/<name>``, a folder another run has just
    claimed is passed over for the next free ``results/<name>-K`` instead of refused."""
    for _ in range(20):
        try:
            return folder.acquire()
        except ConfigError:
            if default_base is None or folder.overwrite:
                raise
        folder = OutputFolder(fresh_default(default_base), overwrite=False, option=folder.option)
        folder.check()
        if ckpt.checkpoint_path(folder.out).exists():
            continue
    return folder.acquire()


def run_scenario(path: str | Path | None = None, *, overrides: Sequence[str] = (), seed: int | None = None,
                 out: str | Path | None = None, vcd: str | Path | None = None, progress: bool | None = None,
                 scenario: Scenario | None = None, raw: dict[str, Any] | None = None, overwrite: bool = False,
                 checkpoint_every: int | None = None, init_weights: str | Path | None = None) -> tuple[Path, TrainResult]:
    """Load, check, train and write one scenario.  Returns (results folder, result).

    Parameters
    ----------
    overwrite : bool
        Replace an existing mssim results folder at ``out`` (never anything else).
    checkpoint_every : int, optional
        Save a checkpoint beside ``out`` after every N-th epoch (see :mod:`.checkpoint`).
    init_weights : path, optional
        A ``weights.npz`` to program into the chip before training (a warm start).
    """
    ov = list(overrides)
    if seed is not None:
        ov.append(f"seed={int(seed)}")
    source = str(path) if path is not None else "<scenario>"
    if scenario is None:
        if path is None:
            raise ConfigError("run_scenario: give a scenario path or a Scenario")
        scenario, raw = load(path, ov)
    elif ov:
        from mssim.scenario import apply_overrides

        raw = apply_overrides(raw or scenario.model_dump(mode="json"), ov)
        scenario = validate_scenario(raw, source)
    raw = raw if raw is not None else scenario.model_dump(mode="json")
    out_dir, option = resolve_out(scenario, out, overwrite)
    folder = OutputFolder(out_dir, overwrite=overwrite, option=option)
    folder.check()
    vcd_path = Path(vcd) if vcd is not None else None
    if vcd_path is not None:
        check_vcd(vcd_path)
    ck_path = ckpt.checkpoint_path(out_dir)
    if init_weights is not None and scenario.program.method == "verify":
        raise ConfigError(f"--init-weights: sets the weights directly, but {source} writes them with program.method = "
                          "'verify'; drop one of the two")
    if checkpoint_every is not None:
        if int(checkpoint_every) < 1:
            raise ConfigError(f"--checkpoint-every: must be a positive number of epochs (got {checkpoint_every})")
        why = ckpt.unsupported(scenario)
        if why:
            raise ConfigError(f"--checkpoint-every: {source}: {why}; run it without checkpoints")
    if ck_path.exists():
        raise ConfigError(f"{option} {out_dir}: an unfinished run left its checkpoint {ck_path}; continue it with "
                          f"'mssim resume {out_dir}', or remove that file to start again")
    if progress is None:
        progress = scenario.output.progress and sys.stderr.isatty()
    record = scenario.output.vcd_pattern if (vcd is not None or scenario.output.vcd or scenario.output.plots) else None
    run = build_run(scenario, source, record_pattern=record, progress=progress)
    folder = _claim(folder, default_base=Path("results") / scenario.name if out is None and not scenario.output.dir
                    else None)
    out_dir = folder.out
    try:
        if init_weights is not None:
            run.chip.set_weights_flat(load_init_weights(init_weights, run))
            run.initial_weights = run.chip.weights_flat()
        _guard(run)
        if checkpoint_every is not None:
            meta = {"raw": raw, "source": source, "record": record, "overwrite": bool(overwrite), "out": str(out_dir),
                    "vcd": str(vcd_path.resolve()) if vcd_path is not None else None,
                    "checkpoint_every": int(checkpoint_every)}
            ckpt.Checkpointer(run, ckpt.checkpoint_path(out_dir), int(checkpoint_every), meta)
        res = _finish(run, scenario, raw, folder, vcd_path)
    finally:
        folder.release()
    return out_dir, res


def resume_run(out: str | Path, *, progress: bool | None = None) -> tuple[Path, TrainResult]:
    """Continue the run whose results folder is ``out`` from its checkpoint (``mssim resume``)."""
    if str(out).strip() == "":
        raise ConfigError("resume: the folder name is empty; give the --out of the run to continue")
    out_dir = Path(out)
    payload = ckpt.load(out_dir)
    if not payload["overwrite"] and is_results_folder(out_dir):
        raise ConfigError(f"resume {out_dir}: the run has finished (its results are there); its checkpoint "
                          f"{ckpt.checkpoint_path(out_dir)} is left over, remove it")
    source = payload["source"]
    raw = payload["raw"]
    scn = validate_scenario(raw, source)
    folder = OutputFolder(out_dir, overwrite=payload["overwrite"], option="resume")
    folder.check()
    vcd_path = Path(payload["vcd"]) if payload["vcd"] else None
    if progress is None:
        progress = scn.output.progress and sys.stderr.isatty()
    run = build_run(scn, source, record_pattern=payload["record"], progress=progress)
    with folder.acquire():
        ckpt.restore_run(run, payload)
        _guard(run)
        ckpt.Checkpointer(run, ckpt.checkpoint_path(out_dir), payload["checkpoint_every"], {
            k: payload[k] for k in ("raw", "source", "record", "overwrite", "out", "vcd", "checkpoint_every")},
            wall_before=float(payload.get("wall_s", 0.0)))
        res = _finish(run, scn, raw, folder, vcd_path, n_events_before=len(payload["events"]))
    return out_dir, res
