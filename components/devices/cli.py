"""``mssim device``: characterise one memristor from the command line.

    mssim device MODEL [--preset NAME] [--set PARAM=VALUE ...]
                 [--initial-resistance OHMS | --initial-state X]
                 (--pulse AMPLITUDE WIDTH COUNT [--pulse ...] | --sine AMPLITUDE FREQUENCY CYCLES)
                 [--rise S] [--fall S] [--gap S] [--csv PATH] [--plot PATH] [--n N] [--seed S]
    mssim device table --data FILE [same options; --pulse/--sine optional]

The table model (measured pulse trains, :mod:`components.devices.table`) prints what it took from
the data (range, thresholds, scatter); without ``--pulse``/``--sine`` it replays the measured
protocol (the SET train from the data's mean start, then the RESET train) and prints the rms
deviation of the simulated conductance from the data's mean curve.

A pulse train writes one CSV row per pulse (row 0 = initial state) with
``pulse, t_end_s, state, resistance_ohm`` (state in the model's own units,
sampled at the end of each pulse's fall edge); a sinusoid writes
``t_s, v_V, i_A, resistance_ohm`` at 400 points per cycle.  With ``--n N`` (N > 1)
N devices with the preset's spread (``*_d2d``, ``dx_c2c``, read noise) are
characterised together, drawn from ``--seed``: the columns are those of device 0
plus the 5th, 50th and 95th percentile of the resistance (or current) over the N
devices, and the plot shows the band.  One summary line is always printed
(on stderr when the CSV goes to stdout).  Bad input raises ``ConfigError``
(the main CLI prints one line and exits 2).
"""

from __future__ import annotations

import csv
import math
import os
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from mssim.errors import ConfigError
from mssim.units import parse_quantity

from .array import DeviceArray
from .params import MODELS, preset

POINTS_PER_CYCLE = 400
#: At most this many rows (pulses, or sine samples): beyond it the table would not fit in memory.
MAX_ROWS = 10_000_000
_STRING_FIELDS = {"iv", "window", "endurance_stuck"}


