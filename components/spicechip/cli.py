"""``mssim spice``: export the chip a scenario builds, with one training step, as an ngspice netlist.

    mssim spice SCENARIO --out DIR [--set key=value ...] [--weights FILE.npz] [--pattern K] [--check]

Writes ``DIR/chip.cir`` (runs as it is with ``ngspice -b chip.cir``) and
``DIR/step.json`` (mssim's numbers for the step).  ``--check`` also runs
ngspice and writes ``DIR/compare.csv`` (quantity, mssim, ngspice, rel_err),
prints the worst disagreement and exits 0; if ngspice is missing or fails it
says so in one line and exits 2.  ``--out`` never overwrites a user's files: an
existing non-empty folder is refused unless this command wrote it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from mssim.errors import ConfigError

MARKER = ".mssim-spice"
OWN_FILES = ("chip.cir", "step.json", "compare.csv", "ngspice.log", MARKER)


def prepare_out(out: str | Path) -> Path:
    """The output folder, created if needed; refuses a non-empty folder this command did not write."""
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise ConfigError(f"--out: {d} is a file; give a folder (new, empty, or one 'mssim spice' wrote)")
    if d.is_dir():
        entries = {p.name for p in d.iterdir()}
        if entries and MARKER not in entries:
            raise ConfigError(f"--out: {d} is not empty and was not written by 'mssim spice'; "
                              "choose a new or empty folder")
        # in a folder this command wrote, only OWN_FILES are rewritten; anything else stays
    d.mkdir(parents=True, exist_ok=True)
    (d / MARKER).write_text("written by 'mssim spice'; its files here (chip.cir, step.json, compare.csv, "
                            "ngspice.log) are rewritten by the next run\n")
    return d


def step_summary(trace) -> dict:
    """mssim's numbers for the step, JSON-ready."""
    return {
        "pattern": trace.pattern, "epoch": trace.epoch, "t_start_s": trace.t_abs, "t_j0_s": trace.t_j0,
        "t_j1_s": trace.t_j1, "t_end_s": trace.t_end, "j0_V": trace.j0, "j1_V": trace.j1, "j_offset_V": trace.j_offset,
        "direction": trace.direction, "update_width_s": trace.update_width_s,
        "pulses": [{"kind": p.kind, "t_on_s": p.t_on, "t_off_s": p.t_off, "amplitude_V": float(max(p.volts, key=abs))}
                   for p in trace.pulses],
        "outputs_at_j0_V": [o.tolist() for o in trace.o_j0], "outputs_at_j1_V": [o.tolist() for o in trace.o_j1],
        "mssim_step_wall_s": trace.wall_s,
    }


def _spice(args) -> int:
    from ..training.config import load
    from .check import compare, run_ngspice
    from .netlist import chip_netlist
    from .trace import mssim_step_trace

    if args.pattern < 0:
        raise ConfigError(f"--pattern: must be a training pattern index >= 0 (got {args.pattern})")
    if args.weights and not Path(args.weights).is_file():
        raise ConfigError(f"--weights: no such file {args.weights!r}; give the weights.npz of a 'mssim run' folder")
    scn, _ = load(args.scenario, args.set or [])
    out = prepare_out(args.out)
    trace, run = mssim_step_trace(scn, args.pattern, weights=args.weights)
    text, info = chip_netlist(run.chip, trace, title=f"mssim chip {scn.name}")
    (out / "chip.cir").write_text(text)
    (out / "step.json").write_text(json.dumps(step_summary(trace), indent=2) + "\n")
    n_dev = sum(sn.size for sn in info.state_nodes)
    sizes = "-".join(map(str, run.sizes))
    print(f"{scn.name}: {sizes} chip, {n_dev} devices, pattern {trace.pattern} (epoch {trace.epoch}): "
          f"wrote {out / 'chip.cir'} ({trace.t_end * 1e6:.3f} us of one training step)")
    if not args.check:
        return 0
    with tempfile.TemporaryDirectory(prefix="mssim_spice_") as tmp:
        vecs, wall, log = run_ngspice(out / "chip.cir", Path(tmp) / "chip.raw")
    (out / "ngspice.log").write_text(log)
    cmp_ = compare(run.chip, trace, info, vecs, wall)
    cmp_.write_csv(out / "compare.csv")
    q, a, b, e = cmp_.worst
    print(f"ngspice {wall:.2f} s, mssim {trace.wall_s:.3f} s for the step; {len(cmp_.rows)} quantities in "
          f"{out / 'compare.csv'}")
    print(f"worst disagreement: {q}: mssim {a:.9g}, ngspice {b:.9g}, rel_err {e:.3g}")
    x = cmp_.extra
    print(f"J1 - J0 (+ offset): mssim {x['dJ_mssim']:.6g} V, ngspice {x['dJ_ngspice']:.6g} V")
    return 0


def register(subparsers) -> None:
    """Add ``mssim spice``."""
    p = subparsers.add_parser("spice", help="export the chip and one training step as an ngspice netlist "
                              "(and cross-check it)", description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", help="scenario file, e.g. scenarios/xor.toml")
    p.add_argument("--out", required=True, help="folder for chip.cir, step.json (and compare.csv with --check)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a dotted key (repeatable)")
    p.add_argument("--weights", help="weights.npz of a 'mssim run' folder, programmed into the chip first")
    p.add_argument("--pattern", type=int, default=0, metavar="K",
                   help="training pattern whose step is exported, counted from the start of the run (default 0)")
    p.add_argument("--check", action="store_true", help="run ngspice and write compare.csv")
    p.set_defaults(func=_spice)
