"""``mssim plot DIR``: redraw pictures from saved results, and the sweep plots.

* A run folder (``metrics.json``, ``history.csv``, ``weights.npz``, ``widths.npy``, and the
  recorded step ``step.npz`` or ``step.vcd``) gets ``learning_curve.png``, ``weights.png``,
  ``weight_hist.png``, ``energy.png``, ``widths.png`` and ``step_waveforms.png``.
* A sweep folder (``sweep.csv``) gets one picture per metric against the swept
  keys: a line plot (mean over seeds, with the seeds' spread) for one key, or a
  heatmap for two (further keys are averaged over).  Metrics drawn: the
  sweep's ``metric`` (default ``test_accuracy``), ``time_to_accuracy_s`` and
  ``energy_j``.

Nothing is rerun; every picture comes from the files on disk.
"""

from __future__ import annotations

import csv
import json
import sys
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from mssim.errors import ConfigError

from . import plots


def _plt():
    return plots._plt()


def _save(fig, path: Path) -> Path:
    """Save atomically (temporary file in the same folder, then rename)."""
    from .results import temp_file_prefix

    fd, tmp = tempfile.mkstemp(prefix=temp_file_prefix(path), suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------- sweep folders
def read_sweep_csv(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """(swept keys, rows) of a sweep.csv: the keys are the columns between ``point`` and ``seed``."""
    with Path(path).open(newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        rows = list(reader)
    if not cols or cols[0] != "point" or "seed" not in cols:
        raise ConfigError(f"{path}: not a sweep table (expected columns point, <keys>, seed, metrics)")
    return cols[1 : cols.index("seed")], rows


def _num(s: str) -> float:
    try:
        return float(s)
    except (TypeError, ValueError):
        return math.nan


def _axis_values(rows: list[dict[str, str]], key: str) -> tuple[list[str], bool]:
    vals = []
    for r in rows:
        if r[key] not in vals:
            vals.append(r[key])
    numeric = all(not math.isnan(_num(v)) for v in vals)
    if numeric:
        vals.sort(key=_num)
    return vals, numeric


def _label(key: str) -> str:
    units = {"t_settle": "s", "t_pert": "s", "t_max": "s", "t_min": "s", "rise": "s", "fall": "s", "gap": "s",
             "clock": "s", "v_write": "V", "v_pert": "V", "time_to_accuracy_s": "s", "energy_j": "J", "sim_time_s": "s"}
    last = key.split(".")[-1]
    return f"{key} ({units[last]})" if last in units else key


def plot_sweep(folder: str | Path, metrics: list[str] | None = None) -> list[Path]:
    """Draw the sweep pictures of ``folder`` (which holds sweep.csv); returns the files written."""
    folder = Path(folder)
    keys, rows = read_sweep_csv(folder / "sweep.csv")
    if metrics is None:
        main = "test_accuracy"
        manifest = folder / "sweep.json"
        if manifest.exists():
            try:
                main = json.loads(manifest.read_text()).get("metric", main)
            except ValueError:
                pass
        metrics = [main, "time_to_accuracy_s", "energy_j"]
    # metrics present and with at least one number (time_to_accuracy is empty when no point got there)
    metrics = [m for m in dict.fromkeys(metrics)
               if rows and m in rows[0] and any(not math.isnan(_num(r[m])) for r in rows)]
    out = []
    if not keys or not rows:
        return out
    for m in metrics:
        if len(keys) >= 2:
            out.append(_heatmap(folder, keys[0], keys[1], m, rows))
        else:
            out.append(_lines(folder, keys[0], m, rows))
    return out


def _lines(folder: Path, key: str, metric: str, rows: list[dict[str, str]]) -> Path:
    plt = _plt()
    xs, numeric = _axis_values(rows, key)
    mean, lo, hi = [], [], []
    for x in xs:
        v = np.array([_num(r[metric]) for r in rows if r[key] == x])
        v = v[~np.isnan(v)]
        mean.append(v.mean() if v.size else math.nan)
        lo.append(v.min() if v.size else math.nan)
        hi.append(v.max() if v.size else math.nan)
    scale = 100.0 if metric.endswith("accuracy") else 1.0
    xpos = [_num(x) for x in xs] if numeric else list(range(len(xs)))
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(xpos, np.array(mean) * scale, "o-", label="mean over seeds")
    ax.fill_between(xpos, np.array(lo) * scale, np.array(hi) * scale, alpha=0.2, label="min..max")
    for r in rows:  # every seed as a dot
        ax.plot(_num(r[key]) if numeric else xs.index(r[key]), _num(r[metric]) * scale, ".", color="0.4", ms=4)
    if numeric and len(xpos) > 2 and min(xpos) > 0 and max(xpos) / min(xpos) > 50:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(xpos, xs, rotation=30)
    ax.set_xlabel(_label(key))
    ax.set_ylabel(metric.replace("accuracy", "accuracy (%)") if scale != 1 else _label(metric))
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = _save(fig, folder / f"sweep_{metric}.png")
    plt.close(fig)
    return path


def _heatmap(folder: Path, kx: str, ky: str, metric: str, rows: list[dict[str, str]]) -> Path:
    plt = _plt()
    xs, _ = _axis_values(rows, kx)
    ys, _ = _axis_values(rows, ky)
    grid = np.full((len(ys), len(xs)), math.nan)
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            v = np.array([_num(r[metric]) for r in rows if r[kx] == x and r[ky] == y])
            v = v[~np.isnan(v)]
            if v.size:
                grid[j, i] = v.mean()
    scale = 100.0 if metric.endswith("accuracy") else 1.0
    fig, ax = plt.subplots(figsize=(1.0 * len(xs) + 3, 0.6 * len(ys) + 2.4))
    im = ax.imshow(grid * scale, origin="lower", aspect="auto", cmap="viridis")
    for j in range(len(ys)):
        for i in range(len(xs)):
            if not math.isnan(grid[j, i]):
                ax.text(i, j, f"{grid[j, i] * scale:.3g}", ha="center", va="center", fontsize=8, color="w")
    ax.set_xticks(range(len(xs)), xs, rotation=30)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(_label(kx))
    ax.set_ylabel(_label(ky))
    fig.colorbar(im, ax=ax, label=metric + (" (%)" if scale != 1 else ""))
    fig.tight_layout()
    path = _save(fig, folder / f"sweep_{metric}.png")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------- run folders
def read_history(path: str | Path) -> list[dict[str, float]]:
    """history.csv rows as floats."""
    with Path(path).open(newline="") as fh:
        return [{k: _num(v) for k, v in r.items() if v not in (None, "")} for r in csv.DictReader(fh)]


def read_weights(path: str | Path) -> tuple[list[np.ndarray], list[tuple[np.ndarray, ...]]]:
    """(weights per layer, conductances per layer) from weights.npz."""
    with np.load(path) as z:
        names = set(z.files)
        weights, conds = [], []
        l = 0
        while f"layer{l}" in names:
            weights.append(z[f"layer{l}"])
            gs, k = [], 1
            while f"layer{l}_G{k}" in names:
                gs.append(z[f"layer{l}_G{k}"])
                k += 1
            conds.append(tuple(gs))
            l += 1
    return weights, conds


def read_vcd(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Real-valued signals of a VCD written by :func:`mssim.probe.write_vcd`: ``scope.name -> (t_s, values (n, k))``.

    Vector signals (``out_0``, ``out_1``...) are gathered back into one array.  Times are
    in the file's timescale (mssim writes 1 ps).
    """
    ids: dict[str, tuple[str, str]] = {}
    series: dict[str, tuple[list[float], list[float]]] = {}
    scope: list[str] = []
    scale = 1e-12
    t = 0
    in_defs = True
    with Path(path).open() as fh:
        tokens = fh.read().split()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if in_defs:
            if tok == "$timescale":
                j = tokens.index("$end", i)
                ts = "".join(tokens[i + 1 : j])
                num = "".join(ch for ch in ts if ch.isdigit()) or "1"
                unit = ts[len(num):]
                scale = int(num) * {"s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}.get(unit, 1e-12)
                i = j
            elif tok == "$scope":
                scope.append(tokens[i + 2])
                i += 3
            elif tok == "$upscope":
                scope.pop()
                i += 1
            elif tok == "$var":
                ident, name = tokens[i + 3], tokens[i + 4]
                ids[ident] = (".".join(scope), name)
                series[ident] = ([], [])
                i = tokens.index("$end", i)
            elif tok == "$enddefinitions":
                in_defs = False
                i = tokens.index("$end", i)
            i += 1
            continue
        if tok.startswith("#"):
            t = int(tok[1:])
        elif tok[0] in "rR" and i + 1 < len(tokens) and tokens[i + 1] in series:
            ts_, vs_ = series[tokens[i + 1]]
            ts_.append(t * scale)
            vs_.append(float(tok[1:]))
            i += 1
        i += 1
    # gather name_k into vectors
    groups: dict[str, list[tuple[int, str]]] = {}
    for ident, (sc, name) in ids.items():
        base, _, k = name.rpartition("_")
        if base and k.isdigit():
            groups.setdefault(f"{sc}.{base}", []).append((int(k), ident))
        else:
            groups.setdefault(f"{sc}.{name}", []).append((0, ident))
    out = {}
    for sig, members in groups.items():
        members.sort()
        times = sorted({tt for _, ident in members for tt in series[ident][0]})
        if not times:
            continue
        tarr = np.array(times)
        vals = np.empty((len(times), len(members)))
        for c, (_, ident) in enumerate(members):
            ts_, vs_ = series[ident]
            idx = np.searchsorted(np.array(ts_), tarr, side="right") - 1
            vals[:, c] = np.where(idx >= 0, np.array(vs_ or [math.nan])[np.maximum(idx, 0)], math.nan)
        out[sig] = (tarr, vals)
    return out


def _read(path: Path, reader):
    """``reader(path)``, with any failure on a damaged file turned into one ConfigError naming it."""
    try:
        return reader(path)
    except ConfigError:
        raise
    except Exception as exc:  # csv, numpy and zip raise many kinds on a damaged file
        raise ConfigError(f"{path}: damaged or not written by mssim ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:120]}); rerun the run to rewrite it") from None


def _draw(path: Path, draw, *a):
    """Draw from data read off disk; data a damaged file let through is reported on that file."""
    try:
        return draw(*a)
    except ConfigError:
        raise
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ConfigError(f"{path}: its data cannot be drawn ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:120]}); the file looks damaged") from None


def read_step(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The recorded step of a run folder (``step.npz``): ``name -> (t_seconds, values)``."""
    with np.load(path) as z:
        names = [k[2:] for k in z.files if k.startswith("t:")]
        return {n: (z[f"t:{n}"], z[f"v:{n}"]) for n in names}


def plot_run(folder: str | Path) -> list[Path]:
    """Redraw every picture of a run folder from the folder alone: the learning curve with the
    baselines (history.csv, metrics.json), weight maps and histogram (weights.npz), energy by
    block (metrics.json), update widths (widths.npy) and the recorded step (step.npz, or a
    step.vcd).  Says which it could not draw and why."""
    folder = Path(folder)
    out = []
    name = ""
    metrics: dict = {}
    if (folder / "metrics.json").exists():
        try:
            metrics = json.loads((folder / "metrics.json").read_text())
            name = metrics.get("name", "")
        except ValueError:
            raise ConfigError(f"{folder / 'metrics.json'}: not valid JSON; the run folder is damaged") from None
    if (folder / "history.csv").exists():
        hist = _read(folder / "history.csv", read_history)
        if hist:
            out.append(_draw(folder / "history.csv", plots.learning_curve, hist, folder / "learning_curve.png", name,
                             metrics.get("baselines")))
    if (folder / "weights.npz").exists():
        w, g = _read(folder / "weights.npz", read_weights)
        if w:
            out.append(_draw(folder / "weights.npz", plots.weight_maps, w, g if all(g) else None, folder / "weights.png"))
            out.append(_draw(folder / "weights.npz", plots.weight_histogram, w, folder / "weight_hist.png"))
    if isinstance(metrics.get("energy_breakdown_j"), dict):
        out.append(_draw(folder / "metrics.json", plots.energy_breakdown, metrics["energy_breakdown_j"],
                         folder / "energy.png"))
    if (folder / "widths.npy").exists():
        widths = _read(folder / "widths.npy", np.load)
        out.append(_draw(folder / "widths.npy", plots.width_histogram, widths, folder / "widths.png",
                         metrics.get("t_max_s")))
    sig = None
    if (folder / "step.npz").exists():
        sig = _read(folder / "step.npz", read_step)
        src = folder / "step.npz"
    elif (folder / "step.vcd").exists():
        sig = _read(folder / "step.vcd", read_vcd)
        src = folder / "step.vcd"
    if sig:
        out.append(_draw(src, plots.step_waveforms, sig, folder / "step_waveforms.png"))
    else:
        print(f"{folder}: no recorded step (step.npz or step.vcd): the run recorded none "
              "(output.plots, output.vcd or --vcd record one)", file=sys.stderr)
    return out


def plot_folder(folder: str | Path) -> list[Path]:
    """Redraw whatever ``folder`` is: a sweep folder (sweep.csv) or a run folder."""
    folder = Path(folder)
    if not folder.exists():
        raise ConfigError(f"{folder}: no such folder; give a run or sweep results folder")
    if not folder.is_dir():
        raise ConfigError(f"{folder}: is a file; give the results folder that holds it")
    if (folder / "sweep.csv").exists():
        return _read(folder, plot_sweep)
    if (folder / "metrics.json").exists() or (folder / "history.csv").exists():
        return plot_run(folder)
    raise ConfigError(f"{folder}: neither a run folder (metrics.json, history.csv) nor a sweep folder (sweep.csv)")


def _cmd(args) -> int:
    files = plot_folder(args.folder)
    for f in files:
        print(f)
    if not files:
        print(f"{args.folder}: nothing to draw")
    return 0


def register(subparsers) -> None:
    """Add ``mssim plot``."""
    p = subparsers.add_parser("plot", help="redraw the pictures of a run or sweep results folder",
                              description="Redraw learning curves, weight and conductance maps, histograms and step "
                              "waveforms of a run folder, or the accuracy/time-to-accuracy/energy plots of a sweep "
                              "folder, from the saved files.")
    p.add_argument("folder", help="a run folder (metrics.json, history.csv, weights.npz) or a sweep folder (sweep.csv)")
    p.set_defaults(func=_cmd)
