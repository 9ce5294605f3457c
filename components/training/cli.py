"""``mssim run`` and ``mssim validate``: plugged into the CLI through entry points."""

from __future__ import annotations

import json
from pathlib import Path


def _run(args) -> int:
    from .runner import run_scenario

    out, res = run_scenario(args.scenario, overrides=args.set or [], seed=args.seed, out=args.out,
                            vcd=Path(args.vcd) if args.vcd else None, progress=None if not args.no_progress else False)
    m = res.metrics
    print(f"{m['name']}: {m['task']} {'-'.join(map(str, m['sizes']))}, {m['epochs']} epochs, "
          f"train {100 * m['train_accuracy']:.1f} %, test {100 * m['test_accuracy']:.1f} %, "
          f"loss {m['train_loss']:.4g}, simulated {m['sim_time_s'] * 1e3:.3f} ms in {m['wall_time_s']:.1f} s wall, "
          f"{m['energy_j'] * 1e6:.3f} uJ, {m['write_pulses']} write pulses")
    if "baselines" in m:
        for k, v in m["baselines"].items():
            print(f"  baseline {k}: train {100 * v['train_accuracy']:.1f} %, test {100 * v['test_accuracy']:.1f} %")
    print(f"results: {out}")
    return 0


def register_run(subparsers) -> None:
    """Add ``mssim run``."""
    p = subparsers.add_parser("run", help="train a chip as a scenario file describes and write a results folder",
                              description="Run a training scenario (TOML) and write metrics.json, history.csv, "
                              "events.jsonl, config.toml and plots to a results folder.")
    p.add_argument("scenario", help="scenario file, e.g. scenarios/iris.toml")
    p.add_argument("--seed", type=int, help="root seed (overrides the file's seed)")
    p.add_argument("--out", help="results folder (default: output.dir, else results/<name>)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a dotted key, e.g. training.epochs=20 (repeatable)")
    p.add_argument("--vcd", help="also write the waveforms of one training step (output.vcd_pattern) to this VCD file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _validate(args) -> int:
    from .config import load

    scn, _ = load(args.scenario, args.set or [])
    print(f"{args.scenario}: ok ({scn.name}: {scn.data.task}, hidden {scn.network.hidden}, {scn.device.model} devices, "
          f"{scn.training.algorithm}/{scn.training.rule}, {scn.training.epochs} epochs)")
    if args.show:
        print(json.dumps(scn.model_dump(mode="json"), indent=2))
    return 0


def register_validate(subparsers) -> None:
    """Add ``mssim validate``."""
    p = subparsers.add_parser("validate", help="check a scenario file without running it")
    p.add_argument("scenario")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a dotted key (repeatable)")
    p.add_argument("--show", action="store_true", help="print the resolved scenario")
    p.set_defaults(func=_validate)