def register(subparsers) -> None:
    """Add the ``device`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("device", help="characterise one memristor (pulse train or sinusoid)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=sorted(MODELS), help="device model")
    p.add_argument("--preset", help="parameter preset (default: the model's standard set)")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                   help="override a parameter (repeatable); SI values or unit strings such as 16k, 1us")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--initial-resistance", metavar="OHMS", help="initial resistance")
    g.add_argument("--initial-state", metavar="X", help="initial state in the model's units")
    p.add_argument("--data", metavar="FILE", help="table model: CSV of measured SET/RESET pulse trains (format in "
                   "docs/devices.md); without --pulse/--sine the measured trains are replayed and compared")
    d = p.add_mutually_exclusive_group()
    d.add_argument("--pulse", nargs=3, action="append", metavar=("AMPLITUDE", "WIDTH", "COUNT"),
                   help="COUNT trapezoid pulses of AMPLITUDE volts and flat WIDTH (repeatable)")
    d.add_argument("--sine", nargs=3, metavar=("AMPLITUDE", "FREQUENCY", "CYCLES"), help="sinusoidal drive")
    p.add_argument("--rise", default="0", help="pulse rise time (s, default 0)")
    p.add_argument("--fall", default="0", help="pulse fall time (s, default 0)")
    p.add_argument("--gap", help="0 V gap after each pulse (s, default = the pulse width)")
    p.add_argument("--csv", metavar="PATH", help="write results as CSV ('-' for stdout)")
    p.add_argument("--plot", metavar="PATH", help="write a PNG plot")
    p.add_argument("--n", type=int, default=1, help="characterise N devices with the preset's spread (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the spread and noise draws (default 0)")
    p.set_defaults(func=run_device)


def _params(args):
    if args.data is not None and args.model != "table":
        raise ConfigError(f"--data: only the table model reads data (got model {args.model!r}); use 'mssim device table "
                          "--data FILE'")
    if args.model == "table":
        if args.data is None and not any(s.split("=", 1)[0].strip() == "data" for s in args.set):
            raise ConfigError("--data: the table model needs its CSV of pulse trains; use 'mssim device table --data "
                              "FILE' (the shipped example: --data example_table.csv)")
        base = preset("table", args.preset, **({"data": args.data} if args.data is not None else
                                               {"data": _set_value(args.set, "data")}))
    else:
        base = preset(args.model, args.preset)
    known = {f.name: f for f in fields(base)}
    changes = {}
    for item in args.set:
        if "=" not in item:
            raise ConfigError(f"--set: expected PARAM=VALUE (got {item!r})")
        name, value = (s.strip() for s in item.split("=", 1))
        if name not in known:
            raise ConfigError(f"{type(base).__name__}.{name}: unknown parameter; known: {', '.join(sorted(known))}")
        if name in _STRING_FIELDS or name == "data":
            changes[name] = value
        else:
            changes[name] = parse_quantity(value, name=f"{type(base).__name__}.{name}")
    return base.with_values(**changes) if changes else base


def _set_value(items, key):
    for item in items:
        name, _, value = item.partition("=")
        if name.strip() == key:
            return value.strip()
    return None


def _replay(params) -> list[tuple[str, str, str]]:
    """The measured protocol of a table device as --pulse triples: the SET train (negative amplitude on the
    + terminal), then the RESET train."""
    t = params.table
    return [(repr(-t.set_amplitude), repr(t.set_width), str(t.set_curves.shape[1] - 1)),
            (repr(t.reset_amplitude), repr(t.reset_width), str(t.reset_curves.shape[1] - 1))]


def _positive_time(text, name, allow_zero=False):
    v = parse_quantity(text, "s", name=name)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"{name}: must be {'non-negative' if allow_zero else 'positive'} (got {text!r})")
    return v


def _check_output(path: str | None, option: str, *, plot: bool = False) -> None:
    """Refuse an output path that cannot be written, before anything is computed."""
    if path is None or path == "-" and not plot:
        return
    p = Path(path)
    if not path.strip():
        raise ConfigError(f"{option}: the file name is empty")
    if p.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; give a file name")
    for anc in p.parents:
        if anc.exists():
            if not anc.is_dir():
                raise ConfigError(f"{option} {path}: {anc} is a file, so nothing can be written below it")
            if not os.access(anc, os.W_OK | os.X_OK):
                raise ConfigError(f"{option} {path}: {anc} is not writable")
            break
    else:  # pragma: no cover - the root always exists
        pass
    if not p.parent.exists():
        raise ConfigError(f"{option} {path}: the folder {p.parent} does not exist; create it first")
    if plot:
        fmt = p.suffix.lower().lstrip(".")
        if fmt not in PLOT_FORMATS:
            raise ConfigError(f"{option} {path}: unknown picture format {p.suffix or '(none)'!r}; end the name with "
                              f"one of {', '.join('.' + f for f in PLOT_FORMATS)}")


PLOT_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def run_device(args) -> int:
    """Run the ``device`` subcommand; returns the exit status."""
    _check_output(args.csv, "--csv")
    _check_output(args.plot, "--plot", plot=True)
    params = _params(args)
    replay = False
    if not args.pulse and not args.sine:
        if args.model != "table":
            raise ConfigError("give --pulse AMPLITUDE WIDTH COUNT or --sine AMPLITUDE FREQUENCY CYCLES")
        args.pulse = _replay(params)
        replay = True
    kw = {}
    if replay and args.initial_resistance is None and args.initial_state is None:
        kw["x0"] = float(params.table.set_mean[0])  # where the measured SET trains start (on average)
    if args.initial_resistance is not None:
        kw["r0"] = parse_quantity(args.initial_resistance, "ohm", name="--initial-resistance")
    elif args.initial_state is not None:
        kw["x0"] = parse_quantity(args.initial_state, name="--initial-state")
    n_dev = int(args.n)
    if not 1 <= n_dev <= 1_000_000:
        raise ConfigError(f"--n: must be between 1 and 1000000 devices (got {args.n})")
    from mssim.rng import SeedTree

    tree = SeedTree(int(args.seed))
    arr = DeviceArray(params, n_dev, build_rng=tree.build_stream("device", "d2d"),
                      run_rng=tree.run_stream("device", "c2c"), **kw)
    many = n_dev > 1

    def spread(values) -> list[float]:
        v = np.asarray(values, dtype=float)
        return [float(x) for x in np.percentile(v, (5, 50, 95))] if many else []

    rise = _positive_time(args.rise, "--rise", allow_zero=True)
    fall = _positive_time(args.fall, "--fall", allow_zero=True)
    if args.pulse:
        header = ["pulse", "t_end_s", "state", "resistance_ohm"]
        if many:
            header += ["resistance_p5_ohm", "resistance_median_ohm", "resistance_p95_ohm"]
        r_all = arr.resistance()
        rows = [[0, 0.0, float(arr.x[0]), float(r_all[0])] + spread(r_all)]
        t = 0.0
        k = 0
        for amp_s, width_s, count_s in args.pulse:
            amp = parse_quantity(amp_s, "V", name="--pulse AMPLITUDE")
            width = _positive_time(width_s, "--pulse WIDTH")
            try:
                count = int(count_s)
            except ValueError:
                raise ConfigError(f"--pulse COUNT: must be a positive integer (got {count_s!r})") from None
            if count < 1:
                raise ConfigError(f"--pulse COUNT: must be a positive integer (got {count_s!r})")
            if k + count > MAX_ROWS:
                raise ConfigError(f"--pulse COUNT: at most {MAX_ROWS:,} pulses in all (got {k + count:,}); use fewer")
            gap = width if args.gap is None else _positive_time(args.gap, "--gap", allow_zero=True)
            for _ in range(count):
                arr.apply_voltage(0.0, amp, rise)
                arr.apply_voltage(amp, amp, width)
                arr.apply_voltage(amp, 0.0, fall)
                t += rise + width + fall
                k += 1
                r_all = arr.resistance()
                rows.append([k, t, float(arr.x[0]), float(r_all[0])] + spread(r_all))
                arr.apply_voltage(0.0, 0.0, gap)
                t += gap
    else:
        amp = parse_quantity(args.sine[0], "V", name="--sine AMPLITUDE")
        freq = parse_quantity(args.sine[1], "Hz", name="--sine FREQUENCY")
        cycles = parse_quantity(args.sine[2], name="--sine CYCLES")
        if not (math.isfinite(freq) and freq > 0):
            raise ConfigError(f"--sine FREQUENCY: must be positive (got {args.sine[1]!r})")
        if not (math.isfinite(cycles) and cycles > 0):
            raise ConfigError(f"--sine CYCLES: must be positive (got {args.sine[2]!r})")
        if cycles * POINTS_PER_CYCLE * n_dev > MAX_ROWS:
            raise ConfigError(f"--sine CYCLES: at most {MAX_ROWS // POINTS_PER_CYCLE:,} device-cycles "
                              f"({POINTS_PER_CYCLE} samples each; got {args.sine[2]!r} x {n_dev}); use fewer")
        if not math.isfinite(amp):
            raise ConfigError(f"--sine AMPLITUDE: must be a finite voltage (got {args.sine[0]!r})")
        n = max(2, int(round(cycles * POINTS_PER_CYCLE)))
        ts = np.linspace(0.0, cycles / freq, n + 1)
        vs = amp * np.sin(2 * np.pi * freq * ts)
        header = ["t_s", "v_V", "i_A", "resistance_ohm"]
        if many:
            header += ["i_p5_A", "i_median_A", "i_p95_A"]
        r_all = arr.resistance()
        rows = [[0.0, 0.0, 0.0, float(r_all[0])] + ([0.0, 0.0, 0.0] if many else [])]
        for j in range(1, n + 1):
            arr.apply_voltage(vs[j - 1], vs[j], ts[j] - ts[j - 1])
            i_all = arr.current(vs[j])
            rows.append([float(ts[j]), float(vs[j]), float(i_all[0]), float(arr.resistance()[0])] + spread(i_all))
    if args.csv:
        fh = sys.stdout if args.csv == "-" else open(args.csv, "w", newline="")
        try:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        finally:
            if fh is not sys.stdout:
                fh.close()
    if args.plot:
        _plot(args, header, np.array(rows, float))
    r_end = arr.resistance()
    line = (f"{args.model}: final resistance {r_end[0]:.6g} ohm after {len(rows) - 1} "
            f"{'pulses' if args.pulse else 'samples'}")
    if args.model == "table":
        sm = params.summary()
        line = (f"table ({sm['data']}): G {sm['g_min_S']:.4g}..{sm['g_max_S']:.4g} S (R {sm['r_on_ohm']:.4g}.."
                f"{sm['r_off_ohm']:.4g} ohm); SET {sm['set_pulses']} pulses x {sm['set_cycles']} cycles at "
                f"{sm['set_amplitude_V']:g} V / {sm['set_width_s']:g} s, threshold {sm['v_th_set_V']:g} V, "
                f"c2c {100 * sm['c2c_set']:.1f} %; RESET {sm['reset_pulses']} x {sm['reset_cycles']} at "
                f"{sm['reset_amplitude_V']:g} V / {sm['reset_width_s']:g} s, threshold {sm['v_th_reset_V']:g} V, "
                f"c2c {100 * sm['c2c_reset']:.1f} %\n") + line
        if replay:
            data = np.concatenate([params.table.set_mean, params.table.reset_mean[1:]])
            col = 5 if many else 3
            g_model = 1.0 / np.array([r[col] for r in rows], float)
            dev = float(np.sqrt(np.mean((g_model / data - 1.0) ** 2)))
            line += (f"; replayed the measured trains: rms deviation of the {'median' if many else 'device-0'} "
                     f"conductance from the data's mean curve {100 * dev:.2f} %")
    if many:
        p5, p50, p95 = np.percentile(r_end, (5, 50, 95))
        line += f"; {n_dev} devices: median {p50:.6g} ohm, 5-95 % {p5:.6g}..{p95:.6g} ohm"
    written = [x for x in (args.csv if args.csv != "-" else None, args.plot) if x]
    if written:
        line += f"; wrote {', '.join(written)}"
    print(line, file=sys.stderr if args.csv == "-" else sys.stdout)
    return 0


def _plot(args, header, data) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    many = data.shape[1] > 4
    if header[0] == "pulse":
        if many:
            ax.fill_between(data[:, 0], data[:, 4], data[:, 6], alpha=0.3, label="5-95 % of the devices")
            ax.plot(data[:, 0], data[:, 5], "-", lw=1, label="median")
        ax.plot(data[:, 0], data[:, 3], "o-", ms=3, label="device 0")
        ax.set_xlabel("pulse")
        ax.set_ylabel("resistance (ohm)")
    else:
        if many:
            ax.plot(data[:, 1], data[:, 4] * 1e3, lw=0.5, color="0.6", label="5 % of the devices")
            ax.plot(data[:, 1], data[:, 6] * 1e3, lw=0.5, color="0.3", label="95 % of the devices")
        ax.plot(data[:, 1], data[:, 2] * 1e3, label="device 0")
        ax.set_xlabel("voltage (V)")
        ax.set_ylabel("current (mA)")
    if many:
        ax.legend(fontsize=8)
    ax.set_title(f"mssim device {args.model}")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    plt.close(fig)
