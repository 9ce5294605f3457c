"""Run a scenario end to end and write its results folder.

``run_scenario`` is what ``mssim run`` calls, and what sweeps call per point:
load (with ``base`` and ``--set`` overrides), validate, train, optionally run
the plain-numpy baselines, then write everything atomically (see
:mod:`components.training.results`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mssim import __version__
from mssim.errors import ConfigError

from . import plots
from .config import Scenario, load, validate_scenario
from .results import ResultsWriter
from .trainer import TrainResult, TrainingRun


def default_out(scn: Scenario, source: str | Path | None) -> Path:
    """``output.dir`` if set, else ``results/<scenario name>``."""
    if scn.output.dir:
        return Path(scn.output.dir)
    return Path("results") / scn.name


def baselines(scn: Scenario, run: TrainingRun) -> dict[str, Any]:
    """Plain-numpy ideal WSP and backprop on the same network, data, seeds and epochs."""
    from ..learning import backprop_train, wsp_train

    out: dict[str, Any] = {}
    tr, ng = scn.training, scn.neuron
    act = ng.activation if ng.activation in ("tanh", "clip", "linear") else "clip"
    common = dict(seed=scn.seed, run_seed=scn.run_seed, epochs=tr.epochs, gain=ng.gain, act=act,
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
                  vcd: Path | None = None) -> Path:
    """Write a run's folder atomically; returns its path."""
    from mssim.probe import write_vcd

    with ResultsWriter(out) as w:
        metrics = dict(res.metrics)
        metrics["mssim_version"] = __version__
        if extra:
            metrics.update(extra)
        w.write_json("metrics.json", metrics)
        w.write_history(res.history)
        w.write_events(res.events)
        resolved = scn.model_dump(mode="json")
        resolved["mssim_version"] = __version__
        w.write_toml("config.toml", resolved)
        if scn.output.plots:
            plots.learning_curve(res.history, w.path("learning_curve.png"), title=scn.name)
            plots.weight_maps(res.weights, res.conductances, w.path("weights.png"))
            plots.weight_histogram(res.weights, w.path("weight_hist.png"))
            if res.waveforms:
                plots.step_waveforms(res.waveforms, w.path("step_waveforms.png"))
        np.savez(w.path("weights.npz"), **{f"layer{l}": x for l, x in enumerate(res.weights)},
                 **{f"layer{l}_G{k + 1}": g for l, gs in enumerate(res.conductances) for k, g in enumerate(gs)})
        if res.probes and (vcd is not None or scn.output.vcd):
            write_vcd(res.probes, w.path("step.vcd"))
    if vcd is not None and res.probes:
        import shutil

        vcd.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "step.vcd", vcd)
    return out


def run_scenario(path: str | Path | None = None, *, overrides: Sequence[str] = (), seed: int | None = None,
                 out: str | Path | None = None, vcd: str | Path | None = None, progress: bool | None = None,
                 scenario: Scenario | None = None, raw: dict[str, Any] | None = None) -> tuple[Path, TrainResult]:
    """Load, train and write one scenario.  Returns (results folder, result)."""
    ov = list(overrides)
    if seed is not None:
        ov.append(f"seed={int(seed)}")
    if scenario is None:
        if path is None:
            raise ConfigError("run_scenario: give a scenario path or a Scenario")
        scenario, raw = load(path, ov)
    elif ov:
        from mssim.scenario import apply_overrides

        raw = apply_overrides(raw or scenario.model_dump(mode="json"), ov)
        scenario = validate_scenario(raw, str(path or "<scenario>"))
    out_dir = Path(out) if out is not None else default_out(scenario, path)
    if progress is None:
        progress = scenario.output.progress and sys.stderr.isatty()
    record = scenario.output.vcd_pattern if (vcd is not None or scenario.output.vcd or scenario.output.plots) else None
    run = TrainingRun(scenario, record_pattern=record, progress=progress)
    res = run.run()
    extra = {"baselines": baselines(scenario, run)} if scenario.training.baselines else None
    write_results(out_dir, scenario, raw or {}, res, extra, Path(vcd) if vcd is not None else None)
    return out_dir, res
