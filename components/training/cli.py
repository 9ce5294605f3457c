"""``mssim run``, ``mssim resume`` and ``mssim validate``: plugged into the CLI through entry points."""

from __future__ import annotations

import json
from pathlib import Path


def _summary(out, res) -> None:
    m = res.metrics
    rtf = m.get("real_time_factor")
    print(f"{m['name']}: {m['task']} {'-'.join(map(str, m['sizes']))}, {m['epochs']} epochs, "
          f"train {100 * m['train_accuracy']:.1f} %, test {100 * m['test_accuracy']:.1f} %, "
          f"loss {m['train_loss']:.4g}, simulated {m['sim_time_s'] * 1e3:.3f} ms in {m['wall_time_s']:.1f} s wall"
          + (f" (real-time factor {rtf:.3g})" if rtf else "")
          + f", {m['energy_j'] * 1e6:.3f} uJ, {m['write_pulses']} write pulses")
    if "baselines" in m:
        for k, v in m["baselines"].items():
            print(f"  baseline {k} ({v.get('epochs', m['epochs'])} epochs): train {100 * v['train_accuracy']:.1f} %, "
                  f"test {100 * v['test_accuracy']:.1f} %")
    for msg in m.get("warning_summary", []):  # one line per kind; every epoch's is in events.jsonl
        print(f"  warning: {msg}")
    print(f"results: {out}")


def _run(args) -> int:
    from .runner import run_scenario

    out, res = run_scenario(args.scenario, overrides=args.set or [], seed=args.seed, out=args.out,
                            vcd=Path(args.vcd) if args.vcd is not None else None,
                            progress=None if not args.no_progress else False, overwrite=args.overwrite,
                            checkpoint_every=args.checkpoint_every, init_weights=args.init_weights)
    _summary(out, res)
    return 0


def register_run(subparsers) -> None:
    """Add ``mssim run`` (and ``mssim resume``, if its entry point has not added it)."""
    p = subparsers.add_parser("run", help="train a chip as a scenario file describes and write a results folder",
                              description="Run a training scenario (TOML) and write metrics.json, history.csv, "
                              "events.jsonl, config.toml and plots to a results folder.  An existing non-empty "
                              "folder is never replaced, except an mssim results folder with --overwrite.")
    p.add_argument("scenario", help="scenario file, e.g. scenarios/iris.toml")
    p.add_argument("--seed", type=int, help="root seed (overrides the file's seed)")
    p.add_argument("--out", help="results folder (default: output.dir, else results/<name>, or results/<name>-2, -3, "
                   "... if that is taken)")
    p.add_argument("--overwrite", action="store_true", help="replace the mssim results folder at --out")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a dotted key, e.g. training.epochs=20 (repeatable)")
    p.add_argument("--vcd", help="also write the waveforms of one training step (output.vcd_pattern) to this VCD file")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="keep a checkpoint OUT.checkpoint beside the results "
                   "folder, rewritten every N epochs; 'mssim resume OUT' continues a killed run from it")
    p.add_argument("--init-weights", metavar="FILE.npz", help="start from the weights of an earlier run's weights.npz "
                   "(a warm start)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
    register_resume(subparsers)


def _resume(args) -> int:
    from .runner import resume_run

    out, res = resume_run(args.dir, progress=None if not args.no_progress else False)
    _summary(out, res)
    return 0


def register_resume(subparsers) -> None:
    """Add ``mssim resume``."""
    if "resume" in subparsers.choices:
        return
    p = subparsers.add_parser("resume", help="continue a killed 'mssim run --checkpoint-every N' from its checkpoint",
                              description="Continue the run whose results folder is DIR (its --out) from the "
                              "checkpoint DIR.checkpoint; the finished folder is identical to an uninterrupted run's.")
    p.add_argument("dir", metavar="DIR", help="the --out of the run to continue")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_resume)


def validate_file(path: str, overrides: list[str]) -> tuple[object, int]:
    """Everything ``mssim run`` (or ``mssim sweep``) checks before its first event, for every sweep point.

    Returns (scenario, number of chips built)."""
    from .config import load
    from .runner import build_run
    from .sweep import Sweep

    scn, raw = load(path, overrides)
    if not scn.sweep.params and scn.sweep.seeds is None and scn.sweep.repeats == 1:
        build_run(scn, str(path))
        return scn, 1
    sw = Sweep(scn, raw, str(path), Path("."))  # expands and validates every point (nothing is written)
    return scn, sw.build_all()


def _validate(args) -> int:
    scn, n = validate_file(args.scenario, args.set or [])
    chips = f"; {n} chips built" if n > 1 else ""
    print(f"{args.scenario}: ok ({scn.name}: {scn.data.task}, hidden {scn.network.hidden}, {scn.device.model} devices, "
          f"{scn.training.algorithm}/{scn.training.rule}, {scn.training.epochs} epochs{chips})")
    if args.show:
        print(json.dumps(scn.model_dump(mode="json"), indent=2))
    return 0


def register_validate(subparsers) -> None:
    """Add ``mssim validate``."""
    p = subparsers.add_parser("validate", help="check a scenario file without running it: everything 'run' checks "
                              "before its first event (the chip is built and calibrated)")
    p.add_argument("scenario")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a dotted key (repeatable)")
    p.add_argument("--show", action="store_true", help="print the resolved scenario")
    p.set_defaults(func=_validate)
